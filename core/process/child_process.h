#pragma once

#include <sys/types.h>

#include <functional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace socklab {

// Child processes: fork, a pipe back to the parent, and an owner that never lets a child
// outlive it. Every child dies with its parent (PR_SET_PDEATHSIG SIGKILL), so a crashed or
// killed socklab leaves nothing running.

// Owns a forked child process: the destructor sends SIGKILL and reaps it if it still runs, so
// the child cannot outlive its owner. Move-only. Thread affinity: the thread that created it.
class ChildProcess {
 public:
  ChildProcess() = default;
  explicit ChildProcess(pid_t pid) : pid_(pid) {}
  ChildProcess(ChildProcess&& other) noexcept;
  ChildProcess& operator=(ChildProcess&& other) noexcept;
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;
  ~ChildProcess();

  pid_t pid() const { return pid_; }
  bool running() const { return pid_ > 0; }

  // How the child ended.
  struct Exit {
    bool timed_out = false;  // killed by us after the timeout
    int exit_code = -1;      // WEXITSTATUS, or -1 when killed by a signal
    int signal = 0;          // the terminating signal, 0 when it exited
  };
  // Waits up to `timeout` (polling waitpid, so no SIGCHLD handler is needed), then kills.
  Exit Wait(absl::Duration timeout);
  // SIGKILL and reap now (no-op when already reaped).
  void Kill();

 private:
  pid_t pid_ = -1;
};

// What a child wrote to its pipe, and how it ended.
struct CapturedChild {
  std::string output;
  ChildProcess::Exit exit;
};

// Forks; the child runs `in_child(write_fd)` with the write end of a pipe (O_CLOEXEC) and then
// _exits(0) unless `in_child` exits or execs first (it runs in a copy of one thread: only
// async-signal-safe calls are sure to work in a multi-threaded parent). The parent reads the
// pipe until every writer closed it, waits for the child, and kills it once `timeout` passes
// (exit.timed_out). Errors: pipe2 or fork failing. Blocks until the child ends.
absl::StatusOr<CapturedChild> RunForked(const std::function<void(int write_fd)>& in_child,
                                        absl::Duration timeout);

// write(2) all of `data` to `fd`, retrying on EINTR; stops silently on an error (the reader
// sees a short message). Async-signal-safe apart from the string view it takes.
void WriteAll(int fd, std::string_view data);

}  // namespace socklab

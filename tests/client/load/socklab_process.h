#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

#include "core/base/clock.h"

namespace socklab::testing {

// How a SocklabProcess ended.
struct ProcessOutcome {
  int exit_code = -1;  // the exit status; -1 when it did not exit (killed, signalled)
  int signal = 0;      // the signal that ended it, if any
  bool killed_at_deadline = false;
  double wall_s = 0;  // from start to exit
  std::string out;    // stdout
  std::string err;    // stderr
};

// $SOCKLAB_BIN_DIR/socklab ARGS... as a child process with stdout and stderr captured, so a test
// can bound its wall time (a hang is a failure, not a ctest TIMEOUT) and watch the kernel while
// it runs. available() is false when the binary is missing (the test then skips).
// Thread affinity: the test thread.
class SocklabProcess {
 public:
  // `nofile` > 0 sets RLIMIT_NOFILE's soft limit in the child, and its hard limit to
  // `nofile_hard` (0: the same). `before_exec`, when set, is called with the child's pid while
  // the child waits before its exec (to make the kernel watch it from its first syscall).
  explicit SocklabProcess(std::vector<std::string> args, rlim_t nofile = 0, rlim_t nofile_hard = 0,
                          const std::function<void(pid_t)>& before_exec = nullptr) {
    const char* dir = std::getenv("SOCKLAB_BIN_DIR");
    if (dir == nullptr) {
      return;
    }
    const std::string binary = std::string(dir) + "/socklab";
    if (access(binary.c_str(), X_OK) != 0) {
      return;
    }
    args.insert(args.begin(), binary);
    std::vector<char*> argv;
    for (std::string& arg : args) {
      argv.push_back(arg.data());
    }
    argv.push_back(nullptr);
    int out[2];
    int err[2];
    int go[2];
    if (pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0 || pipe2(go, O_CLOEXEC) != 0) {
      return;
    }
    start_ns_ = MonotonicNanos();
    pid_ = fork();
    if (pid_ == 0) {
      // Only async-signal-safe calls between fork and exec.
      dup2(out[1], STDOUT_FILENO);
      dup2(err[1], STDERR_FILENO);
      alarm(170);  // never outlive the test binary's ctest TIMEOUT
      if (nofile > 0) {
        const rlimit limit = {nofile, nofile_hard > 0 ? nofile_hard : nofile};
        if (setrlimit(RLIMIT_NOFILE, &limit) != 0) {
          _exit(126);
        }
      }
      close(go[1]);
      char byte = 0;
      while (read(go[0], &byte, 1) < 0 && errno == EINTR) {
      }
      execv(argv[0], argv.data());
      _exit(127);
    }
    close(out[1]);
    close(err[1]);
    close(go[0]);
    if (before_exec) {
      before_exec(pid_);
    }
    close(go[1]);  // EOF: the child execs
    out_fd_ = out[0];
    err_fd_ = err[0];
  }
  ~SocklabProcess() {
    if (pid_ > 0 && !reaped_) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    CloseIfOpen(&out_fd_);
    CloseIfOpen(&err_fd_);
  }
  SocklabProcess(const SocklabProcess&) = delete;
  SocklabProcess& operator=(const SocklabProcess&) = delete;

  bool available() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }
  void Signal(int sig) const {
    if (pid_ > 0 && !reaped_) {
      kill(pid_, sig);
    }
  }

  // Reads the output until the child exits; SIGKILLs it `deadline_ms` after its start. Calls
  // `every_poll` about every `poll_ms` while it runs (a sampler of the kernel's view).
  ProcessOutcome Wait(int64_t deadline_ms, const std::function<void()>& every_poll = nullptr,
                      int poll_ms = 20) {
    ProcessOutcome outcome;
    const int64_t deadline_ns = start_ns_ + deadline_ms * 1'000'000;
    int status = 0;
    while (!reaped_) {
      if (every_poll) {
        every_poll();
      }
      Drain(poll_ms, &outcome);
      const pid_t done = waitpid(pid_, &status, WNOHANG);
      if (done == pid_) {
        reaped_ = true;
        outcome.wall_s = (MonotonicNanos() - start_ns_) / 1e9;
      } else if (MonotonicNanos() >= deadline_ns) {
        outcome.killed_at_deadline = true;
        kill(pid_, SIGKILL);
        waitpid(pid_, &status, 0);
        reaped_ = true;
        outcome.wall_s = (MonotonicNanos() - start_ns_) / 1e9;
      }
    }
    while (out_fd_ >= 0 || err_fd_ >= 0) {
      Drain(100, &outcome);
    }
    if (WIFEXITED(status)) {
      outcome.exit_code = WEXITSTATUS(status);
    } else if (WIFSIGNALED(status)) {
      outcome.signal = WTERMSIG(status);
    }
    return outcome;
  }

 private:
  static void CloseIfOpen(int* fd) {
    if (*fd >= 0) {
      close(*fd);
      *fd = -1;
    }
  }

  // Reads what the pipes hold, waiting at most `timeout_ms`; closes a pipe at EOF.
  void Drain(int timeout_ms, ProcessOutcome* outcome) {
    pollfd fds[2] = {{out_fd_, POLLIN, 0}, {err_fd_, POLLIN, 0}};
    if (poll(fds, 2, timeout_ms) <= 0) {
      return;
    }
    char buffer[65536];
    for (int i = 0; i < 2; ++i) {
      int* fd = i == 0 ? &out_fd_ : &err_fd_;
      if (*fd < 0 || (fds[i].revents & (POLLIN | POLLHUP | POLLERR)) == 0) {
        continue;
      }
      const ssize_t n = read(*fd, buffer, sizeof(buffer));
      if (n > 0) {
        (i == 0 ? outcome->out : outcome->err).append(buffer, n);
      } else if (n == 0 || errno != EINTR) {
        CloseIfOpen(fd);
      }
    }
  }

  pid_t pid_ = -1;
  bool reaped_ = false;
  int64_t start_ns_ = 0;
  int out_fd_ = -1;
  int err_fd_ = -1;
};

}  // namespace socklab::testing

#include "core/process/child_process.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <string>
#include <utility>

#include "core/base/clock.h"
#include "core/base/status.h"
#include "core/base/unique_fd.h"

namespace socklab {
namespace {

// Reads `fd` until EOF or the deadline; false on timeout.
bool ReadUntilEof(int fd, int64_t deadline_ns, std::string* out) {
  char buf[16384];
  for (;;) {
    int64_t left_ms = (deadline_ns - MonotonicNanos()) / 1'000'000;
    if (left_ms <= 0) {
      return false;
    }
    pollfd pfd{fd, POLLIN, 0};
    int ready = poll(&pfd, 1, static_cast<int>(std::min<int64_t>(left_ms, 1000)));
    if (ready < 0 && errno != EINTR) {
      return true;
    }
    if (ready <= 0) {
      continue;
    }
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) {
      continue;
    }
    if (n <= 0) {
      return true;
    }
    out->append(buf, static_cast<size_t>(n));
  }
}

// Children die with their parent, so a crashed or killed socklab leaves no child (and no
// network namespace of one) behind.
// The getppid check closes the race where the parent died before prctl ran.
void DieWithParent(pid_t parent) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != parent) {
    _exit(111);
  }
}

}  // namespace

void WriteAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      return;
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
}

ChildProcess::ChildProcess(ChildProcess&& other) noexcept : pid_(std::exchange(other.pid_, -1)) {}

ChildProcess& ChildProcess::operator=(ChildProcess&& other) noexcept {
  if (this != &other) {
    Kill();
    pid_ = std::exchange(other.pid_, -1);
  }
  return *this;
}

ChildProcess::~ChildProcess() { Kill(); }

void ChildProcess::Kill() {
  if (pid_ <= 0) {
    return;
  }
  kill(pid_, SIGKILL);
  while (waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
  }
  pid_ = -1;
}

ChildProcess::Exit ChildProcess::Wait(absl::Duration timeout) {
  Exit exit;
  if (pid_ <= 0) {
    return exit;
  }
  const int64_t deadline = MonotonicNanos() + absl::ToInt64Nanoseconds(timeout);
  int64_t sleep_us = 200;
  for (;;) {
    int status = 0;
    pid_t r = waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      pid_ = -1;
      if (WIFEXITED(status)) {
        exit.exit_code = WEXITSTATUS(status);
      } else if (WIFSIGNALED(status)) {
        exit.signal = WTERMSIG(status);
      }
      return exit;
    }
    if (r < 0 && errno != EINTR) {
      pid_ = -1;
      return exit;
    }
    if (MonotonicNanos() >= deadline) {
      Kill();
      exit.timed_out = true;
      exit.signal = SIGKILL;
      return exit;
    }
    usleep(static_cast<useconds_t>(sleep_us));
    sleep_us = std::min<int64_t>(sleep_us * 2, 20'000);
  }
}

absl::StatusOr<CapturedChild> RunForked(const std::function<void(int write_fd)>& in_child,
                                        absl::Duration timeout) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    return ErrnoError(errno, "pipe2");
  }
  UniqueFd read_end(fds[0]);
  UniqueFd write_end(fds[1]);
  const pid_t parent = getpid();
  fflush(nullptr);  // the child must not flush the parent's buffered output a second time
  pid_t pid = fork();
  if (pid < 0) {
    return ErrnoError(errno, "fork");
  }
  if (pid == 0) {
    DieWithParent(parent);
    read_end.Reset();
    in_child(write_end.get());
    write_end.Reset();
    _exit(0);
  }
  ChildProcess child(pid);
  write_end.Reset();
  const int64_t deadline = MonotonicNanos() + absl::ToInt64Nanoseconds(timeout);
  CapturedChild result;
  if (!ReadUntilEof(read_end.get(), deadline, &result.output)) {
    child.Kill();
    result.exit.timed_out = true;
    result.exit.signal = SIGKILL;
    return result;
  }
  // Every writer closed the pipe; the child is exiting or already has.
  result.exit = child.Wait(absl::Nanoseconds(std::max<int64_t>(deadline - MonotonicNanos(), 0)) +
                           absl::Seconds(2));
  return result;
}

}  // namespace socklab

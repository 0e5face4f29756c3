#include "core/net/netns.h"

#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "core/base/clock.h"
#include "core/base/status.h"
#include "core/base/unique_fd.h"

namespace socklab {
namespace {

// The inode of the namespace this process created with unshare (0: none). Set only in the
// forked child, which is single-threaded.
ino_t private_netns_ino = 0;

// The first byte of a child's report says whether the body ran ('O') or the namespace could not
// be set up ('E' followed by the errno and the failing step).
constexpr char kBodyRan = 'O';
constexpr char kSetupFailed = 'E';

void WriteAll(int fd, absl::string_view data) {
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

// Children die with their parent, so a crashed or killed socklab leaves no namespace behind.
// The getppid check closes the race where the parent died before prctl ran.
void DieWithParent(pid_t parent) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != parent) {
    _exit(111);
  }
}

absl::Status InterfaceIoctl(unsigned long request, ifreq* ifr, absl::string_view what) {
  UniqueFd fd(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) {
    return ErrnoError(errno, absl::StrCat(what, ": socket"));
  }
  if (ioctl(fd.get(), request, ifr) != 0) {
    return ErrnoError(errno, what);
  }
  return absl::OkStatus();
}

// PATH first, as a shell would; then the sbin directories, because Debian keeps nft, ip and tc in
// /usr/sbin, which a non-login shell's PATH (and ctest's environment) may lack.
std::string FindProgram(const std::string& name) {
  if (name.find('/') != std::string::npos) {
    return name;
  }
  std::vector<std::string> dirs;
  if (const char* path = getenv("PATH"); path != nullptr) {
    for (absl::string_view dir : absl::StrSplit(path, ':', absl::SkipEmpty())) {
      dirs.emplace_back(dir);
    }
  }
  for (const char* dir : {"/usr/sbin", "/sbin"}) {
    dirs.emplace_back(dir);
  }
  for (const std::string& dir : dirs) {
    std::string path = absl::StrCat(dir, "/", name);
    if (access(path.c_str(), X_OK) == 0) {
      return path;
    }
  }
  return name;
}

// dup2 that also works when `from` already is `to`: dup2 is then a no-op and would leave
// FD_CLOEXEC set, so the program would start without that descriptor.
void MoveFdTo(int from, int to) {
  if (from == to) {
    fcntl(to, F_SETFD, 0);
  } else {
    dup2(from, to);
  }
}

}  // namespace

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

absl::StatusOr<ChildOutput> RunInChild(const ChildOptions& options,
                                       const std::function<std::string()>& body) {
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
    if (options.new_netns) {
      if (unshare(CLONE_NEWNET) != 0) {
        int err = errno;
        WriteAll(write_end.get(),
                 absl::StrCat(std::string(1, kSetupFailed), err, " unshare(CLONE_NEWNET)"));
        _exit(3);
      }
      struct stat ns {};
      if (stat("/proc/self/ns/net", &ns) == 0) {
        private_netns_ino = ns.st_ino;
      }
      if (absl::Status up = BringLoopbackUp(); !up.ok()) {
        WriteAll(write_end.get(), absl::StrCat(std::string(1, kSetupFailed),
                                               ErrnoOf(up).value_or(0), " ", up.message()));
        _exit(3);
      }
    }
    std::string output = body();
    WriteAll(write_end.get(), std::string(1, kBodyRan));
    WriteAll(write_end.get(), output);
    write_end.Reset();
    _exit(0);
  }
  ChildProcess child(pid);
  write_end.Reset();
  const int64_t deadline = MonotonicNanos() + absl::ToInt64Nanoseconds(options.timeout);
  std::string raw;
  bool complete = ReadUntilEof(read_end.get(), deadline, &raw);
  ChildOutput result;
  if (!complete) {
    child.Kill();
    result.exit.timed_out = true;
    result.exit.signal = SIGKILL;
  } else {
    result.exit = child.Wait(absl::Nanoseconds(std::max<int64_t>(deadline - MonotonicNanos(), 0)) +
                             absl::Seconds(1));
  }
  if (!raw.empty() && raw[0] == kSetupFailed) {
    std::string text = raw.substr(1);
    int err = atoi(text.c_str());
    std::string what =
        text.substr(text.find(' ') == std::string::npos ? text.size() : text.find(' ') + 1);
    return ErrnoError(err == 0 ? EPERM : err, absl::StrCat("network namespace: ", what),
                      "run as root (CAP_SYS_ADMIN and CAP_NET_ADMIN) outside a seccomp profile "
                      "that forbids unshare");
  }
  if (!raw.empty() && raw[0] == kBodyRan) {
    result.output = raw.substr(1);
  }
  return result;
}

absl::Status CheckNetnsAvailable() {
  absl::StatusOr<ChildOutput> out =
      RunInChild({.new_netns = true, .timeout = absl::Seconds(10)}, [] { return std::string(); });
  if (!out.ok()) {
    return out.status();
  }
  if (out->exit.exit_code != 0) {
    return absl::InternalError("network namespace probe: the child did not finish");
  }
  return absl::OkStatus();
}

absl::Status BringLoopbackUp() {
  ifreq ifr{};
  std::strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
  if (absl::Status s = InterfaceIoctl(SIOCGIFFLAGS, &ifr, "SIOCGIFFLAGS lo"); !s.ok()) {
    return s;
  }
  ifr.ifr_flags = static_cast<short>(ifr.ifr_flags | IFF_UP | IFF_RUNNING);
  return InterfaceIoctl(SIOCSIFFLAGS, &ifr, "SIOCSIFFLAGS lo up");
}

absl::Status SetLoopbackMtu(int mtu) {
  ifreq ifr{};
  std::strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
  ifr.ifr_mtu = mtu;
  return InterfaceIoctl(SIOCSIFMTU, &ifr, absl::StrCat("SIOCSIFMTU lo ", mtu));
}

bool InPrivateNetns() {
  struct stat self {};
  if (private_netns_ino == 0 || stat("/proc/self/ns/net", &self) != 0) {
    return false;
  }
  return self.st_ino == private_netns_ino;
}

absl::Status WriteNetnsSysctl(absl::string_view name, absl::string_view value) {
  if (!InPrivateNetns()) {
    return absl::FailedPreconditionError(
        absl::StrCat("refusing to write ", name, " outside a private network namespace"));
  }
  std::string path = absl::StrCat("/proc/sys/", absl::StrReplaceAll(name, {{".", "/"}}));
  UniqueFd fd(open(path.c_str(), O_WRONLY | O_CLOEXEC));
  if (!fd.valid()) {
    return ErrnoError(errno, absl::StrCat("open ", path));
  }
  std::string text = absl::StrCat(value, "\n");
  if (write(fd.get(), text.data(), text.size()) != static_cast<ssize_t>(text.size())) {
    return ErrnoError(errno, absl::StrCat("write ", value, " to ", path));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> RunTool(const std::vector<std::string>& args, absl::Duration timeout) {
  if (args.empty()) {
    return absl::InvalidArgumentError("RunTool: no program");
  }
  std::string program = FindProgram(args[0]);
  std::vector<char*> argv;
  for (const std::string& arg : args) {
    argv.push_back(const_cast<char*>(arg.c_str()));
  }
  argv.push_back(nullptr);
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    return ErrnoError(errno, "pipe2");
  }
  UniqueFd read_end(fds[0]);
  UniqueFd write_end(fds[1]);
  const pid_t parent = getpid();
  fflush(nullptr);
  pid_t pid = fork();
  if (pid < 0) {
    return ErrnoError(errno, "fork");
  }
  if (pid == 0) {
    DieWithParent(parent);
    // Every descriptor here is O_CLOEXEC; only 0, 1 and 2 (cleared by MoveFdTo) reach the
    // program.
    int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (devnull >= 0) {
      MoveFdTo(devnull, 0);
    }
    MoveFdTo(write_end.get(), 1);
    MoveFdTo(write_end.get(), 2);
    execv(program.c_str(), argv.data());
    _exit(127);
  }
  ChildProcess child(pid);
  write_end.Reset();
  const int64_t deadline = MonotonicNanos() + absl::ToInt64Nanoseconds(timeout);
  std::string output;
  bool complete = ReadUntilEof(read_end.get(), deadline, &output);
  ChildProcess::Exit exit;
  if (complete) {
    exit = child.Wait(absl::Seconds(2));
  } else {
    child.Kill();
    exit.timed_out = true;
  }
  std::string command = absl::StrJoin(args, " ");
  if (exit.timed_out) {
    return absl::DeadlineExceededError(
        absl::StrCat(command, ": no answer within ", absl::FormatDuration(timeout)));
  }
  if (exit.exit_code == 127) {
    return absl::NotFoundError(absl::StrCat(command, ": ", program,
                                            " not found; install it (apt-get install nftables "
                                            "iproute2)"));
  }
  if (exit.exit_code != 0) {
    return absl::InternalError(absl::StrCat(command, ": exit ", exit.exit_code, ": ", output));
  }
  return output;
}

}  // namespace socklab

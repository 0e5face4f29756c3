#include "core/net/netns.h"

#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "core/base/status.h"
#include "core/base/unique_fd.h"
#include "core/process/child_process.h"

namespace socklab {
namespace {

// The inode of the namespace this process created with unshare (0: none). Set only in the
// forked child, which is single-threaded.
ino_t private_netns_ino = 0;

// The first byte of a child's report says whether the body ran ('O') or the namespace could not
// be set up ('E' followed by the errno and the failing step).
constexpr char kBodyRan = 'O';
constexpr char kSetupFailed = 'E';

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

}  // namespace

absl::StatusOr<ChildOutput> RunInChild(const ChildOptions& options,
                                       const std::function<std::string()>& body) {
  absl::StatusOr<CapturedChild> ran = RunForked(
      [&](int write_fd) {
        if (options.new_netns) {
          if (unshare(CLONE_NEWNET) != 0) {
            int err = errno;
            WriteAll(write_fd,
                     absl::StrCat(std::string(1, kSetupFailed), err, " unshare(CLONE_NEWNET)"));
            _exit(3);
          }
          struct stat ns {};
          if (stat("/proc/self/ns/net", &ns) == 0) {
            private_netns_ino = ns.st_ino;
          }
          if (absl::Status up = BringLoopbackUp(); !up.ok()) {
            WriteAll(write_fd, absl::StrCat(std::string(1, kSetupFailed), ErrnoOf(up).value_or(0),
                                            " ", up.message()));
            _exit(3);
          }
        }
        std::string output = body();
        WriteAll(write_fd, std::string(1, kBodyRan));
        WriteAll(write_fd, output);
      },
      options.timeout);
  if (!ran.ok()) {
    return ran.status();
  }
  const std::string& raw = ran->output;
  ChildOutput result;
  result.exit = ran->exit;
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

}  // namespace socklab

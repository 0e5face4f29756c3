#include "server/listener_takeover.h"

#include <dirent.h>
#include <errno.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "core/base/clock.h"
#include "core/base/status.h"
#include "core/tcpstat/reader.h"

namespace socklab::server {
namespace {

// The inodes of the sockets listening on `port` in this network namespace (/proc/net/tcp{,6},
// which needs no privilege).
absl::flat_hash_set<uint64_t> ListenerInodes(uint16_t port) {
  tcpstat::Filter filter;
  filter.local = tcpstat::Endpoint{.port = port};
  filter.states = tcpstat::TcpStateSet::Of({tcpstat::TcpState::kListen});
  absl::flat_hash_set<uint64_t> inodes;
  absl::StatusOr<std::vector<tcpstat::TcpSocket>> sockets = tcpstat::ReadTcpSockets(filter);
  if (sockets.ok()) {
    for (const tcpstat::TcpSocket& socket : *sockets) {
      inodes.insert(socket.inode);
    }
  }
  return inodes;
}

// Whether any process has an fd on one of `inodes` ("socket:[INODE]" links in /proc/PID/fd).
bool AnyProcessHolds(const absl::flat_hash_set<uint64_t>& inodes) {
  DIR* proc = opendir("/proc");
  if (proc == nullptr) {
    return true;  // cannot tell: treat the port as really in use
  }
  bool held = false;
  while (dirent* process = readdir(proc)) {
    uint32_t pid = 0;
    if (held || !absl::SimpleAtoi(process->d_name, &pid)) {
      continue;
    }
    std::string fd_dir = absl::StrCat("/proc/", pid, "/fd");
    DIR* fds = opendir(fd_dir.c_str());
    if (fds == nullptr) {
      continue;  // exited meanwhile, or not ours to look into
    }
    while (dirent* fd = readdir(fds)) {
      char target[64];
      std::string link = absl::StrCat(fd_dir, "/", fd->d_name);
      ssize_t n = readlink(link.c_str(), target, sizeof(target));
      if (n <= 0) {
        continue;
      }
      absl::string_view text(target, static_cast<size_t>(n));
      uint64_t inode = 0;
      if (absl::ConsumePrefix(&text, "socket:[") && absl::ConsumeSuffix(&text, "]") &&
          absl::SimpleAtoi(text, &inode) && inodes.contains(inode)) {
        held = true;
        break;
      }
    }
    closedir(fds);
  }
  closedir(proc);
  return held;
}

}  // namespace

absl::StatusOr<UniqueFd> ListenAfterDeadOwner(const ListenOptions& options,
                                              absl::Duration patience) {
  int64_t give_up_ns = MonotonicNanos() + absl::ToInt64Nanoseconds(patience);
  bool rebound_without_listener = false;
  while (true) {
    absl::StatusOr<UniqueFd> fd = ListenTcp(options);
    if (fd.ok() || ErrnoOf(fd.status()) != EADDRINUSE || options.address.port() == 0 ||
        MonotonicNanos() >= give_up_ns) {
      return fd;
    }
    absl::flat_hash_set<uint64_t> inodes = ListenerInodes(options.address.port());
    if (inodes.empty()) {
      // The old listener may have gone between the bind and the look: bind once more at once.
      // Failing again, the port is held by a socket that is not listening (bound, connected).
      if (rebound_without_listener) {
        return fd;
      }
      rebound_without_listener = true;
      continue;
    }
    if (inodes.contains(0) || AnyProcessHolds(inodes)) {
      return fd;  // a live owner: the port is in use
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

}  // namespace socklab::server

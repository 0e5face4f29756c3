#pragma once

// The kernel's view of the server's sockets, for tests whose witness must be something the server
// did not compute: netlink sock_diag (what `ss` reads) and /proc.

#include <dirent.h>
#include <sys/socket.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/net/address.h"
#include "core/tcpstat/reader.h"

namespace socklab::server::testing {

// The server's end of the connection from `peer` (the client socket's own address) to
// `server`, as netlink reports it; nullopt once the kernel has no such socket.
inline std::optional<tcpstat::TcpSocket> ServerEndOf(const SocketAddress& server,
                                                     const SocketAddress& peer) {
  tcpstat::Filter filter;
  filter.local = *tcpstat::Endpoint::Parse(server.ToString());
  filter.remote = *tcpstat::Endpoint::Parse(peer.ToString());
  absl::StatusOr<std::vector<tcpstat::TcpSocket>> sockets =
      tcpstat::ReadTcpSockets(filter, tcpstat::Source::kNetlink);
  if (!sockets.ok() || sockets->empty()) {
    return std::nullopt;
  }
  return sockets->front();
}

// Every socket whose local port is `port` (the server's listeners and accepted connections, not
// the clients'), from netlink.
inline std::vector<tcpstat::TcpSocket> ServerSocketsOnPort(uint16_t port) {
  tcpstat::Filter filter;
  filter.local = tcpstat::Endpoint{.port = port};
  absl::StatusOr<std::vector<tcpstat::TcpSocket>> sockets =
      tcpstat::ReadTcpSockets(filter, tcpstat::Source::kNetlink);
  return sockets.ok() ? *sockets : std::vector<tcpstat::TcpSocket>{};
}

// The accept queue length of the listener on `port`, from netlink; -1 when nothing listens there.
inline int64_t ListenerQueue(uint16_t port) {
  for (const tcpstat::TcpSocket& s : ServerSocketsOnPort(port)) {
    if (s.state == tcpstat::TcpState::kListen) {
      return s.rx_queue;
    }
  }
  return -1;
}

// The server's accepted socket for the connection from `peer`, found among this process's own
// fds (servers started in-process): -1 if none. Not owned; for getsockopt checks of what the
// server applied.
inline int ServerFdInThisProcess(const SocketAddress& server, const SocketAddress& peer) {
  for (int fd = 0; fd < 65536; ++fd) {
    absl::StatusOr<SocketAddress> local = LocalAddressOf(fd);
    if (!local.ok() || *local != server) {
      continue;
    }
    absl::StatusOr<SocketAddress> remote = PeerAddressOf(fd);
    if (remote.ok() && *remote == peer) {
      return fd;
    }
  }
  return -1;
}

// The number of open fds of a process (/proc/PID/fd), -1 if unreadable.
inline int OpenFdCount(const std::string& pid = "self") {
  DIR* dir = opendir(("/proc/" + pid + "/fd").c_str());
  if (dir == nullptr) {
    return -1;
  }
  int count = 0;
  while (dirent* entry = readdir(dir)) {
    if (entry->d_name[0] != '.') {
      ++count;
    }
  }
  closedir(dir);
  return pid == "self" ? count - 1 : count;  // less the fd this walk itself holds
}

}  // namespace socklab::server::testing

#pragma once

#include <cstddef>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "core/tcpstat/tcp_socket.h"
#include "core/tcpstat/tcp_state.h"

namespace socklab::tcpstat {

// What one netlink dump received.
struct NetlinkDumpStats {
  size_t sockets = 0;
  size_t bytes = 0;
};

// Dumps the TCP sockets of `family` (AF_INET or AF_INET6) in `states` through NETLINK_SOCK_DIAG
// (SOCK_DIAG_BY_FAMILY with inet_diag_req_v2, as `ss` does); the kernel applies the state mask
// (asking for SYN_RECV also brings request sockets, which it reports as SYN_RECV). Calls
// `on_socket` once per socket; the reference is valid only during the call. Errors are
// ErrnoErrors naming the netlink step. Thread affinity: none; opens and closes its own socket.
absl::StatusOr<NetlinkDumpStats> DumpTcpSocketsNetlink(
    int family, TcpStateSet states, absl::FunctionRef<void(const TcpSocket&)> on_socket);

}  // namespace socklab::tcpstat

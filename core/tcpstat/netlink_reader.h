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

// What to ask the kernel for.
struct NetlinkQuery {
  int family = AF_INET;  // AF_INET or AF_INET6
  // Applied in the kernel through idiag_states (asking for SYN_RECV also brings request
  // sockets, which the kernel reports as SYN_RECV).
  TcpStateSet states = TcpStateSet::All();
  // Local or remote port, applied in the kernel by an INET_DIAG_REQ_BYTECODE program
  // ("sport == P || dport == P", the ops `ss '( sport = :P or dport = :P )'` sends; S_EQ/D_EQ
  // exist since Linux 4.16). 0 = any port.
  uint16_t port = 0;
};

// Dumps the TCP sockets matching `query` through NETLINK_SOCK_DIAG (SOCK_DIAG_BY_FAMILY with
// inet_diag_req_v2, as `ss` does). Calls `on_socket` once per socket; the reference is valid
// only during the call. Errors are ErrnoErrors naming the netlink step. Thread affinity: none;
// opens and closes its own socket.
absl::StatusOr<NetlinkDumpStats> DumpTcpSocketsNetlink(
    const NetlinkQuery& query, absl::FunctionRef<void(const TcpSocket&)> on_socket);

}  // namespace socklab::tcpstat

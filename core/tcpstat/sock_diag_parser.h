#pragma once

#include <cstddef>

#include "absl/functional/function_ref.h"
#include "core/tcpstat/tcp_socket.h"

namespace socklab::tcpstat {

// What one receive buffer of a SOCK_DIAG_BY_FAMILY dump held.
struct SockDiagParseResult {
  size_t sockets = 0;  // records passed to the callback
  bool done = false;   // NLMSG_DONE seen: the dump is complete
  int error = 0;       // errno of an NLMSG_ERROR message (EPROTO for one cut short); 0 for none
};

// Parses the netlink messages of one buffer the kernel returned for a SOCK_DIAG_BY_FAMILY dump
// (inet_diag_msg records), in order, up to NLMSG_DONE or NLMSG_ERROR. Pure: no I/O. Never reads
// past `size`, whatever the length fields say: a message whose length is shorter than its header
// or longer than what is left ends the buffer; a message of another type, shorter than an
// inet_diag_msg, or with a family or state the project does not know is skipped. `data` must be
// aligned to 4 bytes (NLMSG_ALIGNTO), as a receive buffer is. Calls `on_socket` once per record;
// the reference is valid only during the call. Thread affinity: none.
SockDiagParseResult ParseSockDiagMessages(const void* data, size_t size,
                                          absl::FunctionRef<void(const TcpSocket&)> on_socket);

}  // namespace socklab::tcpstat

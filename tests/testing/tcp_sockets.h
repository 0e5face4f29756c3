#pragma once

#include "core/net/address.h"
#include "core/tcpstat/tcp_socket.h"
#include "core/tcpstat/tcp_state.h"

namespace socklab::testing {

// A socket-table record as the readers would give it, for tests of what consumes records
// (filters, tallies, renderers): "127.0.0.1:7007", "[::1]:40000". Addresses must parse.
inline tcpstat::TcpSocket MakeTcpSocket(const char* local, const char* remote,
                                        tcpstat::TcpState state) {
  tcpstat::TcpSocket socket;
  socket.local = *SocketAddress::Parse(local);
  socket.remote = *SocketAddress::Parse(remote);
  socket.family = socket.local.family();
  socket.state = state;
  return socket;
}

}  // namespace socklab::testing

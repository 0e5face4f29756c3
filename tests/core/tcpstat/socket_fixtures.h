#pragma once

// Real kernel sockets in known TCP states on loopback, for the tcpstat and states tests.
// Thread affinity: the test's thread. Every fixture owns its fds.

#include <sys/socket.h>

#include <cstdint>
#include <vector>

#include "core/base/unique_fd.h"
#include "core/net/address.h"

namespace socklab::tcpstat::testing {

struct Pair {
  UniqueFd client;
  UniqueFd server;
  uint16_t client_port = 0;
};

// A listener on the loopback of `family` (port 0) with `backlog`.
UniqueFd Listen(int family, int backlog = 128);
// A listener on [::ffff:127.0.0.1] that takes IPv4 clients as IPv4-mapped IPv6 sockets.
UniqueFd ListenMapped(int backlog = 128);
uint16_t PortOf(int fd);

// A connected pair through `listener` (the server side accept()ed). `rcvbuf` > 0 shrinks the
// client's receive buffer before connect.
Pair Connect(int listener, const SocketAddress& to, int rcvbuf = 0);

// Writes until the socket (made non-blocking) would block: the peer's window is zero and our
// send buffer is full. Bounded at 64 MiB.
void FillUntilBlocked(int fd);

// Drives a pair into states: client closes first.
//   TIME_WAIT on the client: client close(), server reads EOF and close()s.
void MakeTimeWait(Pair pair);
//   FIN_WAIT2 (client) / CLOSE_WAIT (server): client shutdown(SHUT_WR), server keeps its fd.
void MakeCloseWait(Pair& pair);

}  // namespace socklab::tcpstat::testing

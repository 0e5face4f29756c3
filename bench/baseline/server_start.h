// What the baseline echo servers share: their command line, their signals and their listener on
// loopback. No socklab code.
//
//   NAME PORT      (listens on 127.0.0.1:PORT; PORT 0 picks one)
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

namespace baseline {

inline volatile sig_atomic_t stop = 0;  // set by SIGTERM or SIGINT

// Checks the arguments, routes SIGTERM/SIGINT to `stop` (without SA_RESTART, so a blocking wait
// returns EINTR) and ignores SIGPIPE, then returns a listening socket (of `type`, e.g.
// SOCK_STREAM | SOCK_NONBLOCK) on 127.0.0.1:PORT, its port in `*port`. Exits on failure.
inline int StartServer(int argc, char** argv, int type, uint16_t* port) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s PORT\n", argv[0]);
    std::exit(2);
  }
  struct sigaction on_stop {};
  on_stop.sa_handler = [](int) { stop = 1; };
  sigaction(SIGTERM, &on_stop, nullptr);
  sigaction(SIGINT, &on_stop, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  int listener = socket(AF_INET, type, 0);
  int one = 1;
  setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(std::atoi(argv[1])));
  if (bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      listen(listener, 4096) != 0) {
    std::perror("bind/listen");
    std::exit(1);
  }
  socklen_t len = sizeof addr;
  getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len);
  *port = ntohs(addr.sin_port);
  return listener;
}

}  // namespace baseline

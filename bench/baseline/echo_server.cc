// The simplest fast echo server, as a yardstick for socklab-server (bench/e2e/compare_baseline.py):
// one thread, level-triggered epoll, one recv and one send per readiness, bytes a send could not
// take kept per connection until EPOLLOUT. No socklab code.
//
//   baseline_echo_server PORT      (listens on 127.0.0.1:PORT; PORT 0 picks one)
// Prints "listening 127.0.0.1:PORT" once, then serves until SIGTERM/SIGINT.

#include <fcntl.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <vector>

#include "server_start.h"

namespace {

constexpr int kBufferBytes = 64 * 1024;

struct Connection {
  std::vector<char> unsent;  // echo bytes the socket's send buffer did not take yet
};

}  // namespace

int main(int argc, char** argv) {
  uint16_t port;
  int listener = baseline::StartServer(argc, argv, SOCK_STREAM | SOCK_NONBLOCK, &port);
  std::printf("listening 127.0.0.1:%d\n", port);
  std::fflush(stdout);
  int one = 1;

  int ep = epoll_create1(0);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = listener;
  epoll_ctl(ep, EPOLL_CTL_ADD, listener, &ev);

  std::vector<Connection> connections;
  std::vector<epoll_event> events(1024);
  static char buffer[kBufferBytes];
  while (!baseline::stop) {
    int n = epoll_wait(ep, events.data(), static_cast<int>(events.size()), 100);
    for (int i = 0; i < n; ++i) {
      int fd = events[i].data.fd;
      if (fd == listener) {
        int client = accept4(listener, nullptr, nullptr, SOCK_NONBLOCK);
        if (client < 0) continue;
        setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (static_cast<size_t>(client) >= connections.size()) connections.resize(client + 1);
        connections[client].unsent.clear();
        epoll_event cev{};
        cev.events = EPOLLIN;
        cev.data.fd = client;
        epoll_ctl(ep, EPOLL_CTL_ADD, client, &cev);
        continue;
      }
      Connection& c = connections[fd];
      if (!c.unsent.empty()) {  // EPOLLOUT: finish the echo before reading more
        ssize_t sent = send(fd, c.unsent.data(), c.unsent.size(), MSG_NOSIGNAL);
        if (sent < 0 && errno != EAGAIN) {
          close(fd);
          continue;
        }
        if (sent > 0) c.unsent.erase(c.unsent.begin(), c.unsent.begin() + sent);
        if (c.unsent.empty()) {
          epoll_event cev{};
          cev.events = EPOLLIN;
          cev.data.fd = fd;
          epoll_ctl(ep, EPOLL_CTL_MOD, fd, &cev);
        }
        continue;
      }
      ssize_t got = recv(fd, buffer, sizeof buffer, 0);
      if (got <= 0) {
        if (got < 0 && errno == EAGAIN) continue;
        close(fd);  // EOF or error; close() also removes it from the epoll set
        continue;
      }
      ssize_t sent = send(fd, buffer, got, MSG_NOSIGNAL);
      if (sent < 0) {
        if (errno != EAGAIN) {
          close(fd);
          continue;
        }
        sent = 0;
      }
      if (sent < got) {
        c.unsent.assign(buffer + sent, buffer + got);
        epoll_event cev{};
        cev.events = EPOLLOUT;
        cev.data.fd = fd;
        epoll_ctl(ep, EPOLL_CTL_MOD, fd, &cev);
      }
    }
  }
  return 0;
}

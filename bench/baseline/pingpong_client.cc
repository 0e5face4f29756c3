// The simplest fast ping-pong client, as a yardstick for `socklab load`
// (bench/e2e/compare_baseline.py): one thread, level-triggered epoll, closed loop: each
// connection sends one message, reads its echo whole, checks it byte for byte, records the round
// trip, sends the next. Command line, churn and output: pingpong_common.h. No socklab code.
//
//   baseline_pingpong_client PORT CONNECTIONS SIZE SECONDS WARMUP_SECONDS [--churn]

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <vector>

#include "pingpong_common.h"

namespace {

struct Slot {
  int fd = -1;
  bool connecting = false;
  size_t sent = 0;      // bytes of the current message written
  size_t received = 0;  // bytes of its echo read
  int64_t started_ns = 0;
};

}  // namespace

int main(int argc, char** argv) {
  using baseline::NowNs;
  const baseline::PingPongRun run = baseline::PingPongRun::FromArgs(argc, argv);
  const size_t size = run.size;
  const bool churn = run.churn;
  const std::vector<char>& message = run.message;
  std::vector<char> echo(size);
  std::vector<Slot> slots(run.connections);
  baseline::PingPongTally tally;
  int ep = epoll_create1(0);
  int one = 1;
  uint32_t next_source = 0;

  auto watch = [&](int index, uint32_t events, int op) {
    epoll_event ev{};
    ev.events = events;
    ev.data.u32 = static_cast<uint32_t>(index);
    epoll_ctl(ep, op, slots[index].fd, &ev);
  };
  auto open_slot = [&](int index) {
    Slot& s = slots[index];
    s.fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    setsockopt(s.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (churn) {
      sockaddr_in source = baseline::PingPongRun::ChurnSource(&next_source);
      // The port is chosen at connect, against the whole 4-tuple, not at bind.
      setsockopt(s.fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
      if (bind(s.fd, reinterpret_cast<sockaddr*>(&source), sizeof source) != 0) ++tally.errors;
    }
    s.sent = s.received = 0;
    s.started_ns = NowNs();  // churn: the round trip includes the connect
    s.connecting =
        connect(s.fd, reinterpret_cast<const sockaddr*>(&run.server), sizeof run.server) != 0;
    if (s.connecting && errno != EINPROGRESS) {
      ++tally.errors;
    }
    watch(index, EPOLLOUT, EPOLL_CTL_ADD);
  };
  auto send_some = [&](int index) {
    Slot& s = slots[index];
    ssize_t n = send(s.fd, message.data() + s.sent, size - s.sent, MSG_NOSIGNAL);
    if (n > 0) s.sent += static_cast<size_t>(n);
    watch(index, s.sent == size ? EPOLLIN : EPOLLOUT, EPOLL_CTL_MOD);
  };

  for (int i = 0; i < run.connections; ++i) open_slot(i);
  std::vector<epoll_event> events(1024);
  while (NowNs() < run.window_end_ns) {
    int n = epoll_wait(ep, events.data(), static_cast<int>(events.size()), 10);
    for (int e = 0; e < n; ++e) {
      const int index = static_cast<int>(events[e].data.u32);
      Slot& s = slots[index];
      if (s.connecting) {
        s.connecting = false;
        if (!churn) s.started_ns = NowNs();
        send_some(index);
        continue;
      }
      if (s.sent < size) {
        send_some(index);
        continue;
      }
      ssize_t got = recv(s.fd, echo.data() + s.received, size - s.received, 0);
      if (got <= 0) {
        if (got < 0 && errno == EAGAIN) continue;
        ++tally.errors;  // the echo server never closes first: an EOF or error is a failure
        close(s.fd);
        open_slot(index);
        continue;
      }
      if (std::memcmp(echo.data() + s.received, message.data() + s.received,
                      static_cast<size_t>(got)) != 0) {
        ++tally.mismatches;
      }
      s.received += static_cast<size_t>(got);
      if (s.received < size) continue;
      const int64_t now = NowNs();
      tally.RoundTrip(run, s.started_ns, now);
      if (churn) {
        close(s.fd);
        open_slot(index);
      } else {
        s.sent = s.received = 0;
        s.started_ns = now;
        send_some(index);
      }
    }
  }
  tally.Print(run);
  return 0;
}

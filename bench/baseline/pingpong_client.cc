// The simplest fast ping-pong client, as a yardstick for `socklab load`
// (bench/e2e/compare_baseline.py): one thread, level-triggered epoll, closed loop: each
// connection sends one message, reads its echo whole, checks it byte for byte, records the round
// trip, sends the next.
// With --churn each connection carries one message, then closes and a new one connects, from the
// next of kChurnSources local addresses: the TIME_WAIT each close leaves holds its 4-tuple for a
// second or more, and from one address the port range runs out at about 14,000 connections/s,
// a limit of the machine rather than of the client. No socklab code.
//
//   baseline_pingpong_client PORT CONNECTIONS SIZE SECONDS WARMUP_SECONDS [--churn]
// Prints one JSON line: messages, connections, errors, echoes that differed from the message
// (mismatches, over the whole run) and round-trip percentiles over the SECONDS after the warm-up.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

namespace {

constexpr int64_t kBucketNs = 1000;      // 1 us buckets
constexpr int64_t kBuckets = 1'000'000;  // up to 1 s; slower round trips land in the last one
constexpr uint32_t kChurnSources = 32;   // --churn connects from 127.0.0.2 to 127.0.0.33

int64_t NowNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1'000'000'000LL + ts.tv_nsec;
}

struct Slot {
  int fd = -1;
  bool connecting = false;
  size_t sent = 0;      // bytes of the current message written
  size_t received = 0;  // bytes of its echo read
  int64_t started_ns = 0;
};

}  // namespace

int main(int argc, char** argv) {
  if (argc < 6) {
    std::fprintf(stderr, "usage: %s PORT CONNECTIONS SIZE SECONDS WARMUP_SECONDS [--churn]\n",
                 argv[0]);
    return 2;
  }
  const int port = std::atoi(argv[1]);
  const int count = std::atoi(argv[2]);
  const size_t size = static_cast<size_t>(std::atol(argv[3]));
  const double seconds = std::atof(argv[4]);
  const double warmup = std::atof(argv[5]);
  const bool churn = argc > 6 && std::strcmp(argv[6], "--churn") == 0;
  std::signal(SIGPIPE, SIG_IGN);

  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  std::vector<char> message(size);
  uint32_t lcg = 12345;  // bytes with no short period, so a shifted or repeated echo differs
  for (char& byte : message) {
    lcg = lcg * 1664525u + 1013904223u;
    byte = static_cast<char>(lcg >> 24);
  }
  std::vector<char> echo(size);
  std::vector<uint32_t> histogram(kBuckets);
  std::vector<Slot> slots(count);
  int ep = epoll_create1(0);
  int one = 1;
  uint64_t messages = 0, connections = 0, errors = 0, mismatches = 0;
  uint32_t next_source = 0;

  const int64_t begin_ns = NowNs();
  const int64_t window_start_ns = begin_ns + static_cast<int64_t>(warmup * 1e9);
  const int64_t window_end_ns = window_start_ns + static_cast<int64_t>(seconds * 1e9);

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
      sockaddr_in source{};
      source.sin_family = AF_INET;
      source.sin_addr.s_addr = htonl(INADDR_LOOPBACK + 1 + next_source++ % kChurnSources);
      // The port is chosen at connect, against the whole 4-tuple, not at bind.
      setsockopt(s.fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
      if (bind(s.fd, reinterpret_cast<sockaddr*>(&source), sizeof source) != 0) ++errors;
    }
    s.sent = s.received = 0;
    s.started_ns = NowNs();  // churn: the round trip includes the connect
    s.connecting = connect(s.fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0;
    if (s.connecting && errno != EINPROGRESS) {
      ++errors;
    }
    watch(index, EPOLLOUT, EPOLL_CTL_ADD);
  };
  auto send_some = [&](int index) {
    Slot& s = slots[index];
    ssize_t n = send(s.fd, message.data() + s.sent, size - s.sent, MSG_NOSIGNAL);
    if (n > 0) s.sent += static_cast<size_t>(n);
    watch(index, s.sent == size ? EPOLLIN : EPOLLOUT, EPOLL_CTL_MOD);
  };

  for (int i = 0; i < count; ++i) open_slot(i);
  std::vector<epoll_event> events(1024);
  while (NowNs() < window_end_ns) {
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
        ++errors;  // the echo server never closes first: an EOF or error is a failure
        close(s.fd);
        open_slot(index);
        continue;
      }
      if (std::memcmp(echo.data() + s.received, message.data() + s.received,
                      static_cast<size_t>(got)) != 0) {
        ++mismatches;
      }
      s.received += static_cast<size_t>(got);
      if (s.received < size) continue;
      const int64_t now = NowNs();
      if (now >= window_start_ns) {
        ++messages;
        int64_t bucket = (now - s.started_ns) / kBucketNs;
        ++histogram[bucket < kBuckets ? bucket : kBuckets - 1];
      }
      if (churn) {
        if (now >= window_start_ns) ++connections;
        close(s.fd);
        open_slot(index);
      } else {
        s.sent = s.received = 0;
        s.started_ns = now;
        send_some(index);
      }
    }
  }
  auto percentile_ns = [&](double p) {
    uint64_t target = static_cast<uint64_t>(p * static_cast<double>(messages));
    uint64_t seen = 0;
    for (int64_t b = 0; b < kBuckets; ++b) {
      seen += histogram[b];
      if (seen > target) return (b + 1) * kBucketNs;  // the bucket's upper edge
    }
    return kBuckets * kBucketNs;
  };
  std::printf(
      "{\"messages\":%llu,\"connections\":%llu,\"errors\":%llu,\"mismatches\":%llu,"
      "\"seconds\":%.3f,\"p50_ns\":%lld,\"p99_ns\":%lld}\n",
      static_cast<unsigned long long>(messages), static_cast<unsigned long long>(connections),
      static_cast<unsigned long long>(errors), static_cast<unsigned long long>(mismatches), seconds,
      static_cast<long long>(percentile_ns(0.50)), static_cast<long long>(percentile_ns(0.99)));
  return 0;
}

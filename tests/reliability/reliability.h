#pragma once

// Shared pieces of the reliability suite: socklab-server as a child on each backend, attacked by
// peers that misbehave, judged by what the kernel says (netlink, /proc) and by the peers' own
// byte counts, never by the server's counters alone.

#include <poll.h>
#include <sys/socket.h>

#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "core/loop/event_loop.h"
#include "core/tcpstat/reader.h"
#include "gtest/gtest.h"
#include "tests/server/kernel_view.h"
#include "tests/server/server_process.h"
#include "tests/server/test_client.h"

namespace socklab::server::testing {

class ReliabilityTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "io_uring" && !loop::SelectBackend(loop::BackendChoice::kIoUring).ok()) {
      GTEST_SKIP() << "io_uring unavailable";
    }
  }
  // The server's flags on this test's backend, listening on a free loopback port.
  std::vector<std::string> Args(std::vector<std::string> args) {
    args.insert(args.begin(), {"--backend", GetParam(), "--listen", "127.0.0.1:0", "--json"});
    return args;
  }
};

inline std::string BackendName(const ::testing::TestParamInfo<std::string>& info) {
  return info.param;
}

#define SOCKLAB_RELIABILITY_BACKENDS(suite)                                         \
  INSTANTIATE_TEST_SUITE_P(Backends, suite, ::testing::Values("epoll", "io_uring"), \
                           ::socklab::server::testing::BackendName)

inline double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// Polls `cond` every 20 ms for up to `timeout_ms`.
template <typename Cond>
bool PollUntil(Cond cond, int timeout_ms) {
  auto start = std::chrono::steady_clock::now();
  while (!cond()) {
    if (SecondsSince(start) * 1000 > timeout_ms) {
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

// The sum of N over the "<key>N" fields of the --stats-interval lines in `err` (key e.g.
// "timeouts=+").
inline int SumOfField(const std::string& err, const std::string& key) {
  int total = 0;
  for (size_t pos = err.find(key); pos != std::string::npos; pos = err.find(key, pos + 1)) {
    total += std::atoi(err.c_str() + pos + key.size());
  }
  return total;
}

// Server-side sockets on `port` in `state` (the kernel's count, from netlink).
inline int ServerSocketsIn(uint16_t port, tcpstat::TcpState state) {
  int n = 0;
  for (const tcpstat::TcpSocket& s : ServerSocketsOnPort(port)) {
    n += s.state == state ? 1 : 0;
  }
  return n;
}

// Pushes from every fd (made nonblocking) round-robin without reading, up to `limit` bytes each,
// until no fd took a byte for `quiet_ms` (or 30 s passed); returns the bytes each one sent.
inline std::vector<uint64_t> FillAllWithoutReading(const std::vector<int>& fds, uint64_t limit,
                                                   int quiet_ms) {
  std::string block = RandomBytes(256 << 10, 99);
  std::vector<uint64_t> sent(fds.size(), 0);
  for (int fd : fds) {
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  }
  auto start = std::chrono::steady_clock::now();
  auto last_progress = start;
  while (SecondsSince(last_progress) * 1000 < quiet_ms && SecondsSince(start) < 30) {
    bool progress = false;
    for (size_t i = 0; i < fds.size(); ++i) {
      if (sent[i] >= limit) {
        continue;
      }
      size_t n = static_cast<size_t>(std::min<uint64_t>(block.size(), limit - sent[i]));
      ssize_t r = send(fds[i], block.data(), n, MSG_NOSIGNAL);
      if (r > 0) {
        sent[i] += static_cast<uint64_t>(r);
        progress = true;
      }
    }
    if (progress) {
      last_progress = std::chrono::steady_clock::now();
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }
  return sent;
}

}  // namespace socklab::server::testing

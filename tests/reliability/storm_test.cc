// Storms: connections that reset right after sending, and more connections than fds. A bystander
// connection stays served, the kernel's socket and fd counts return to where they were, and the
// server does not spin.

#include <signal.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "tests/reliability/reliability.h"

namespace socklab::server::testing {
namespace {

using Clock = std::chrono::steady_clock;

class StormTest : public ReliabilityTest {};

TEST_P(StormTest, RstStormLeavesABystanderServedAndNothingBehind) {
  ServerProcess server(Args({"--threads", "2"}));
  SocketAddress address = server.Address();
  ASSERT_NE(address.port(), 0) << server.err();
  std::string pid = std::to_string(server.pid());
  UniqueFd bystander = Connect(address, 10);
  ASSERT_TRUE(bystander.valid());
  ASSERT_TRUE(SendAll(bystander.get(), "warm"));
  ASSERT_EQ(RecvExactly(bystander.get(), 4), "warm");

  // Two threads: connect, send 100 KB, close with RST (SO_LINGER {1, 0}), until `stop`.
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> storms{0};
  std::string payload = RandomBytes(100'000, 17);
  std::vector<std::thread> stormers;
  auto start_storm = [&] {
    stop.store(false);
    for (int t = 0; t < 2; ++t) {
      stormers.emplace_back([&] {
        for (int i = 0; i < 100'000 && !stop.load(); ++i) {
          UniqueFd fd = Connect(address, 5);
          if (!fd) {
            continue;
          }
          SendAll(fd.get(), payload);
          SetLinger(fd.get(), Linger{Linger::Mode::kReset, 0}).IgnoreError();
          storms.fetch_add(1);
        }
      });
    }
  };
  auto stop_storm = [&] {
    stop.store(true);
    for (std::thread& t : stormers) {
      t.join();
    }
    stormers.clear();
  };
  // The fds before any storm; the storm's own come and go.
  const int baseline_fds = OpenFdCount(pid);
  ASSERT_GT(baseline_fds, 0);
  // A storm of the same shape first, so that what traffic touches once and keeps (the loops'
  // receive buffers, 16 MiB per io_uring loop; chunk pools and allocator arenas at their high
  // water mark, which depends on how many connections a loaded machine leaves in flight at once)
  // is in the baseline; then the baseline, once the kernel shows the warm-up's connections gone.
  // What a leak holds grows with every storm; a high water mark does not grow again.
  start_storm();
  std::this_thread::sleep_for(std::chrono::seconds(3));
  PollUntil([&] { return storms.load() >= 800; }, 8000);  // every ring buffer used several times
  stop_storm();
  ASSERT_TRUE(PollUntil(
      [&] { return ServerSocketsIn(address.port(), tcpstat::TcpState::kEstablished) == 1; },
      10000));
  ASSERT_TRUE(PollUntil([&] { return OpenFdCount(pid) == baseline_fds; }, 10000))
      << OpenFdCount(pid) << " fds after the warm-up storm, " << baseline_fds << " before";
  const int64_t baseline_kib = VmRssKiB(pid);
  storms.store(0);
  start_storm();
  // The bystander: 64 B every 50 ms, each echoed in full.
  double max_rtt_s = 0;
  int exchanges = 0;
  auto start = Clock::now();
  while (SecondsSince(start) < 3.0) {
    std::string msg = RandomBytes(64, 1000 + exchanges);
    auto sent = Clock::now();
    ASSERT_TRUE(SendAll(bystander.get(), msg));
    ASSERT_EQ(RecvExactly(bystander.get(), msg.size()), msg) << "exchange " << exchanges;
    max_rtt_s = std::max(max_rtt_s, SecondsSince(sent));
    ++exchanges;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  stop_storm();
  RecordProperty("reset_connections", std::to_string(storms.load()));
  RecordProperty("bystander_max_rtt_ms", std::to_string(max_rtt_s * 1000));
  EXPECT_GT(storms.load(), 100u);
  // A responsiveness bound, generous for a loaded 2-CPU machine: a loop stuck behind the storm
  // answers in seconds.
  EXPECT_LT(max_rtt_s, 1.0);
  // Afterwards the kernel shows only the bystander, and the server's fds and memory are back.
  EXPECT_TRUE(PollUntil(
      [&] { return ServerSocketsIn(address.port(), tcpstat::TcpState::kEstablished) == 1; }, 10000))
      << ServerSocketsIn(address.port(), tcpstat::TcpState::kEstablished) << " ESTABLISHED";
  EXPECT_TRUE(PollUntil([&] { return OpenFdCount(pid) == baseline_fds; }, 10000))
      << OpenFdCount(pid) << " fds, baseline " << baseline_fds;
  EXPECT_LE(VmRssKiB(pid) - baseline_kib, 32 * 1024);
  ASSERT_TRUE(SendAll(bystander.get(), "still"));
  EXPECT_EQ(RecvExactly(bystander.get(), 5), "still");
}

TEST_P(StormTest, EmfileStormDoesNotSpinAndServesAfterwards) {
  // 40 fds: more clients than the server can hold keep connecting and leaving for 2 s.
  ServerProcess server(Args({"--threads", "1"}), {.nofile = 40});
  SocketAddress address = server.Address();
  ASSERT_NE(address.port(), 0) << server.err();
  std::vector<UniqueFd> holders;
  for (int i = 0; i < 60; ++i) {
    holders.push_back(Connect(address, 5));
    ASSERT_TRUE(holders.back().valid()) << i;
  }
  std::atomic<bool> stop{false};
  std::thread churn([&] {
    for (int i = 0; i < 100'000 && !stop.load(); ++i) {
      UniqueFd fd = Connect(address, 1);
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  });
  // The storm has its effect: connections wait in the listener's accept queue, which the kernel
  // reports as the LISTEN socket's rx_queue, because the server has no fd to take them with.
  EXPECT_TRUE(PollUntil(
      [&] {
        for (const tcpstat::TcpSocket& s : ServerSocketsOnPort(address.port())) {
          if (s.is_listen() && s.rx_queue > 0) {
            return true;
          }
        }
        return false;
      },
      10000))
      << "the server never ran out of fds";
  long ticks_before = server.CpuTicks();
  auto wall_before = Clock::now();
  std::this_thread::sleep_for(std::chrono::seconds(2));
  double cpu_s = static_cast<double>(server.CpuTicks() - ticks_before) / sysconf(_SC_CLK_TCK);
  double wall_s = SecondsSince(wall_before);
  stop.store(true);
  churn.join();
  RecordProperty("storm_cpu_share", std::to_string(cpu_s / wall_s));
  // A spin detector: a loop retrying EMFILE burns a whole CPU; a backed-off one almost nothing.
  EXPECT_LT(cpu_s, 0.3 * wall_s) << cpu_s << " s of CPU over " << wall_s << " s";
  holders.clear();
  UniqueFd fresh = Connect(address, 20);
  ASSERT_TRUE(fresh.valid());
  ASSERT_TRUE(SendAll(fresh.get(), "after"));
  EXPECT_EQ(RecvExactly(fresh.get(), 5), "after");
  fresh.Reset();
  ASSERT_EQ(kill(server.pid(), SIGTERM), 0);
  ASSERT_TRUE(server.Exited(20000)) << server.err();
  EXPECT_GE(server.Summary()["accept_pauses"].value("no_fds", 0), 1) << server.out();
}

SOCKLAB_RELIABILITY_BACKENDS(StormTest);

}  // namespace
}  // namespace socklab::server::testing

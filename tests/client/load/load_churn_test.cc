// socklab load --churn as a user runs it (the binary, default pacing: none), with the kernel and
// the peer as witnesses: netlink's count of the client's ESTABLISHED sockets sampled during the
// run, the client's TIME_WAIT sockets after it, and the echo peer's own accept and close counts.
#include <algorithm>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/loop/event_loop.h"
#include "core/sysinfo/tcp_counters.h"
#include "core/tcpstat/reader.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/client/load/echo_fixture.h"
#include "tests/client/load/server_process.h"
#include "tests/client/load/socklab_process.h"

namespace socklab::client {
namespace {

using testing::EchoFixture;
using testing::ProcessOutcome;
using testing::SocklabProcess;

// The client's sockets towards `port` (their remote end is the server) in `state`, from netlink
// (what `ss` reads), not from anything socklab counted.
absl::StatusOr<std::vector<tcpstat::TcpSocket>> ClientSockets(uint16_t port,
                                                              tcpstat::TcpState state) {
  tcpstat::Filter filter;
  filter.remote = tcpstat::Endpoint{.port = port};
  filter.states = tcpstat::TcpStateSet::Of({state});
  return tcpstat::ReadTcpSockets(filter, tcpstat::Source::kNetlink);
}

int64_t CountClientSockets(uint16_t port, tcpstat::TcpState state) {
  absl::StatusOr<std::vector<tcpstat::TcpSocket>> sockets = ClientSockets(port, state);
  return sockets.ok() ? static_cast<int64_t>(sockets->size()) : -1;
}

// The client's ESTABLISHED sockets, sampled while a run goes on. A netlink dump is not atomic:
// it walks the hash table while the client churns through thousands of connections a second, so
// one dump may list a connection that closed before another in it opened. A socket found in two
// consecutive dumps, though, was ESTABLISHED throughout the time between them (a socket never
// returns to ESTABLISHED), so all such sockets of one pair were open at once: their number can
// never exceed what the client holds open, and a leaked socket is in every pair.
class EstablishedSampler {
 public:
  explicit EstablishedSampler(uint16_t port) : port_(port) {}

  void Sample() {
    absl::StatusOr<std::vector<tcpstat::TcpSocket>> sockets =
        ClientSockets(port_, tcpstat::TcpState::kEstablished);
    if (!sockets.ok()) {
      return;
    }
    std::set<std::pair<uint16_t, uint64_t>> now;
    for (const tcpstat::TcpSocket& socket : *sockets) {
      now.emplace(socket.local.port(), socket.inode);
    }
    if (samples_ > 0) {
      int64_t both = 0;
      for (const auto& key : now) {
        both += previous_.count(key);
      }
      max_open_at_once_ = std::max(max_open_at_once_, both);
    }
    previous_ = std::move(now);
    ++samples_;
  }

  int samples() const { return samples_; }
  // The most sockets proven ESTABLISHED at the same moment.
  int64_t max_open_at_once() const { return max_open_at_once_; }

 private:
  uint16_t port_;
  std::set<std::pair<uint16_t, uint64_t>> previous_;
  int samples_ = 0;
  int64_t max_open_at_once_ = 0;
};

// TIME_WAIT sockets the kernel could not keep (tcp_max_tw_buckets was full: the table is the
// namespace's, shared with every other program), from TcpExt.TCPTimeWaitOverflow; -1 unknown.
int64_t TimeWaitOverflows() {
  absl::StatusOr<TcpCounters> counters = ReadTcpCounters();
  if (!counters.ok()) {
    return -1;
  }
  const auto it = counters->find("TcpExt.TCPTimeWaitOverflow");
  return it == counters->end() ? 0 : it->second;
}

// A run must end within its duration, the drain after it (at most 2 s), one connect timeout
// (default 2 s) and the process's start and report; 10 s more keeps a busy machine from failing
// a correct run while a hang still fails.
constexpr int64_t kDeadlineSlackMs = 2000 + 2000 + 10'000;

class LoadChurnTest : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override {
    if (!loop::SelectBackend(*loop::ParseBackendChoice(GetParam())).ok()) {
      GTEST_SKIP() << "backend unavailable";
    }
  }
  const char* backend() const { return GetParam(); }
};

struct ChurnShape {
  int connections;
  int threads;
  int churn;
};

// Unpaced churn (pacing hid the io_uring leak): the kernel never holds more of the client's
// connections ESTABLISHED than -c (each connection owns one socket at a time), "peak open" is at
// least what the kernel saw, every connection the client opened reached the peer and was ended
// the way --close says (FIN: EOF at the peer and TIME_WAIT at the client; RST: a reset at the
// peer and no TIME_WAIT), and the peer's byte counts are the client's.
TEST_P(LoadChurnTest, KernelSeesAtMostConnectionsEstablished) {
  // Each run gets a server port no earlier run had: the TIME_WAIT sockets an earlier run left on
  // its port would otherwise count in this one's tally, and vanish from it as they are reused.
  std::vector<std::unique_ptr<EchoFixture>> servers;
  std::set<uint16_t> used_ports;
  for (const ChurnShape shape : {ChurnShape{2, 1, 1}, ChurnShape{20, 2, 10}}) {
    for (const char* close : {"fin", "rst"}) {
      SCOPED_TRACE(absl::StrCat("-c ", shape.connections, " -t ", shape.threads, " --churn ",
                                shape.churn, " --close ", close));
      do {
        servers.push_back(std::make_unique<EchoFixture>());
      } while (!used_ports.insert(servers.back()->port()).second && servers.size() < 100);
      EchoFixture& server = *servers.back();
      const uint16_t port = server.port();
      const int64_t time_wait_before = CountClientSockets(port, tcpstat::TcpState::kTimeWait);
      const int64_t overflows_before = TimeWaitOverflows();
      ASSERT_GE(time_wait_before, 0) << "netlink unavailable";
      constexpr int kDurationMs = 1500;
      SocklabProcess load({"load", server.address().ToString(), "-c",
                           absl::StrCat(shape.connections), "-t", absl::StrCat(shape.threads),
                           "--churn", absl::StrCat(shape.churn), "--close", close, "-d",
                           absl::StrCat(kDurationMs, "ms"), "--backend", backend(), "--json", "-"});
      if (!load.available()) {
        GTEST_SKIP() << "socklab not built (SOCKLAB_BIN_DIR)";
      }
      EstablishedSampler established(port);
      const ProcessOutcome outcome =
          load.Wait(kDurationMs + kDeadlineSlackMs, [&] { established.Sample(); });
      ASSERT_FALSE(outcome.killed_at_deadline)
          << "still running after " << outcome.wall_s << " s; stderr: " << outcome.err;
      ASSERT_EQ(outcome.exit_code, 0) << outcome.err;
      const int64_t time_wait_after = CountClientSockets(port, tcpstat::TcpState::kTimeWait);
      const int64_t overflows = TimeWaitOverflows() - overflows_before;
      ASSERT_TRUE(server.WaitForAllClosed(5000)) << server.open() << " still open at the peer";
      const nlohmann::json j = nlohmann::json::parse(outcome.out);
      const uint64_t opened = j["connections"]["opened"].get<uint64_t>();
      const uint64_t attempts = j["connections"]["attempts"].get<uint64_t>();
      const int64_t peak_open = j["connections"]["peak_open"].get<int64_t>();

      // A busy machine starves the sampler; a leak shows in any two samples.
      ASSERT_GE(established.samples(), 3);
      EXPECT_LE(established.max_open_at_once(), shape.connections)
          << "sockets left ESTABLISHED (leaked)";
      EXPECT_LE(established.max_open_at_once(), peak_open)
          << "the kernel saw more open at once than the report's peak";
      EXPECT_LE(peak_open, shape.connections);
      // Churn reconnected many times over, and the peer saw each of those connections; a connect
      // the end of the run cut short may have reached it too.
      EXPECT_GT(opened, 5u * shape.connections);
      EXPECT_GE(server.accepted(), opened);
      EXPECT_LE(server.accepted(), attempts);
      EXPECT_EQ(server.bytes_in(), j["bytes"]["sent"].get<uint64_t>());
      EXPECT_EQ(server.bytes_out(), j["bytes"]["received"].get<uint64_t>());
      EXPECT_EQ(j["errors"]["total"], 0) << j["errors"];
      EXPECT_EQ(server.other_closes(), 0u);
      const int64_t time_wait = time_wait_after - time_wait_before;
      // Every connection the peer accepted (including a connect the end cut short) ended the
      // way --close says.
      if (std::string(close) == "fin") {
        EXPECT_EQ(server.eof_closes(), server.accepted());
        EXPECT_EQ(server.reset_closes(), 0u);
        // The client closes first, so its side keeps TIME_WAIT. Loopback connects may reuse a
        // TIME_WAIT port older than 1 s (tcp_tw_reuse=2, the default), so over a 1.5 s run at
        // least the connections of the last second build up, unless the namespace's TIME_WAIT
        // table was full (other programs' sockets count too): then the kernel says so.
        if (overflows == 0) {
          EXPECT_GE(time_wait, static_cast<int64_t>(opened) / 3) << opened << " opened";
        } else {
          ::testing::Test::RecordProperty("time_wait_overflows", std::to_string(overflows));
        }
      } else {
        EXPECT_EQ(server.reset_closes(), server.accepted());
        EXPECT_EQ(server.eof_closes(), 0u);
        EXPECT_EQ(time_wait, 0) << "an RST close leaves no TIME_WAIT";
      }
    }
  }
}

// Against servers that end connections themselves (FIN and RST after 300 ms idle, as
// socklab-server --idle-timeout does), churn with one message per connection ends within its
// duration plus its timeouts, and a correct server is never blamed: no false EOF, reset or data
// mismatch (with churn 1 no connection is ever idle for 300 ms).
TEST_P(LoadChurnTest, EndsOnTimeAgainstServersThatCloseIdleConnections) {
  for (const EchoFixture::Mode mode :
       {EchoFixture::Mode::kCloseWhenIdle, EchoFixture::Mode::kResetWhenIdle}) {
    SCOPED_TRACE(mode == EchoFixture::Mode::kCloseWhenIdle ? "FIN when idle" : "RST when idle");
    EchoFixture server(mode, /*idle_ms=*/300);
    SocklabProcess load({"load", server.address().ToString(), "-c", "10", "-t", "1", "--churn", "1",
                         "-d", "1s", "--backend", backend(), "--json", "-"});
    if (!load.available()) {
      GTEST_SKIP() << "socklab not built (SOCKLAB_BIN_DIR)";
    }
    const ProcessOutcome outcome = load.Wait(1000 + kDeadlineSlackMs);
    ASSERT_FALSE(outcome.killed_at_deadline)
        << "still running after " << outcome.wall_s << " s; stderr: " << outcome.err;
    ASSERT_EQ(outcome.exit_code, 0) << outcome.err;
    const nlohmann::json j = nlohmann::json::parse(outcome.out);
    EXPECT_EQ(j["errors"]["total"], 0) << j["errors"];
    EXPECT_EQ(j["messages"]["data_errors"], 0);
    ASSERT_TRUE(server.WaitForAllClosed(5000));
    // Connects the end of the run cut short may have reached the peer too.
    EXPECT_GE(server.accepted(), j["connections"]["opened"].get<uint64_t>());
    EXPECT_LE(server.accepted(), j["connections"]["attempts"].get<uint64_t>());
    EXPECT_EQ(server.own_closes(), 0u) << "a connection sat idle for 300 ms";
  }
}

// The same against the real server, whose own summary counts what it accepted.
TEST_P(LoadChurnTest, EndsOnTimeAgainstSocklabServerWithIdleTimeout) {
  testing::ServerProcess server({"--idle-timeout", "300ms", "--backend", backend()});
  if (!server.ok()) {
    GTEST_SKIP() << "socklab-server not built";
  }
  SocklabProcess load({"load", server.address().ToString(), "-c", "10", "-t", "1", "--churn", "1",
                       "-d", "1s", "--backend", backend(), "--json", "-"});
  if (!load.available()) {
    GTEST_SKIP() << "socklab not built (SOCKLAB_BIN_DIR)";
  }
  const ProcessOutcome outcome = load.Wait(1000 + kDeadlineSlackMs);
  ASSERT_FALSE(outcome.killed_at_deadline)
      << "still running after " << outcome.wall_s << " s; stderr: " << outcome.err;
  ASSERT_EQ(outcome.exit_code, 0) << outcome.err;
  const nlohmann::json j = nlohmann::json::parse(outcome.out);
  EXPECT_EQ(j["errors"]["total"], 0) << j["errors"];
  EXPECT_EQ(j["messages"]["data_errors"], 0);
  EXPECT_GT(j["connections"]["opened"].get<uint64_t>(), 10u);
}

INSTANTIATE_TEST_SUITE_P(Backends, LoadChurnTest, ::testing::Values("epoll", "io_uring"),
                         [](const auto& info) { return std::string(info.param); });

}  // namespace
}  // namespace socklab::client

// Whose connect deadlines were they? socklab load's hint for (connect, deadline) against two real
// causes: a server whose accept queue overflows (socklab-server --fault no-accept --backlog 1),
// and a client that sees the kernel's answers too late (stopped with SIGSTOP while its connects
// are in flight, as a starved or overloaded client is). Witnesses the hint did not compute: the
// test's own TcpExt.ListenOverflows reading and netlink's view of the listener, and the echo
// kernel's TcpExt.ListenOverflows for the second.
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <regex>
#include <string>
#include <thread>

#include "core/loop/event_loop.h"
#include "core/sysinfo/tcp_counters.h"
#include "core/tcpstat/reader.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/client/load/server_process.h"
#include "tests/client/load/socklab_process.h"

namespace socklab::client {
namespace {

class LoadConnectDeadlineTest : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override {
    if (!loop::SelectBackend(*loop::ParseBackendChoice(GetParam())).ok()) {
      GTEST_SKIP() << "backend unavailable";
    }
  }
};

// The (connect, deadline) hint of a run's JSON, "" when it has none.
std::string ConnectDeadlineHint(const nlohmann::json& j) {
  for (const nlohmann::json& hint : j["errors"]["hints"]) {
    const std::string text = hint.get<std::string>();
    if (text.rfind("connect deadline: ", 0) == 0) {
      return text;
    }
  }
  return "";
}

uint64_t ConnectDeadlines(const nlohmann::json& j) {
  uint64_t deadlines = 0;
  for (const nlohmann::json& cell : j["errors"]["by_class"]) {
    if (cell["phase"] == "connect" && cell["class"] == "deadline") {
      deadlines += cell["count"].get<uint64_t>();
    }
  }
  return deadlines;
}

int64_t ListenOverflows() {
  absl::StatusOr<TcpCounters> counters = ReadTcpCounters();
  if (!counters.ok()) {
    return -1;
  }
  const auto it = counters->find("TcpExt.ListenOverflows");
  return it == counters->end() ? -1 : it->second;
}

TEST_P(LoadConnectDeadlineTest, AServerThatDoesNotAcceptIsNamedWithItsOverflows) {
  testing::ServerProcess server({"--fault", "no-accept", "--backlog", "1"});
  if (!server.ok()) {
    GTEST_SKIP() << "socklab-server not built (SOCKLAB_BIN_DIR)";
  }
  const int64_t overflows_before = ListenOverflows();
  ASSERT_GE(overflows_before, 0);
  testing::SocklabProcess load({"load", server.address().ToString(), "-c", "20", "-t", "1", "-d",
                                "2s", "--connect-timeout", "300ms", "--backend", GetParam(),
                                "--json", "-"});
  if (!load.available()) {
    GTEST_SKIP() << "socklab not built (SOCKLAB_BIN_DIR)";
  }
  const testing::ProcessOutcome outcome = load.Wait(60'000);
  ASSERT_FALSE(outcome.killed_at_deadline) << outcome.err;
  const int64_t overflows = ListenOverflows() - overflows_before;
  // The kernel's view: the listener's queue is full (backlog 1 holds 2) and it dropped SYNs.
  tcpstat::Filter filter;
  filter.local = tcpstat::Endpoint{.port = server.address().port()};
  filter.states = tcpstat::TcpStateSet::Of({tcpstat::TcpState::kListen});
  absl::StatusOr<std::vector<tcpstat::TcpSocket>> listeners =
      tcpstat::ReadTcpSockets(filter, tcpstat::Source::kNetlink);
  ASSERT_TRUE(listeners.ok()) << listeners.status();
  ASSERT_EQ(listeners->size(), 1u);
  EXPECT_EQ((*listeners)[0].rx_queue, 2u);
  EXPECT_GT(overflows, 0);

  const nlohmann::json j = nlohmann::json::parse(outcome.out);
  ASSERT_GT(ConnectDeadlines(j), 0u) << j["errors"];
  const std::string hint = ConnectDeadlineHint(j);
  EXPECT_NE(hint.find("the server's accept queue overflowed"), std::string::npos) << hint;
  EXPECT_NE(hint.find("held up to 2 (limit 1, netlink)"), std::string::npos) << hint;
  EXPECT_EQ(hint.find("this client saw the answer too late"), std::string::npos) << hint;
  // The overflows the hint names are at most those the kernel counted while the test ran.
  std::smatch match;
  ASSERT_TRUE(std::regex_search(hint, match, std::regex("ListenOverflows \\+([0-9]+)"))) << hint;
  EXPECT_GT(std::stoll(match[1]), 0);
  EXPECT_LE(std::stoll(match[1]), overflows);
  // Every deadline fired in SYN_SENT.
  EXPECT_NE(hint.find(std::to_string(ConnectDeadlines(j)) + " of " +
                      std::to_string(ConnectDeadlines(j)) + " fired in SYN_SENT"),
            std::string::npos)
      << hint;
}

TEST_P(LoadConnectDeadlineTest, AClientTooLateToSeeItsHandshakesIsNamedNotTheServer) {
  testing::ServerProcess server({});
  if (!server.ok()) {
    GTEST_SKIP() << "socklab-server not built (SOCKLAB_BIN_DIR)";
  }
  const int64_t overflows_before = ListenOverflows();
  ASSERT_GE(overflows_before, 0);
  testing::SocklabProcess load({"load", server.address().ToString(), "-c", "300", "-t", "1",
                                "--churn", "1", "-d", "4s", "--connect-timeout", "50ms",
                                "--backend", GetParam(), "--json", "-"});
  if (!load.available()) {
    GTEST_SKIP() << "socklab not built (SOCKLAB_BIN_DIR)";
  }
  // Up to six pauses of the whole client, each longer than its connect deadline, while it churns:
  // connects in flight complete in the kernel (the server accepts them) but the client sees
  // them only when it runs again.
  constexpr int kPauses = 6;
  int pauses = 0;
  int64_t polls = 0;
  const testing::ProcessOutcome outcome = load.Wait(
      60'000,
      [&] {
        ++polls;
        if (pauses < kPauses && polls % 15 == 0) {  // about every 0.3 s
          load.Signal(SIGSTOP);
          std::this_thread::sleep_for(std::chrono::milliseconds(150));
          load.Signal(SIGCONT);
          ++pauses;
        }
      },
      20);
  ASSERT_FALSE(outcome.killed_at_deadline) << outcome.err;
  ASSERT_GE(pauses, 3);  // the run may end before the last ones on a busy machine
  const nlohmann::json j = nlohmann::json::parse(outcome.out);
  const uint64_t deadlines = ConnectDeadlines(j);
  RecordProperty("connect_deadlines", static_cast<int>(deadlines));
  // epoll delivers expired timers before the readiness of the same wake-up, so the deadline
  // check runs before the pending connects complete; io_uring reaps completions first and may
  // see every handshake in time.
  if (std::string(GetParam()) == "epoll") {
    ASSERT_GT(deadlines, 0u) << j["errors"];
  }
  if (deadlines == 0) {
    return;
  }
  const std::string hint = ConnectDeadlineHint(j);
  std::smatch match;
  ASSERT_TRUE(std::regex_search(
      hint, match, std::regex("([0-9]+) of ([0-9]+) fired after the kernel had completed")))
      << hint;
  EXPECT_EQ(std::stoull(match[2]), deadlines) << hint;
  if (std::string(GetParam()) == "epoll") {
    // epoll's connect() sends the SYN at once: every deadline found the handshake done.
    EXPECT_EQ(std::stoull(match[1]), deadlines) << hint;
  } else {
    // io_uring sends a SYN when the loop next enters the kernel, so some may leave late too.
    EXPECT_GT(std::stoull(match[1]), 0u) << hint;
  }
  EXPECT_NE(hint.find("this client saw the answer too late, not the server"), std::string::npos)
      << hint;
  EXPECT_EQ(hint.find("accept queue overflowed"), std::string::npos) << hint;
  // The kernel's own count: no SYN was dropped by a full accept queue.
  EXPECT_EQ(ListenOverflows() - overflows_before, 0);
}

INSTANTIATE_TEST_SUITE_P(Backends, LoadConnectDeadlineTest, ::testing::Values("epoll", "io_uring"),
                         [](const auto& info) { return std::string(info.param); });

}  // namespace
}  // namespace socklab::client

// socklab-server --metrics: a real process scraped over a real socket, its exposition read
// strictly (and by promtool when installed), each value compared with a witness the server did
// not compute: the client's own byte and connection counts, netlink's sockets on the port,
// /proc/PID/fd and /proc/PID/limits.

#include <sys/socket.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/loop/event_loop.h"
#include "core/tcpstat/tcp_state.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/server/kernel_view.h"
#include "tests/server/server_process.h"
#include "tests/server/test_client.h"
#include "tests/testing/backends.h"
#include "tests/testing/prometheus_text.h"

namespace socklab::server {
namespace {

using namespace socklab::server::testing;
using ::socklab::testing::HttpBody;
using ::socklab::testing::HttpGet;
using ::socklab::testing::HttpHeader;
using ::socklab::testing::HttpStatus;
using ::socklab::testing::IoUringUsable;
using ::socklab::testing::ParsePrometheusText;
using ::socklab::testing::PromScrape;
using ::socklab::testing::PromtoolComplaint;
using ::socklab::testing::PromtoolInstalled;
using ::testing::HasSubstr;

// One scrape, checked for format on the way; nullopt (with a failure recorded) if it is not.
std::optional<PromScrape> Scrape(const SocketAddress& endpoint) {
  absl::StatusOr<std::string> response = HttpGet(endpoint, "/metrics");
  EXPECT_TRUE(response.ok()) << response.status();
  if (!response.ok()) {
    return std::nullopt;
  }
  EXPECT_EQ(HttpStatus(*response), 200) << *response;
  EXPECT_THAT(HttpHeader(*response, "Content-Type"), HasSubstr("version=0.0.4"));
  const std::string body = HttpBody(*response);
  absl::StatusOr<PromScrape> scrape = ParsePrometheusText(body);
  EXPECT_TRUE(scrape.ok()) << scrape.status() << "\n" << body;
  if (PromtoolInstalled()) {
    EXPECT_EQ(PromtoolComplaint(body), "") << body;
  }
  if (!scrape.ok()) {
    return std::nullopt;
  }
  return *scrape;
}

// Scrapes until `done` holds for a scrape (the counters of a loop move a moment after the
// client's call returned), at most 20 s; the last scrape.
std::optional<PromScrape> ScrapeUntil(const SocketAddress& endpoint,
                                      const std::function<bool(const PromScrape&)>& done) {
  std::optional<PromScrape> scrape;
  for (int i = 0; i < 400; ++i) {
    scrape = Scrape(endpoint);
    if (!scrape.has_value() || done(*scrape)) {
      return scrape;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return scrape;
}

int EstablishedOnPort(uint16_t port) {
  int count = 0;
  for (const tcpstat::TcpSocket& socket : ServerSocketsOnPort(port)) {
    count += socket.state == tcpstat::TcpState::kEstablished ? 1 : 0;
  }
  return count;
}

// "Max open files            20000                20000                files": the soft limit.
double SoftNofileOf(pid_t pid) {
  std::ifstream limits(absl::StrCat("/proc/", pid, "/limits"));
  std::string line;
  while (std::getline(limits, line)) {
    if (line.rfind("Max open files", 0) == 0) {
      const std::string soft = line.substr(26, line.find(' ', 26) - 26);
      return soft == "unlimited" ? INFINITY : std::stod(soft);
    }
  }
  return -1;
}

class ServerMetricsTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "io_uring" && !IoUringUsable()) {
      GTEST_SKIP() << "io_uring unavailable";
    }
  }
};

TEST_P(ServerMetricsTest, ScrapesAgreeWithTheClientTheKernelAndProc) {
  ServerProcess server({"--backend", GetParam(), "--listen", "127.0.0.1:0", "--threads", "2",
                        "--json", "--metrics", "127.0.0.1:0"});
  const SocketAddress address = server.Address();
  ASSERT_NE(address.port(), 0) << server.err();
  const std::vector<nlohmann::json> lines = server.JsonLines();
  ASSERT_FALSE(lines.empty());
  ASSERT_TRUE(lines[0]["metrics"].is_string()) << lines[0].dump();
  const SocketAddress endpoint = *SocketAddress::Parse(lines[0]["metrics"].get<std::string>());
  ASSERT_NE(endpoint.port(), 0);

  // The client's own counts: kConnections connections, each echoing its own bytes.
  constexpr int kConnections = 6;
  std::vector<UniqueFd> clients;
  uint64_t sent = 0;
  for (int i = 0; i < kConnections; ++i) {
    clients.push_back(Connect(address));
    ASSERT_GE(clients.back().get(), 0);
    const std::string data = RandomBytes(1000 + 777 * i, i);
    ASSERT_TRUE(SendAll(clients.back().get(), data));
    ASSERT_EQ(RecvExactly(clients.back().get(), data.size()), data);
    sent += data.size();
  }
  std::optional<PromScrape> scrape = ScrapeUntil(endpoint, [&](const PromScrape& s) {
    return s.Sum("socklab_server_sent_bytes_total") >= sent &&
           s.Sum("socklab_server_connections_accepted_total") >= kConnections;
  });
  ASSERT_TRUE(scrape.has_value());
  EXPECT_EQ(scrape->Sum("socklab_server_received_bytes_total"), sent);
  EXPECT_EQ(scrape->Sum("socklab_server_sent_bytes_total"), sent);
  EXPECT_EQ(scrape->Sum("socklab_server_connections_accepted_total"), kConnections);
  EXPECT_EQ(scrape->Sum("socklab_server_connections_open"), kConnections);
  EXPECT_EQ(scrape->Sum("socklab_server_connections_closed_total"), 0);
  // One sample per loop; the info line names the backend that ran.
  EXPECT_EQ(scrape->Count("socklab_server_connections_accepted_total"), 2);
  EXPECT_EQ(scrape->Count("socklab_server_info", {{"backend", GetParam()}}), 1);
  // The kernel's view of the listener's port (its own sockets only: the clients' are on other
  // local ports), taken by this test over netlink.
  EXPECT_EQ(scrape->Sum("socklab_server_connection_states", {{"state", "established"}}),
            kConnections);
  EXPECT_EQ(EstablishedOnPort(address.port()), kConnections);
  EXPECT_EQ(scrape->Sum("socklab_server_connection_states", {{"state", "listen"}}), 2);
  // /proc: the scrape counted its own connection, open while it was answered.
  const int fds_now = OpenFdCount(std::to_string(server.pid()));
  EXPECT_EQ(scrape->Sum("process_open_fds"), fds_now + 1);
  EXPECT_EQ(scrape->Sum("process_max_fds"), SoftNofileOf(server.pid()));

  // Two clients leave with FIN, one with RST on unread echo bytes: closes and a reset error.
  clients[0].Reset();
  clients[1].Reset();
  ASSERT_TRUE(SendAll(clients[2].get(), RandomBytes(4096, 9)));
  ASSERT_TRUE(Readable(clients[2].get(), 20000));
  linger hard{1, 0};
  ASSERT_EQ(setsockopt(clients[2].get(), SOL_SOCKET, SO_LINGER, &hard, sizeof(hard)), 0);
  clients[2].Reset();
  scrape = ScrapeUntil(endpoint, [&](const PromScrape& s) {
    return s.Sum("socklab_server_connections_closed_total") >= 3;
  });
  ASSERT_TRUE(scrape.has_value());
  EXPECT_EQ(scrape->Sum("socklab_server_connections_closed_total"), 3);
  EXPECT_EQ(scrape->Sum("socklab_server_connections_open"), kConnections - 3);
  EXPECT_EQ(scrape->Sum("socklab_server_connection_states", {{"state", "established"}}),
            kConnections - 3);
  EXPECT_EQ(EstablishedOnPort(address.port()), kConnections - 3);
  // The RST reached the server as ECONNRESET on a read or write (whichever was in flight).
  EXPECT_EQ(scrape->Sum("socklab_server_errors_total", {{"class", "reset"}}) +
                scrape->Sum("socklab_server_errors_total", {{"class", "broken_pipe"}}),
            1)
      << server.err();
}

INSTANTIATE_TEST_SUITE_P(Backends, ServerMetricsTest, ::testing::Values("epoll", "io_uring"),
                         [](const auto& info) { return info.param; });

TEST(ServerMetricsFlagTest, BadAddressExitsTwoWithOneLine) {
  ServerProcess server({"--listen", "127.0.0.1:0", "--metrics", "localhost:port"});
  ASSERT_TRUE(server.Exited(20000));
  EXPECT_EQ(server.exit_code(), 2);
  EXPECT_THAT(server.err(), HasSubstr("--metrics 'localhost:port'"));
  EXPECT_EQ(std::count(server.err().begin(), server.err().end(), '\n'), 1) << server.err();
}

TEST(ServerMetricsFlagTest, BusyMetricsPortExitsTwoNamingIt) {
  ServerProcess first(
      {"--listen", "127.0.0.1:0", "--threads", "1", "--json", "--metrics", "127.0.0.1:0"});
  ASSERT_NE(first.Address().port(), 0) << first.err();
  const std::string taken = first.JsonLines()[0]["metrics"].get<std::string>();
  ServerProcess second({"--listen", "127.0.0.1:0", "--threads", "1", "--metrics", taken});
  ASSERT_TRUE(second.Exited(20000));
  EXPECT_EQ(second.exit_code(), 2);
  EXPECT_THAT(second.err(), HasSubstr(taken));
  EXPECT_THAT(second.err(), HasSubstr("EADDRINUSE"));
}

}  // namespace
}  // namespace socklab::server

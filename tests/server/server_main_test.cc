// socklab-server as a real process: flags, exit codes, signals, fd exhaustion, seccomp fallback.

#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_split.h"
#include "core/base/version.h"
#include "core/loop/event_loop.h"
#include "gtest/gtest.h"
#include "tests/server/kernel_view.h"
#include "tests/server/server_process.h"
#include "tests/server/test_client.h"
#include "tests/testing/backends.h"
#include "tests/testing/wait_for.h"

namespace socklab::server {
namespace {

using namespace socklab::server::testing;
using socklab::testing::IoUringUsable;

// The process-level behaviour on each backend (io_uring skipped where refused).
class ServerMainBackendTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "io_uring" && !IoUringUsable()) {
      GTEST_SKIP() << "io_uring unavailable";
    }
  }
  std::vector<std::string> Args(std::vector<std::string> args) {
    args.insert(args.begin(), {"--backend", GetParam()});
    return args;
  }
};

TEST_P(ServerMainBackendTest, SigtermDrainsAndExitsZero) {
  ServerProcess server(Args({"--listen", "127.0.0.1:0", "--threads", "2", "--stats-interval",
                             "100ms", "--drain-timeout", "1s", "--json"}));
  EXPECT_NE(server.WaitListening().find("backend=" + GetParam()), std::string::npos)
      << server.err();
  SocketAddress address = server.Address();
  ASSERT_NE(address.port(), 0) << server.err();
  UniqueFd fd = Connect(address);
  ASSERT_TRUE(fd.valid());
  ASSERT_TRUE(SendAll(fd.get(), "hello"));
  ASSERT_EQ(RecvExactly(fd.get(), 5), "hello");
  // Long enough for a few 100ms stats lines however slow the machine is.
  for (int i = 0; i < 200 && server.err().find("open=") == std::string::npos; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_EQ(kill(server.pid(), SIGTERM), 0);
  ASSERT_TRUE(server.Exited(20000)) << server.err();
  EXPECT_EQ(server.exit_code(), 0) << server.err();
  int error = -1;
  RecvUntilEof(fd.get(), &error);
  EXPECT_EQ(error, 0);
  EXPECT_NE(server.err().find("SIGTERM: draining"), std::string::npos) << server.err();
  EXPECT_NE(server.err().find("summary"), std::string::npos) << server.err();
  // The idle client never closed: the drain served it until the deadline, then cut it.
  EXPECT_NE(server.err().find("drain: 1 connections cut at the deadline, 0 B (0) unechoed"),
            std::string::npos)
      << server.err();
  EXPECT_NE(server.err().find("open="), std::string::npos) << "stats lines: " << server.err();
  // stdout is JSON lines: the listening event, then the summary; the client's own count (5 bytes)
  // is the witness for bytes_in.
  std::vector<nlohmann::json> lines = server.JsonLines();
  ASSERT_EQ(lines.size(), 2u) << server.out();
  EXPECT_EQ(lines[0].value("event", ""), "listening");
  EXPECT_EQ(lines[1].value("event", ""), "summary");
  EXPECT_EQ(lines[1].value("bytes_in", 0), 5);
  EXPECT_EQ(lines[1]["drain"].value("cut", 0), 1);
}

TEST_P(ServerMainBackendTest, SigtermWithBytesInFlightEchoesThemAllThenExitsZero) {
  ServerProcess server(
      Args({"--listen", "127.0.0.1:0", "--threads", "2", "--drain-timeout", "30s", "--json"}));
  SocketAddress address = server.Address();
  ASSERT_NE(address.port(), 0) << server.err();
  UniqueFd fd = Connect(address);
  ASSERT_TRUE(fd.valid());
  // Sent and not yet read back: in the server's buffers and queue, and on the way back.
  std::string sent = FillWithoutReading(fd.get(), size_t{32} << 20, 21);
  ASSERT_GT(sent.size(), size_t{256} << 10);
  ASSERT_EQ(kill(server.pid(), SIGTERM), 0);
  ExpectEverythingEchoedThenEof(fd.get(), sent);
  ASSERT_TRUE(server.Exited(40000)) << server.err();
  EXPECT_EQ(server.exit_code(), 0) << server.err();
  EXPECT_EQ(server.Summary().value("bytes_out", uint64_t{0}), sent.size()) << server.out();
  EXPECT_EQ(server.Summary()["drain"].value("cut", -1), 0) << server.out();
}

TEST_P(ServerMainBackendTest, BadFlagsExitTwoWithOneLine) {
  struct Case {
    std::vector<std::string> args;
    std::string expect;
  };
  for (const Case& c : std::vector<Case>{
           {{"--bogus"}, "bogus"},
           {{"--listen", "1.2.3"}, "1.2.3"},
           {{"--idle-timeout", "5"}, "5"},
           {{"--linger", "later"}, "later"},
           {{"--threads", "-3"}, "threads"},
           {{"--threads", "5000"}, "threads"},
           {{"--backlog", "5000000000"}, "backlog"},
           {{"--rcvbuf", "2G"}, "rcvbuf"},
           {{"--listen", "127.0.0.1:0", "--max-pending", "10"}, "pending"},
           {{"--listen", "127.0.0.1:0", "--max-pending", "1000G"}, "--max-pending"},
           {{"--keepalive", "30s,5s"}, "--keepalive"},
           {{"--keepalive", "30s,5s,1000"}, "--keepalive"},
       }) {
    ServerProcess server(Args(c.args));
    ASSERT_TRUE(server.Exited(20000));
    EXPECT_EQ(server.exit_code(), 2) << c.args[0] << ": " << server.err();
    const std::string& err = server.err();
    EXPECT_EQ(err.rfind("socklab-server: ", 0), 0u) << err;
    EXPECT_NE(err.find(c.expect), std::string::npos) << err;
    EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << err;
  }
}

TEST(ServerMainTest, VersionPrintsTheRelease) {
  ServerProcess server({"--version"});
  ASSERT_TRUE(server.Exited(20000));
  EXPECT_EQ(server.exit_code(), 0) << server.err();
  EXPECT_EQ(server.out(), "socklab-server " + std::string(Version()) + "\n");
}

TEST(ServerMainTest, JsonStdoutIsJsonLinesAndTheBacklogShownIsTheKernels) {
  // A backlog far above somaxconn: the configuration must show what the listener really got,
  // which netlink reports as the listener's accept queue maximum.
  ServerProcess server({"--listen", "127.0.0.1:0", "--threads", "1", "--backend", "epoll",
                        "--backlog", "100000", "--drain-timeout", "0s", "--json"});
  SocketAddress address = server.Address();
  ASSERT_NE(address.port(), 0) << server.err();
  std::vector<tcpstat::TcpSocket> listeners = ServerSocketsOnPort(address.port());
  ASSERT_EQ(listeners.size(), 1u);
  ASSERT_TRUE(listeners[0].accept_backlog.has_value());
  std::string effective = std::to_string(*listeners[0].accept_backlog);
  ASSERT_NE(effective, "100000");
  // The configuration line goes to stderr after the listening line went to stdout.
  EXPECT_TRUE(::socklab::testing::WaitFor([&] {
    return server.err().find(" backlog=" + effective + " ") != std::string::npos;
  })) << server.err();
  ASSERT_EQ(kill(server.pid(), SIGTERM), 0);
  ASSERT_TRUE(server.Exited(20000));
  std::vector<nlohmann::json> lines = server.JsonLines();
  ASSERT_EQ(lines.size(), 2u) << server.out();
  EXPECT_EQ(lines[0].value("listen", ""), address.ToString());
  EXPECT_EQ(lines[0].value("version", ""), std::string(Version()));
  EXPECT_EQ(lines[0]["config"].value("backlog", 0), *listeners[0].accept_backlog);
  EXPECT_EQ(lines[1]["config"], lines[0]["config"]);
}

TEST(ServerMainTest, UnknownBackendExitsTwoWithOneLine) {
  ServerProcess server({"--backend", "kqueue"});
  ASSERT_TRUE(server.Exited(20000));
  EXPECT_EQ(server.exit_code(), 2) << server.err();
  EXPECT_NE(server.err().find("kqueue"), std::string::npos) << server.err();
  EXPECT_EQ(std::count(server.err().begin(), server.err().end(), '\n'), 1) << server.err();
}

TEST_P(ServerMainBackendTest, PortInUseNamesEaddrinuse) {
  absl::StatusOr<UniqueFd> taken = ListenTcp({.address = *SocketAddress::Parse("127.0.0.1:0")});
  ASSERT_TRUE(taken.ok());
  SocketAddress address = *LocalAddressOf(taken->get());
  ServerProcess server(Args({"--listen", address.ToString()}));
  ASSERT_TRUE(server.Exited(20000));
  EXPECT_EQ(server.exit_code(), 2);
  EXPECT_NE(server.err().find("EADDRINUSE"), std::string::npos) << server.err();
  EXPECT_NE(server.err().find(address.ToString()), std::string::npos) << server.err();
}

TEST_P(ServerMainBackendTest, SecondServerOnTheSamePortExitsTwoWithEaddrinuse) {
  // Both with default flags (SO_REUSEPORT listeners, same user).
  ServerProcess first(Args({"--listen", "127.0.0.1:0", "--threads", "2"}));
  SocketAddress address = first.Address();
  ASSERT_NE(address.port(), 0) << first.err();
  ServerProcess second(Args({"--listen", address.ToString(), "--threads", "2"}));
  ASSERT_TRUE(second.Exited(20000)) << "the second server is serving: " << second.out();
  EXPECT_EQ(second.exit_code(), 2) << second.err();
  EXPECT_NE(second.err().find("EADDRINUSE"), std::string::npos) << second.err();
  EXPECT_NE(second.err().find(address.ToString()), std::string::npos) << second.err();
  EXPECT_EQ(std::count(second.err().begin(), second.err().end(), '\n'), 1) << second.err();
  // The first one is unaffected.
  UniqueFd fd = Connect(address);
  ASSERT_TRUE(fd.valid());
  ASSERT_TRUE(SendAll(fd.get(), "still"));
  EXPECT_EQ(RecvExactly(fd.get(), 5), "still");
}

INSTANTIATE_TEST_SUITE_P(Backends, ServerMainBackendTest, ::testing::Values("epoll", "io_uring"),
                         [](const auto& info) { return info.param; });

TEST(ServerMainTest, AutoFallsBackToEpollWhenSeccompRefusesIoUring) {
  if (!::socklab::testing::CanRefuseIoUringSetup()) {
    GTEST_SKIP() << "no seccomp arch constant for this machine";
  }
  ServerProcess server({"--listen", "127.0.0.1:0", "--backend", "auto", "--threads", "1"},
                       {.refuse_io_uring = true});
  std::string line = server.WaitListening();
  EXPECT_NE(line.find("backend=epoll"), std::string::npos) << line << server.err();
  // (On stderr, written after the listening line on stdout.)
  EXPECT_TRUE(::socklab::testing::WaitFor([&] {
    return server.err().find("io_uring unavailable") != std::string::npos;
  })) << server.err();
  UniqueFd fd = Connect(server.Address());
  ASSERT_TRUE(fd.valid());
  ASSERT_TRUE(SendAll(fd.get(), "ok"));
  EXPECT_EQ(RecvExactly(fd.get(), 2), "ok");

  // Asking for io_uring explicitly under the same filter is an error, not a silent fallback.
  ServerProcess forced({"--listen", "127.0.0.1:0", "--backend", "io_uring"},
                       {.refuse_io_uring = true});
  ASSERT_TRUE(forced.Exited(20000));
  EXPECT_EQ(forced.exit_code(), 2) << forced.err();
  EXPECT_NE(forced.err().find("EPERM"), std::string::npos) << forced.err();
}

class FdExhaustionTest : public ::testing::TestWithParam<std::string> {};

// The sum of N over the "accept_pauses=+N" fields of the --stats-interval lines in `err`.
uint64_t IntervalAcceptPauses(const std::string& err) {
  uint64_t total = 0;
  const std::string key = "accept_pauses=+";
  for (size_t pos = err.find(key); pos != std::string::npos; pos = err.find(key, pos + 1)) {
    total += std::strtoull(err.c_str() + pos + key.size(), nullptr, 10);
  }
  return total;
}

TEST_P(FdExhaustionTest, SurvivesWithoutSpinningAndServesAfterOthersLeave) {
  if (GetParam() == "io_uring" && !IoUringUsable()) {
    GTEST_SKIP() << "io_uring unavailable";
  }
  auto started = std::chrono::steady_clock::now();
  ServerProcess server({"--listen", "127.0.0.1:0", "--threads", "1", "--backend", GetParam(),
                        "--stats-interval", "100ms", "--json"},
                       {.nofile = 48});
  SocketAddress address = server.Address();
  ASSERT_NE(address.port(), 0) << server.err();
  // More clients than the server has fds: the rest wait in the backlog.
  std::vector<UniqueFd> clients;
  for (int i = 0; i < 80; ++i) {
    clients.push_back(Connect(address));
    ASSERT_TRUE(clients.back().valid()) << i;
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // let it hit EMFILE
  long ticks_before = server.CpuTicks();
  auto wall_before = std::chrono::steady_clock::now();
  std::this_thread::sleep_for(std::chrono::seconds(2));
  long ticks_after = server.CpuTicks();
  double wall_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_before).count();
  double cpu_s = static_cast<double>(ticks_after - ticks_before) / sysconf(_SC_CLK_TCK);
  // A spin detector, not a speed bound: an accept loop retrying EMFILE burns ~100% of a CPU,
  // a backed-off one next to nothing.
  EXPECT_LT(cpu_s, 0.2 * wall_s) << "cpu " << cpu_s << " s over " << wall_s << " s";
  ASSERT_FALSE(server.Exited(0)) << server.err();
  // And a check scheduling cannot fool (a spinning server starved of CPU would pass the one
  // above): the server's own count of accept pauses over the episode. Its back-off doubles from
  // 10 ms to 1 s, so T seconds allow at most 8 + T pauses (7 doublings take 1.27 s), plus one
  // restart of the back-off after the first successful accepts; a retry loop makes thousands.
  std::string episode_err = server.err();
  double episode_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  uint64_t episode_pauses = IntervalAcceptPauses(episode_err);
  RecordProperty("episode_accept_pauses", std::to_string(episode_pauses));
  RecordProperty("episode_cpu_s", std::to_string(cpu_s));
  EXPECT_GE(episode_pauses, 1u) << episode_err;
  EXPECT_LE(episode_pauses, 10 + static_cast<uint64_t>(std::ceil(episode_s)))
      << "over " << episode_s << " s: " << episode_err;

  clients.clear();  // others leave
  UniqueFd fresh;
  std::string got;
  // The server works through the backlog of departed clients, then serves a new one.
  fresh = Connect(address);
  ASSERT_TRUE(fresh.valid());
  ASSERT_TRUE(SendAll(fresh.get(), "again"));
  got = RecvExactly(fresh.get(), 5);
  EXPECT_EQ(got, "again");
  fresh.Reset();  // the drain would serve it until the deadline

  kill(server.pid(), SIGTERM);
  ASSERT_TRUE(server.Exited(20000));
  EXPECT_EQ(server.exit_code(), 0);
  EXPECT_NE(server.err().find("EMFILE"), std::string::npos) << server.err();
  // The summary agrees: at least the pauses the interval lines showed.
  nlohmann::json summary = server.Summary();
  ASSERT_TRUE(summary.is_object()) << server.out();
  EXPECT_GE(summary["accept_pauses"].value("no_fds", uint64_t{0}), episode_pauses) << server.out();
}

INSTANTIATE_TEST_SUITE_P(Backends, FdExhaustionTest, ::testing::Values("epoll", "io_uring"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace socklab::server

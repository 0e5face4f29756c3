// socklab-server --fault against a real JVM: examples/java/EchoClient (java.net.Socket with a
// connect timeout, a read timeout and DataInputStream.readFully, as the classic tutorial client)
// must print exactly the exception that JVM threw for each fault, on both backends.
//
// The expected texts are those of the current socket implementation, JDK 13+ (NioSocketImpl,
// JEP 353); the JDK 12 and older PlainSocketImpl differs in places (e.g. "connect timed out").

#include <signal.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "core/loop/event_loop.h"
#include "core/tcpstat/tcp_socket.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/java/echo_client.h"
#include "tests/server/kernel_view.h"
#include "tests/server/server_process.h"
#include "tests/server/test_client.h"
#include "tests/testing/backends.h"
#include "tests/testing/wait_for.h"

namespace socklab::server {
namespace {

using namespace socklab::server::testing;
using socklab::testing::IoUringUsable;
using socklab::testing::WaitFor;

class FaultJavaTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "io_uring" && !IoUringUsable()) {
      GTEST_SKIP() << "io_uring unavailable";
    }
  }

  void StartServer(std::vector<std::string> fault_args) {
    std::vector<std::string> args = {"--listen", "127.0.0.1:0",     "--threads",
                                     "1",        "--backend",       GetParam(),
                                     "--json",   "--drain-timeout", "200ms"};
    args.insert(args.end(), fault_args.begin(), fault_args.end());
    server_ = std::make_unique<ServerProcess>(args);
    address_ = server_->Address();
    ASSERT_NE(address_.port(), 0) << server_->err();
  }

  // The one line EchoClient printed (its exception as the JVM renders it, or "ok N messages").
  std::string RunJava(std::vector<std::string> client_args) {
    socklab::testing_java::JavaRun run =
        socklab::testing_java::RunEchoClient({}, "127.0.0.1", address_.port(), client_args);
    // The table of texts is for JDK 13+ (NioSocketImpl): say so if another JDK ran.
    EXPECT_GE(run.jdk_feature, 13)
        << "these texts are JDK 13+ (NioSocketImpl) texts; the JVM said: " << run.err;
    return run.line;
  }

  nlohmann::json Stop() {
    kill(server_->pid(), SIGTERM);
    EXPECT_TRUE(server_->Exited(30000)) << server_->err();
    nlohmann::json summary = server_->Summary();
    EXPECT_TRUE(summary.is_object()) << server_->err();
    return summary.is_object() ? summary : nlohmann::json::object();
  }

  std::unique_ptr<ServerProcess> server_;
  SocketAddress address_;
};

TEST_P(FaultJavaTest, NoFaultEchoesEveryMessage) {
  StartServer({});
  EXPECT_EQ(RunJava({"--messages", "5", "--size", "64"}), "ok 5 messages");
}

TEST_P(FaultJavaTest, ResetAfterIsSocketExceptionConnectionReset) {
  StartServer({"--fault", "reset-after=100"});
  // The second message crosses 100 bytes: the server aborts while readFully waits for its echo.
  EXPECT_EQ(RunJava({"--messages", "5", "--size", "64"}),
            "java.net.SocketException: Connection reset");
  EXPECT_EQ(Stop()["faults"]["reset"].get<uint64_t>(), 1u);
}

TEST_P(FaultJavaTest, CloseAfterIsEofExceptionInMidMessage) {
  StartServer({"--fault", "close-after=100"});
  // 64 bytes echoed, then 36 of the second message and the FIN: readFully ends short.
  EXPECT_EQ(RunJava({"--messages", "5", "--size", "64"}), "java.io.EOFException");
  nlohmann::json summary = Stop();
  EXPECT_EQ(summary["faults"]["close"].get<uint64_t>(), 1u);
  EXPECT_EQ(summary["bytes_out"].get<uint64_t>(), 100u);
}

TEST_P(FaultJavaTest, HalfCloseAfterIsEofExceptionInMidMessage) {
  StartServer({"--fault", "half-close-after=100"});
  EXPECT_EQ(RunJava({"--messages", "5", "--size", "64"}), "java.io.EOFException");
  nlohmann::json summary = Stop();
  EXPECT_EQ(summary["faults"]["half_close"].get<uint64_t>(), 1u);
  EXPECT_EQ(summary["bytes_out"].get<uint64_t>(), 100u);
}

TEST_P(FaultJavaTest, StopReadingAfterIsSocketTimeoutExceptionReadTimedOut) {
  StartServer({"--fault", "stop-reading-after=100"});
  // The second echo stops short at 100 bytes: readFully waits for the rest until the timeout.
  EXPECT_EQ(RunJava({"--messages", "5", "--size", "64", "--read-timeout", "300"}),
            "java.net.SocketTimeoutException: Read timed out");
  nlohmann::json summary = Stop();
  EXPECT_EQ(summary["faults"]["stop_reading"].get<uint64_t>(), 1u);
  EXPECT_EQ(summary["bytes_out"].get<uint64_t>(), 100u);
}

TEST_P(FaultJavaTest, DelayAboveTheReadTimeoutIsSocketTimeoutExceptionReadTimedOut) {
  StartServer({"--fault", "delay=1s"});
  EXPECT_EQ(RunJava({"--messages", "1", "--read-timeout", "300"}),
            "java.net.SocketTimeoutException: Read timed out");
  EXPECT_EQ(Stop()["faults"]["paced"].get<uint64_t>(), 1u);
}

TEST_P(FaultJavaTest, DelayBelowTheReadTimeoutEchoesEveryMessage) {
  StartServer({"--fault", "delay=50ms"});
  EXPECT_EQ(RunJava({"--messages", "3", "--read-timeout", "5000"}), "ok 3 messages");
}

TEST_P(FaultJavaTest, RateTrickleNeverTripsThePerReadTimeout) {
  // 1000 bytes at 1 KiB/s take about a second, far over the 300 ms read timeout, yet no single
  // read() waits 300 ms (20 ms pieces keep arriving): setSoTimeout bounds each read, not the
  // message, so readFully completes.
  StartServer({"--fault", "rate=1k/s"});
  auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(RunJava({"--messages", "1", "--size", "1000", "--read-timeout", "300"}),
            "ok 1 messages");
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(900));
}

TEST_P(FaultJavaTest, SliceStillEchoesEveryMessageInFull) {
  // readFully reassembles the 10-byte slices.
  StartServer({"--fault", "slice=10:5ms"});
  EXPECT_EQ(RunJava({"--messages", "2", "--size", "64"}), "ok 2 messages");
}

TEST_P(FaultJavaTest, BlackholeIsSocketTimeoutExceptionReadTimedOut) {
  StartServer({"--fault", "blackhole"});
  EXPECT_EQ(RunJava({"--messages", "1", "--read-timeout", "300"}),
            "java.net.SocketTimeoutException: Read timed out");
  EXPECT_EQ(Stop()["faults"]["blackhole"].get<uint64_t>(), 1u);
}

TEST_P(FaultJavaTest, NoAcceptWithAFullQueueIsSocketTimeoutExceptionConnectTimedOut) {
  StartServer({"--fault", "no-accept", "--backlog", "1"});
  // Linux queues backlog + 1 connections: two fill the queue and the JVM's SYNs are dropped.
  UniqueFd first = Connect(address_);
  UniqueFd second = Connect(address_);
  ASSERT_TRUE(first && second);
  ASSERT_TRUE(WaitFor([&] { return ListenerQueue(address_.port()) == 2; }));
  EXPECT_EQ(RunJava({"--connect-timeout", "300"}),
            "java.net.SocketTimeoutException: Connect timed out");
  EXPECT_EQ(ListenerQueue(address_.port()), 2);
}

TEST_P(FaultJavaTest, RefuseAfterIsConnectExceptionConnectionRefused) {
  StartServer({"--fault", "refuse-after=1"});
  UniqueFd first = Connect(address_);
  ASSERT_TRUE(first);
  // The kernel shows the listener gone before the JVM connects.
  ASSERT_TRUE(WaitFor([&] { return ListenerQueue(address_.port()) == -1; }));
  EXPECT_EQ(RunJava({"--connect-timeout", "1000"}),
            "java.net.ConnectException: Connection refused");
  EXPECT_EQ(Stop()["faults"]["listener_closed"].get<uint64_t>(), 1u);
}

// Every per-connection fault at once, on half the connections (--fault-probability), under
// `socklab load`, a JVM and idle plain sockets together: a connection that pumps bytes meets the
// reset, one that waits meets the timed close, and every faulted one is echoed in slices. The
// server survives it all: it echoes byte-exact on a new connection afterwards, its fd count
// (/proc) returns to where it started, and its count of each fault is what the clients saw.
// (The listener-wide faults, no-accept and refuse-after, would stop it accepting: not here.)
TEST_P(FaultJavaTest, EveryFaultAtOnceUnderLoadLeavesTheServerWhole) {
  StartServer({"--fault", "reset-after=2k", "--fault", "close-after=600ms", "--fault",
               "slice=16:1ms", "--fault-probability", "0.5", "--fault-seed", "3"});
  const std::string pid = std::to_string(server_->pid());
  const int baseline_fds = OpenFdCount(pid);
  ASSERT_GT(baseline_fds, 0);

  nlohmann::json load;
  std::thread load_thread([&] {
    socklab::testing_tune::RunResult run = socklab::testing_tune::RunSocklab(
        {"load", address_.ToString(), "--backend", GetParam(), "--json", "-", "-c", "3", "-s", "64",
         "-d", "2s", "--read-timeout", "5s"},
        60);
    load = nlohmann::json::parse(run.out, nullptr, /*allow_exceptions=*/false);
  });
  // Each JVM run is one connection of 40 messages (2560 bytes): reset at 2 KiB when faulted.
  std::vector<std::string> jvm_lines;
  std::thread jvm_thread([&] {
    for (int i = 0; i < 4; ++i) {
      jvm_lines.push_back(RunJava({"--messages", "40", "--size", "64", "--read-timeout", "5000"}));
    }
  });
  // Idle sockets: one echo, then wait: a faulted one is closed 600 ms after accept (EOF), a
  // clean one stays open (no byte within 3 s).
  std::vector<UniqueFd> idle;
  for (int i = 0; i < 6; ++i) {
    idle.push_back(Connect(address_));
    ASSERT_TRUE(idle.back());
    std::string hello = RandomBytes(64, 100 + i);
    ASSERT_TRUE(SendAll(idle.back().get(), hello));
    ASSERT_EQ(RecvExactly(idle.back().get(), hello.size()), hello);
  }
  // One deadline for all: a faulted one has its EOF by then, a clean one never will.
  uint64_t idle_eofs = 0;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
  for (UniqueFd& fd : idle) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (Readable(fd.get(), static_cast<int>(std::max<int64_t>(left.count(), 0)))) {
      char byte;
      EXPECT_EQ(recv(fd.get(), &byte, 1, 0), 0) << "a faulted idle connection ends with EOF";
      ++idle_eofs;
    }
  }
  load_thread.join();
  jvm_thread.join();
  idle.clear();

  ASSERT_TRUE(load.is_object());
  std::map<std::string, uint64_t> load_errors;
  for (const nlohmann::json& cell : load["errors"]["by_class"]) {
    load_errors[cell.value("phase", "") + " " + cell.value("class", "")] +=
        cell.value("count", 0ULL);
  }
  EXPECT_EQ(load["messages"]["data_errors"].get<uint64_t>(), 0u) << "slices reassemble exactly";
  // A faulted JVM connection pumps 2560 bytes: reset at 2 KiB, unless a slow machine made it
  // take the 600 ms of the timed close first.
  uint64_t jvm_resets = 0;
  uint64_t jvm_eofs = 0;
  for (const std::string& line : jvm_lines) {
    EXPECT_TRUE(line == "ok 40 messages" || line == "java.net.SocketException: Connection reset" ||
                line == "java.io.EOFException")
        << line;
    jvm_resets += line == "java.net.SocketException: Connection reset" ? 1 : 0;
    jvm_eofs += line == "java.io.EOFException" ? 1 : 0;
  }

  // Still serving: a new connection (faulted or not: 100 bytes and gone before any trigger)
  // echoes byte-exact.
  {
    UniqueFd clean = Connect(address_);
    ASSERT_TRUE(clean);
    std::string data = RandomBytes(100, 200);
    ASSERT_TRUE(SendAll(clean.get(), data));
    EXPECT_EQ(RecvExactly(clean.get(), data.size()), data);
  }
  // Every connection the server held is gone from its fd table.
  EXPECT_TRUE(WaitFor([&] { return OpenFdCount(pid) == baseline_fds; }, 20000))
      << OpenFdCount(pid) << " fds, " << baseline_fds << " at the start";

  nlohmann::json summary = Stop();
  EXPECT_EQ(server_->exit_code(), 0) << server_->err();
  const uint64_t resets = summary["faults"]["reset"].get<uint64_t>();
  const uint64_t closes = summary["faults"]["close"].get<uint64_t>();
  // Every reset a client met is one the server counted; load's 3 connections open at its end
  // may have been reset with no reader left.
  const uint64_t resets_seen = load_errors["read reset"] + load_errors["write reset"] + jvm_resets;
  EXPECT_GE(resets, resets_seen) << summary.dump();
  EXPECT_LE(resets, resets_seen + 3) << summary.dump();
  EXPECT_GE(resets, 1u) << "at 0.5 some of the load's connections are faulted";
  // Mostly the idle sockets, the clients slow enough for the timed close; each one seen.
  EXPECT_EQ(closes, idle_eofs + jvm_eofs + load_errors["read eof"]) << summary.dump();
  // Every faulted connection was paced (sliced), once.
  EXPECT_GE(summary["faults"]["paced"].get<uint64_t>(), resets + closes) << summary.dump();
  for (const auto& [key, count] : load_errors) {
    EXPECT_TRUE(key == "read reset" || key == "write reset" || key == "read eof")
        << key << "=" << count;
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, FaultJavaTest, ::testing::Values("epoll", "io_uring"),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           return info.param;
                         });

}  // namespace
}  // namespace socklab::server

// socklab-server --fault against a real JVM: examples/java/EchoClient (java.net.Socket with a
// connect timeout, a read timeout and DataInputStream.readFully, as the classic tutorial client)
// must print exactly the exception that JVM threw for each fault, on both backends.
//
// The expected texts are those of the current socket implementation, JDK 13+ (NioSocketImpl,
// JEP 353); the JDK 12 and older PlainSocketImpl differs in places (e.g. "connect timed out").

#include <signal.h>

#include <chrono>
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

namespace socklab::server {
namespace {

using namespace socklab::server::testing;

bool IoUringUsable() { return loop::SelectBackend(loop::BackendChoice::kIoUring).ok(); }

template <typename F>
bool WaitFor(F done, int timeout_ms = 10000) {
  for (int waited = 0; waited <= timeout_ms; waited += 10) {
    if (done()) {
      return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

// The listener's accept queue length from netlink (-1: no listener on the port).
int64_t ListenerQueue(uint16_t port) {
  for (const tcpstat::TcpSocket& s : ServerSocketsOnPort(port)) {
    if (s.state == tcpstat::TcpState::kListen) {
      return s.rx_queue;
    }
  }
  return -1;
}

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

INSTANTIATE_TEST_SUITE_P(Backends, FaultJavaTest, ::testing::Values("epoll", "io_uring"),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           return info.param;
                         });

}  // namespace
}  // namespace socklab::server

// socklab-server --fault against a Python 3 client: examples/python/echo_client.py (socket,
// create_connection with a timeout, settimeout, sendall, a recv loop for each echo, as Python
// tutorials write it) must meet each fault as the exception class and errno the README names,
// on both backends. The errno names come from the kernel's numbers (ErrnoName), not from text.

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "core/base/errno_name.h"
#include "core/loop/event_loop.h"
#include "core/tcpstat/tcp_socket.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/client/tune/run_socklab.h"
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

// What the client prints for an exception: "Class ERRNO: ..." ("-" for no errno).
std::string Raised(const std::string& exception_class, int err) {
  return absl::StrCat(exception_class, " ", err == 0 ? "-" : ErrnoName(err), ":");
}

class FaultPythonTest : public ::testing::TestWithParam<std::string> {
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

  // The one line the client printed; its exit code in exit_code_.
  std::string RunPython(std::vector<std::string> client_args) {
    std::vector<std::string> argv = {SOCKLAB_PYTHON, SOCKLAB_PYTHON_CLIENT, "127.0.0.1",
                                     std::to_string(address_.port())};
    argv.insert(argv.end(), client_args.begin(), client_args.end());
    socklab::testing_tune::RunResult run = socklab::testing_tune::RunProgram(argv, 60);
    exit_code_ = run.exit_code;
    return std::string(absl::StripTrailingAsciiWhitespace(run.out));
  }

  // The client's line begins with the exception class and errno, and it exited 1.
  void ExpectRaised(const std::string& line, const std::string& exception_class, int err) {
    EXPECT_TRUE(absl::StartsWith(line, Raised(exception_class, err)))
        << "expected " << Raised(exception_class, err) << " ..., the client printed: " << line;
    EXPECT_EQ(exit_code_, 1);
  }

  nlohmann::json Stop() {
    kill(server_->pid(), SIGTERM);
    EXPECT_TRUE(server_->Exited(30000)) << server_->err();
    nlohmann::json summary = server_->Summary();
    return summary.is_object() ? summary : nlohmann::json::object();
  }

  std::unique_ptr<ServerProcess> server_;
  SocketAddress address_;
  int exit_code_ = -1;
};

TEST_P(FaultPythonTest, NoFaultEchoesEveryMessage) {
  StartServer({});
  EXPECT_EQ(RunPython({"--messages", "5", "--size", "64"}), "ok 5 messages");
}

TEST_P(FaultPythonTest, ResetAfterIsConnectionResetError) {
  StartServer({"--fault", "reset-after=100"});
  ExpectRaised(RunPython({"--messages", "5", "--size", "64"}), "ConnectionResetError", ECONNRESET);
  EXPECT_EQ(Stop()["faults"]["reset"], 1);
}

TEST_P(FaultPythonTest, CloseAfterIsAnEofInMidMessage) {
  StartServer({"--fault", "close-after=100"});
  // recv() returns b"" after 36 bytes of the second echo: the client's own EOFError.
  std::string line = RunPython({"--messages", "5", "--size", "64"});
  ExpectRaised(line, "EOFError", 0);
  EXPECT_NE(line.find("after 36 of 64 bytes"), std::string::npos) << line;
  nlohmann::json summary = Stop();
  EXPECT_EQ(summary["faults"]["close"], 1);
  EXPECT_EQ(summary["bytes_out"], 100);
}

TEST_P(FaultPythonTest, HalfCloseAfterIsAnEofInMidMessage) {
  StartServer({"--fault", "half-close-after=100"});
  ExpectRaised(RunPython({"--messages", "5", "--size", "64"}), "EOFError", 0);
  EXPECT_EQ(Stop()["faults"]["half_close"], 1);
}

TEST_P(FaultPythonTest, StopReadingAfterIsTimeoutError) {
  StartServer({"--fault", "stop-reading-after=100"});
  ExpectRaised(RunPython({"--messages", "5", "--size", "64", "--read-timeout", "0.3"}),
               "TimeoutError", 0);
  EXPECT_EQ(Stop()["faults"]["stop_reading"], 1);
}

TEST_P(FaultPythonTest, DelayAboveTheReadTimeoutIsTimeoutError) {
  StartServer({"--fault", "delay=1s"});
  ExpectRaised(RunPython({"--messages", "1", "--read-timeout", "0.3"}), "TimeoutError", 0);
}

TEST_P(FaultPythonTest, RateAndSliceStillEchoEveryMessage) {
  StartServer({"--fault", "rate=4k/s", "--fault", "slice=10:5ms"});
  EXPECT_EQ(RunPython({"--messages", "2", "--size", "200", "--read-timeout", "1"}),
            "ok 2 messages");
  EXPECT_EQ(Stop()["faults"]["paced"], 1);
}

TEST_P(FaultPythonTest, BlackholeIsTimeoutError) {
  StartServer({"--fault", "blackhole"});
  ExpectRaised(RunPython({"--messages", "1", "--read-timeout", "0.3"}), "TimeoutError", 0);
  EXPECT_EQ(Stop()["faults"]["blackhole"], 1);
}

TEST_P(FaultPythonTest, NoAcceptWithAFullQueueIsAConnectTimeoutError) {
  StartServer({"--fault", "no-accept", "--backlog", "1"});
  UniqueFd first = Connect(address_);
  UniqueFd second = Connect(address_);
  ASSERT_TRUE(first && second);
  ASSERT_TRUE(WaitFor([&] { return ListenerQueue(address_.port()) == 2; }));
  ExpectRaised(RunPython({"--connect-timeout", "0.3"}), "TimeoutError", 0);
  EXPECT_EQ(ListenerQueue(address_.port()), 2);
}

TEST_P(FaultPythonTest, RefuseAfterIsConnectionRefusedError) {
  StartServer({"--fault", "refuse-after=1"});
  UniqueFd first = Connect(address_);
  ASSERT_TRUE(first);
  ASSERT_TRUE(WaitFor([&] { return ListenerQueue(address_.port()) == -1; }));
  ExpectRaised(RunPython({}), "ConnectionRefusedError", ECONNREFUSED);
}

TEST_P(FaultPythonTest, CloseAfterThenWritingIsBrokenPipeError) {
  // The client reads the server's EOF, then writes on: RST, then EPIPE. Python ignores SIGPIPE
  // from the start, so the write raises instead of killing it.
  StartServer({"--fault", "close-after=64"});
  ExpectRaised(RunPython({"--mode", "write-after-eof", "--messages", "1", "--size", "64"}),
               "BrokenPipeError", EPIPE);
}

// nc (Debian's netcat-openbsd) against the same faults: what a shell user sees. nc reports a
// refused connect, but it treats a reset like an EOF (exit 0 with what it had read) and an idle
// peer like the end of its -w wait: only the short output tells.
class FaultNcTest : public FaultPythonTest {
 protected:
  void SetUp() override {
    FaultPythonTest::SetUp();
    if (std::string(SOCKLAB_NC).empty()) {
      GTEST_SKIP() << "no nc: install netcat-openbsd (scripts/install-deps)";
    }
  }

  // nc -N -w 1 (-v: say what happened to the connect) with `input` on stdin: its stdout (the
  // echo), stderr and exit code.
  socklab::testing_tune::RunResult RunNc(const std::string& input, bool verbose = false) {
    std::string path = ::testing::TempDir() + "nc_input_" + std::to_string(getpid());
    { std::ofstream(path, std::ios::binary) << input; }
    socklab::testing_tune::RunResult run = socklab::testing_tune::RunProgram(
        {"sh", "-c",
         absl::StrCat("exec ", SOCKLAB_NC, verbose ? " -v" : "", " -N -w 1 127.0.0.1 ",
                      address_.port(), " < ", path)},
        30);
    std::remove(path.c_str());
    return run;
  }
};

TEST_P(FaultNcTest, NoFaultEchoesEveryByte) {
  StartServer({});
  std::string input = RandomBytes(200, 1);
  socklab::testing_tune::RunResult run = RunNc(input);
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(run.out, input);
}

TEST_P(FaultNcTest, RefuseAfterIsReportedWithTheKernelsText) {
  StartServer({"--fault", "refuse-after=1"});
  UniqueFd first = Connect(address_);
  ASSERT_TRUE(first);
  ASSERT_TRUE(WaitFor([&] { return ListenerQueue(address_.port()) == -1; }));
  socklab::testing_tune::RunResult run = RunNc("hello", /*verbose=*/true);
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_NE(run.err.find(ErrnoMessage(ECONNREFUSED)), std::string::npos) << run.err;
}

TEST_P(FaultNcTest, ResetAfterEndsNcSilentlyWithNothingEchoed) {
  StartServer({"--fault", "reset-after=100"});
  socklab::testing_tune::RunResult run = RunNc(RandomBytes(200, 2));
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(run.out, "");
  EXPECT_EQ(run.err, "");
  // The server did reset it: nc just does not say so.
  EXPECT_EQ(Stop()["faults"]["reset"], 1);
}

TEST_P(FaultNcTest, CloseAfterShowsOnlyAsAShortEcho) {
  StartServer({"--fault", "close-after=100"});
  std::string input = RandomBytes(200, 3);
  socklab::testing_tune::RunResult run = RunNc(input);
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(run.out, input.substr(0, 100));
  EXPECT_EQ(Stop()["faults"]["close"], 1);
}

TEST_P(FaultNcTest, BlackholeEndsAtNcsIdleTimeoutWithNothingEchoed) {
  StartServer({"--fault", "blackhole"});
  socklab::testing_tune::RunResult run = RunNc(RandomBytes(200, 4));
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(run.out, "");
  EXPECT_EQ(Stop()["faults"]["blackhole"], 1);
}

INSTANTIATE_TEST_SUITE_P(Backends, FaultNcTest, ::testing::Values("epoll", "io_uring"),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           return info.param;
                         });

INSTANTIATE_TEST_SUITE_P(Backends, FaultPythonTest, ::testing::Values("epoll", "io_uring"),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           return info.param;
                         });

}  // namespace
}  // namespace socklab::server

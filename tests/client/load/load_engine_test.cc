#include "client/load/load_engine.h"

#include <netinet/in.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "client/load/load_report.h"
#include "core/net/socket.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/client/load/echo_fixture.h"

namespace socklab::client {
namespace {

using testing::EchoFixture;

// Every suite runs on both backends; io_uring skips where the kernel refuses it.
class LoadEngineTest : public ::testing::TestWithParam<loop::BackendChoice> {
 protected:
  void SetUp() override {
    absl::StatusOr<loop::BackendSelection> selection = loop::SelectBackend(GetParam());
    if (!selection.ok()) {
      GTEST_SKIP() << "backend unavailable: " << selection.status();
    }
  }

  LoadOptions Options(const SocketAddress& target) {
    LoadOptions o;
    o.target = target;
    o.backend = GetParam();
    o.connections = 4;
    o.threads = 2;
    o.duration = absl::ZeroDuration();
    o.connect_timeout = absl::Seconds(5);
    o.read_timeout = absl::Seconds(10);
    return o;
  }
};

// Every message sent in the window has exactly one outcome, so none can fail without being sent.
void ExpectOutcomesAddUp(const LoadResult& r) {
  EXPECT_EQ(r.messages_sent,
            r.messages_completed + r.messages_failed + r.data_errors + r.messages_in_flight_at_end)
      << r.messages_sent << " sent, " << r.messages_completed << " completed, " << r.messages_failed
      << " failed, " << r.data_errors << " data errors, " << r.messages_in_flight_at_end
      << " in flight at end";
  EXPECT_LE(r.messages_failed, r.messages_sent);
}

// utime + stime of this process from /proc/self/stat, in seconds.
double ProcSelfCpuSeconds() {
  std::ifstream in("/proc/self/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // Fields after the command (which may hold spaces) start after the last ')': state is field 3,
  // utime 14, stime 15.
  std::vector<std::string> fields = absl::StrSplit(stat.substr(stat.rfind(')') + 2), ' ');
  const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  return (std::stod(fields[11]) + std::stod(fields[12])) / ticks;
}

// Counts that must add up after a clean run against a correct echo server.
void ExpectClean(const LoadResult& r) {
  ExpectOutcomesAddUp(r);
  EXPECT_EQ(r.abort_reason, "");
  EXPECT_EQ(r.errors.Total(), 0u) << r.errors.ToText();
  EXPECT_EQ(r.data_errors, 0u);
  EXPECT_EQ(r.messages_failed, 0u);
  // A duration-bound run may end with echoes on their way (drained after the window).
  EXPECT_EQ(r.messages_sent, r.messages_completed + r.messages_in_flight_at_end);
  EXPECT_EQ(r.bytes_sent, r.bytes_received);
  EXPECT_EQ(r.rtt.count(), r.messages_completed);
  EXPECT_GT(r.messages_completed, 0u);
}

TEST_P(LoadEngineTest, ClosedLoopCountsAddUp) {
  EchoFixture server;
  LoadOptions o = Options(server.address());
  o.messages = 2000;
  absl::StatusOr<LoadResult> r = RunLoad(o);
  ASSERT_TRUE(r.ok()) << r.status();
  ExpectClean(*r);
  EXPECT_EQ(r->messages_completed, 2000u);
  EXPECT_EQ(r->bytes_sent, 2000u * 64);
  EXPECT_EQ(server.bytes_in(), r->bytes_sent);
  EXPECT_EQ(server.bytes_out(), r->bytes_received);
  EXPECT_EQ(server.accepted(), 4u);
  EXPECT_EQ(r->connections_opened, 4u);
  EXPECT_EQ(r->connect.count(), 4u);
  EXPECT_EQ(r->config.backend, GetParam() == loop::BackendChoice::kEpoll ? "epoll" : "io_uring");
}

// TCP_NODELAY by default: a 64 KiB message (on loopback, one full segment and a partial one)
// never waits for the ACK a delayed-ACK peer holds back (40 ms at least, TCP_DELACK_MIN). The
// peer sets TCP_NODELAY itself, so what is measured is the client. The median is what is
// checked: a busy machine delays some round trips, not half of them by 20 ms.
TEST_P(LoadEngineTest, LargeEchoesDoNotWaitForDelayedAcks) {
  EchoFixture server(EchoFixture::Config{.nodelay = true});
  LoadOptions o = Options(server.address());
  o.connections = 1;
  o.threads = 1;
  o.size_min = o.size_max = 64 * 1024;
  o.messages = 200;
  absl::StatusOr<LoadResult> r = RunLoad(o);
  ASSERT_TRUE(r.ok()) << r.status();
  ExpectClean(*r);
  EXPECT_TRUE(r->config.nodelay);
  EXPECT_EQ(server.bytes_out(), 200u * 64 * 1024);
  EXPECT_LT(r->rtt.ValueAtPercentile(50), 20'000'000)
      << FormatLatency(r->rtt.ValueAtPercentile(50));
}

TEST_P(LoadEngineTest, PipelinedVariableSizesVerifyEveryByte) {
  EchoFixture server;
  LoadOptions o = Options(server.address());
  o.messages = 3000;
  o.pipeline = 8;
  o.size_min = 100;
  o.size_max = 40000;  // larger than one receive buffer: echoes arrive in pieces
  absl::StatusOr<LoadResult> r = RunLoad(o);
  ASSERT_TRUE(r.ok()) << r.status();
  ExpectClean(*r);
  EXPECT_EQ(r->messages_completed, 3000u);
  EXPECT_GT(r->bytes_sent, 3000u * 100);
}

TEST_P(LoadEngineTest, OpenLoopReportsCorrectedAndUncorrected) {
  EchoFixture server;
  LoadOptions o = Options(server.address());
  o.rate = 400;
  o.duration = absl::Milliseconds(1500);
  absl::StatusOr<LoadResult> r = RunLoad(o);
  ASSERT_TRUE(r.ok()) << r.status();
  ExpectClean(*r);
  EXPECT_EQ(r->rtt_uncorrected.count(), r->rtt.count());
  // The schedule issues rate x duration messages (the first ones are due at start); a late
  // schedule catches up, so only the first connects' delay is lost. Generous for a busy machine.
  EXPECT_LE(r->messages_completed, 600u + 4);
  EXPECT_GE(r->messages_completed, 480u);
  // msgs/s is over a window that holds every counted echo: near the rate, never above it by
  // more than the messages due at the start.
  const double rate = r->messages_completed / r->elapsed_s;
  EXPECT_LE(rate, 400.0 * 1.01 + 4 / 1.5) << r->elapsed_s;
  EXPECT_GE(rate, 400.0 * 0.8) << r->elapsed_s;
  EXPECT_FALSE(r->series.empty());
  // 400/s over 1.5 s, less the schedule's start at the first connect.
  EXPECT_LE(r->messages_scheduled, 600u);
  EXPECT_GE(r->messages_scheduled, 570u);
  EXPECT_EQ(r->send_lag.count(), r->messages_sent);
  EXPECT_EQ(LoadSummaryToText(*r).find("NOT reached"), std::string::npos);
}

// An open loop the client cannot keep (one connection with one message in flight, asked for
// 1M/s): the report says how much of the schedule was sent, and that the rate was not reached.
// The peer's byte count witnesses what was sent.
TEST_P(LoadEngineTest, OpenLoopThatMissesItsScheduleSaysSo) {
  EchoFixture server;
  LoadOptions o = Options(server.address());
  o.connections = 1;
  o.threads = 1;
  o.rate = 1'000'000;
  o.duration = absl::Milliseconds(1000);
  absl::StatusOr<LoadResult> r = RunLoad(o);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_LE(r->messages_scheduled, 1'000'000u);
  EXPECT_GE(r->messages_scheduled, 500'000u);  // less the first connect, slow on a busy machine
  EXPECT_LT(r->messages_sent, r->messages_scheduled / 2);
  ASSERT_TRUE(server.WaitForAllClosed(5000));
  EXPECT_EQ(server.bytes_in(), r->messages_sent * 64);
  const std::string text = LoadSummaryToText(*r);
  EXPECT_NE(text.find(absl::StrCat(r->messages_scheduled, " messages scheduled at 1000000 msg/s, ",
                                   r->messages_sent, " sent")),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("the rate asked for was NOT reached"), std::string::npos) << text;
  const nlohmann::json j = LoadResultToJson(*r);
  EXPECT_EQ(j["open_loop"]["scheduled"], r->messages_scheduled);
  EXPECT_EQ(j["open_loop"]["reached"], false);
}

// Coordinated omission: a server that stalls 300 ms once delays every message the schedule
// wanted to send meanwhile. Measured from the schedule, those messages show the stall; measured
// from the actual send (the uncorrected figure), only the one message in flight does.
TEST_P(LoadEngineTest, OpenLoopLatencyIncludesAServerStall) {
  EchoFixture server(EchoFixture::Config{
      .mode = EchoFixture::Mode::kStallOnce, .stall_after_ms = 600, .stall_ms = 300});
  LoadOptions o = Options(server.address());
  o.connections = 1;  // one message in flight: the uncorrected figure sees the stall once
  o.threads = 1;
  o.rate = 200;
  o.duration = absl::Milliseconds(2000);
  absl::StatusOr<LoadResult> r = RunLoad(o);
  ASSERT_TRUE(r.ok()) << r.status();
  ExpectClean(*r);
  ASSERT_TRUE(server.stalled());
  const int64_t corrected_p99 = r->rtt.ValueAtPercentile(99);
  const int64_t uncorrected_p99 = r->rtt_uncorrected.ValueAtPercentile(99);
  // The stall spans ~60 scheduled messages of ~400: the top 1% waited most of it.
  EXPECT_GE(corrected_p99, 250'000'000) << corrected_p99;
  EXPECT_GE(r->rtt.max(), 290'000'000);
  EXPECT_GE(r->rtt_uncorrected.max(), 250'000'000);  // the one in flight
  EXPECT_LT(uncorrected_p99, corrected_p99 / 3) << uncorrected_p99 << " vs " << corrected_p99;
}

// A server that stalls across the end of the run: the window is the one asked for (not stretched
// to the last echo, which would thin the rate), and the messages it holds are "in flight at the
// end", neither failed nor completed, with no error. The peer's own byte count says every sent
// message reached it.
TEST_P(LoadEngineTest, WindowIsTheDurationAskedForAndSlowEchoesAreInFlightAtEnd) {
  EchoFixture server(EchoFixture::Config{
      .mode = EchoFixture::Mode::kStallOnce, .stall_after_ms = 600, .stall_ms = 1200});
  LoadOptions o = Options(server.address());
  o.connections = 2;
  o.threads = 1;
  o.duration = absl::Milliseconds(1000);
  absl::StatusOr<LoadResult> r = RunLoad(o);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_TRUE(server.stalled());
  EXPECT_DOUBLE_EQ(r->elapsed_s, 1.0);
  // Each connection's one message waits out the stall, which ends after the window: the drain
  // (at most 2 s) receives their echoes, but they belong to no second of the window.
  EXPECT_EQ(r->messages_in_flight_at_end, 2u);
  EXPECT_EQ(r->messages_failed, 0u);
  EXPECT_EQ(r->errors.Total(), 0u) << r->errors.ToText();
  ExpectOutcomesAddUp(*r);
  EXPECT_EQ(r->rtt.count(), r->messages_completed);
  ASSERT_TRUE(server.WaitForAllClosed(5000));
  EXPECT_EQ(server.bytes_in(), r->bytes_sent);
  EXPECT_EQ(server.bytes_in(), (r->messages_completed + 2) * 64);
}

// A server that corrupts echoes: every mismatch is a data error, counted in the per-second
// errors and by --max-errors.
TEST_P(LoadEngineTest, CorruptedEchoesAreDataErrors) {
  EchoFixture server(
      EchoFixture::Config{.mode = EchoFixture::Mode::kCorrupt, .corrupt_every = 10 * 64});
  LoadOptions o = Options(server.address());
  o.connections = 2;  // one per thread: each carries exactly its thread's 500 messages
  o.messages = 1000;
  absl::StatusOr<LoadResult> r = RunLoad(o);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(server.corrupted(), 100u);
  EXPECT_EQ(r->data_errors, 100u);  // every 10th message of each connection
  // A corrupted echo is not a completion, and has no latency.
  EXPECT_EQ(r->messages_completed, 900u);
  EXPECT_EQ(r->rtt.count(), 900u);
  ExpectOutcomesAddUp(*r);
  EXPECT_EQ(r->bytes_sent, r->bytes_received);
  EXPECT_EQ(r->errors.Total(), 0u) << r->errors.ToText();
  ASSERT_FALSE(r->hints.empty());
  EXPECT_NE(r->hints.back().find("may not be an echo server"), std::string::npos)
      << r->hints.back();
  uint64_t series_errors = 0;
  for (const LoadSecond& second : r->series) {
    series_errors += second.errors;
  }
  EXPECT_EQ(series_errors, 100u);

  EchoFixture again(
      EchoFixture::Config{.mode = EchoFixture::Mode::kCorrupt, .corrupt_every = 10 * 64});
  o = Options(again.address());
  o.messages = 100'000;
  o.max_errors = 5;
  r = RunLoad(o);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_NE(r->abort_reason.find("--max-errors"), std::string::npos) << r->abort_reason;
  // "More than 5": exactly the sixth ends the run, on whichever thread; the peer corrupted at
  // least those.
  EXPECT_EQ(r->data_errors + r->warmup_data_errors, 6u);
  EXPECT_GE(again.corrupted(), 6u);
  EXPECT_LT(r->messages_completed, 100'000u);
  ExpectOutcomesAddUp(*r);
}

TEST_P(LoadEngineTest, ChurnReconnectsWithFinAndRst) {
  for (CloseMode close : {CloseMode::kFin, CloseMode::kRst}) {
    EchoFixture server;
    LoadOptions o = Options(server.address());
    o.messages = 400;
    o.churn = 4;
    o.close = close;
    o.connect_rate = 2000;
    absl::StatusOr<LoadResult> r = RunLoad(o);
    ASSERT_TRUE(r.ok()) << r.status();
    ExpectClean(*r);
    EXPECT_EQ(r->messages_completed, 400u);
    EXPECT_EQ(r->connections_opened, 100u);
  }
}

// --connect-rate holds each connection's first connect on a timer whose token carries the
// connection's generation before it ever connected: that generation is never 0, or the timer
// would read as one of the worker's own (tick, start, shortage) and the connection would never
// open. The peer's accept count is the witness.
TEST_P(LoadEngineTest, PacedConnectionsAllOpen) {
  EchoFixture server;
  LoadOptions o = Options(server.address());
  o.threads = 1;
  o.connections = 4;
  o.connect_rate = 40;  // one connect every 25 ms: three of the four wait on the pacer's timer
  o.duration = absl::Seconds(1);
  absl::StatusOr<LoadResult> r = RunLoad(o);
  ASSERT_TRUE(r.ok()) << r.status();
  ExpectClean(*r);
  EXPECT_EQ(server.accepted(), 4u);
  EXPECT_EQ(r->connections_opened, 4u);
}

TEST_P(LoadEngineTest, WarmupIsExcluded) {
  EchoFixture server;
  LoadOptions o = Options(server.address());
  o.rate = 200;
  o.duration = absl::Milliseconds(1500);
  o.warmup = absl::Milliseconds(1000);
  absl::StatusOr<LoadResult> r = RunLoad(o);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->errors.Total(), 0u);
  EXPECT_LE(r->messages_completed, 100u + 4);  // only the last 0.5 s of 200 msg/s
  EXPECT_GE(r->messages_completed, 80u);
  EXPECT_EQ(r->rtt.count(), r->messages_completed);
  // A message counts when it was sent after the warmup, so the counts add up (one may be on
  // its way when the window closes).
  EXPECT_EQ(r->messages_sent, r->messages_completed + r->messages_in_flight_at_end);
  EXPECT_EQ(r->bytes_sent, r->bytes_received);
  EXPECT_EQ(r->messages_failed, 0u);
  // The connects happened during the warmup: none is in the window's counts, but they are
  // reported apart (the peer accepted them), and the peak is the run's.
  EXPECT_EQ(r->connect.count(), 0u);
  EXPECT_EQ(r->connections_opened, 0u);
  EXPECT_EQ(r->connect_attempts, 0u);
  EXPECT_EQ(r->warmup_connections_opened, 4u);
  EXPECT_EQ(r->warmup_connect_attempts, 4u);
  EXPECT_EQ(server.accepted(), 4u);
  EXPECT_EQ(r->peak_open_connections, 4);
  EXPECT_NEAR(r->elapsed_s, 0.5, 0.1);
}

TEST_P(LoadEngineTest, WarmupErrorsAreKeptApart) {
  // Resets every 30 ms of idleness; at 5 msg/s per connection every message finds its
  // connection reset, during the warmup and after it.
  EchoFixture server(EchoFixture::Mode::kResetWhenIdle, /*idle_ms=*/30);
  LoadOptions o = Options(server.address());
  o.rate = 20;
  o.duration = absl::Milliseconds(2000);
  o.warmup = absl::Milliseconds(1000);
  absl::StatusOr<LoadResult> r = RunLoad(o);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_GT(r->warmup_errors.Total(), 0u) << r->warmup_errors.ToText();
  EXPECT_GT(r->errors.Total(), 0u) << r->errors.ToText();
  uint64_t series_errors = 0;
  for (const LoadSecond& second : r->series) {
    series_errors += second.errors;
  }
  EXPECT_EQ(series_errors, r->errors.Total() + r->warmup_errors.Total());
  EXPECT_EQ(r->data_errors + r->warmup_data_errors, 0u);
}

// Every connection starts before any connect completes, so a local shortage (here bind
// EADDRNOTAVAIL for a source address this machine does not have) is counted and retried, and
// never makes a reachable target "unreachable".
TEST_P(LoadEngineTest, LocalFailuresAreRetriedNotUnreachable) {
  EchoFixture server;
  LoadOptions o = Options(server.address());
  // Connections 0 and 2 (worker 0) bind 127.0.0.1, 1 and 3 (worker 1) 192.0.2.1 (TEST-NET-1).
  o.sources = {SocketAddress::Loopback(AF_INET, 0), *SocketAddress::ParseHost("192.0.2.1")};
  o.duration = absl::Milliseconds(1000);
  absl::StatusOr<LoadResult> r = RunLoad(o);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->abort_reason, "");
  EXPECT_GE(r->errors.count(Phase::kBind, ErrorClass::kAddrNotAvail), 2u) << r->errors.ToText();
  EXPECT_EQ(r->errors.Total(), r->errors.count(Phase::kBind, ErrorClass::kAddrNotAvail));
  EXPECT_GT(r->messages_completed, 0u);
  EXPECT_EQ(r->connections_opened, 2u);
  EXPECT_EQ(r->data_errors, 0u);
}

// When nothing can ever connect (no connection alive, none ever opened), local failures end the
// run instead of retrying forever (here -n would never finish).
TEST_P(LoadEngineTest, OnlyLocalFailuresEndTheRun) {
  EchoFixture server;
  LoadOptions o = Options(server.address());
  o.sources = {*SocketAddress::ParseHost("192.0.2.1")};
  o.messages = 100;
  absl::StatusOr<LoadResult> r = RunLoad(o);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_NE(r->abort_reason.find("could not open a connection"), std::string::npos)
      << r->abort_reason;
  EXPECT_NE(r->abort_reason.find("bind EADDRNOTAVAIL"), std::string::npos) << r->abort_reason;
  EXPECT_GE(r->errors.count(Phase::kBind, ErrorClass::kAddrNotAvail), 3u);
  EXPECT_EQ(server.accepted(), 0u);
}

TEST_P(LoadEngineTest, RefusedConnectsAreCountedAndAbortTheRun) {
  // A bound socket that never listens: the kernel answers SYNs with RST.
  absl::StatusOr<UniqueFd> fd = CreateTcpSocket(AF_INET, Blocking::kBlocking);
  ASSERT_TRUE(fd.ok());
  ASSERT_TRUE(Bind(fd->get(), SocketAddress::Loopback(AF_INET, 0)).ok());
  LoadOptions o = Options(*LocalAddressOf(fd->get()));
  o.connections = 40;  // many connects in flight when the third refusal ends the run
  o.duration = absl::Seconds(30);
  absl::StatusOr<LoadResult> r = RunLoad(o);
  ASSERT_TRUE(r.ok()) << r.status();
  const uint64_t refused = r->errors.count(Phase::kConnect, ErrorClass::kRefused);
  EXPECT_GE(refused, 3u);
  EXPECT_EQ(refused, r->errors.Total()) << r->errors.ToText();
  // The reason counts every attempt and every refusal the report lists, not the three that
  // decided it.
  EXPECT_NE(r->abort_reason.find(absl::StrCat(
                "could not reach ", o.target.ToString(), " (none of ", r->connect_attempts,
                " connection attempts succeeded: ", refused, " failed")),
            std::string::npos)
      << r->abort_reason << " vs " << refused << " refused";
  EXPECT_EQ(r->connections_opened, 0u);
}

TEST_P(LoadEngineTest, ServerResetCountsReadReset) {
  EchoFixture server(EchoFixture::Mode::kResetWhenIdle, /*idle_ms=*/50);
  LoadOptions o = Options(server.address());
  o.rate = 20;  // 5 msg/s per connection: 200 ms idle gaps, so the server resets
  o.duration = absl::Milliseconds(1500);
  absl::StatusOr<LoadResult> r = RunLoad(o);
  ASSERT_TRUE(r.ok()) << r.status();
  const uint64_t resets = r->errors.count(Phase::kRead, ErrorClass::kReset) +
                          r->errors.count(Phase::kWrite, ErrorClass::kReset) +
                          r->errors.count(Phase::kWrite, ErrorClass::kBrokenPipe);
  EXPECT_GT(r->errors.count(Phase::kRead, ErrorClass::kReset), 0u) << r->errors.ToText();
  EXPECT_EQ(resets, r->errors.Total()) << r->errors.ToText();
  EXPECT_GT(r->connections_opened, 4u);  // reconnected after the resets
  EXPECT_EQ(r->data_errors, 0u);
}

// A peer that never reads: the message never leaves in full (the peer read none of it), so its
// deadline is a write stall, not a wait for an echo.
TEST_P(LoadEngineTest, MessageNeverFullyWrittenIsAWriteStall) {
  EchoFixture server(EchoFixture::Mode::kNeverRead);
  LoadOptions o = Options(server.address());
  o.connections = 2;
  o.size_min = o.size_max = 4 * 1024 * 1024;  // more than both socket buffers hold
  o.read_timeout = absl::Milliseconds(300);
  o.duration = absl::Milliseconds(1000);
  absl::StatusOr<LoadResult> r = RunLoad(o);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(server.bytes_in(), 0u);
  EXPECT_GE(r->errors.count(Phase::kWrite, ErrorClass::kDeadline), 2u) << r->errors.ToText();
  EXPECT_EQ(r->errors.count(Phase::kRead, ErrorClass::kDeadline), 0u) << r->errors.ToText();
  EXPECT_EQ(r->messages_completed, 0u);
  EXPECT_GE(r->messages_failed, 2u);
  ExpectOutcomesAddUp(*r);
}

TEST_P(LoadEngineTest, MaxErrorsAborts) {
  EchoFixture server(EchoFixture::Mode::kResetWhenIdle, /*idle_ms=*/20);
  LoadOptions o = Options(server.address());
  o.rate = 40;
  o.duration = absl::Seconds(20);
  o.max_errors = 2;
  absl::StatusOr<LoadResult> r = RunLoad(o);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_NE(r->abort_reason.find("--max-errors"), std::string::npos) << r->abort_reason;
  EXPECT_GT(r->errors.Total(), 2u);
}

TEST_P(LoadEngineTest, SourceAddressesAndIpv6) {
  {
    EchoFixture server;
    LoadOptions o = Options(server.address());
    o.messages = 200;
    o.sources = *ParseSourceRange("127.0.0.2-127.0.0.4");
    absl::StatusOr<LoadResult> r = RunLoad(o);
    ASSERT_TRUE(r.ok()) << r.status();
    ExpectClean(*r);
  }
  {
    absl::StatusOr<UniqueFd> probe = CreateTcpSocket(AF_INET6, Blocking::kBlocking);
    if (!probe.ok() || !Bind(probe->get(), SocketAddress::Loopback(AF_INET6, 0)).ok()) {
      GTEST_SKIP() << "no IPv6 loopback";
    }
    EchoFixture server(EchoFixture::Mode::kEcho, 0, AF_INET6);
    LoadOptions o = Options(server.address());
    o.messages = 200;
    absl::StatusOr<LoadResult> r = RunLoad(o);
    ASSERT_TRUE(r.ok()) << r.status();
    ExpectClean(*r);
  }
}

// The kernel's counters are the namespace's, not the run's: the report says so, and says when
// they include connections this run did not make (here the test's own, made during the run).
TEST_P(LoadEngineTest, KernelLineSaysItIsMachineWideAndWhenOthersAddToIt) {
  EchoFixture server;
  LoadOptions o = Options(server.address());
  o.connections = 1;
  o.threads = 1;
  o.duration = absl::Milliseconds(500);
  std::atomic<bool> started{false};
  LoadHooks hooks;
  hooks.on_start = [&](const LoadConfig&) { started.store(true); };
  std::thread others([&] {
    // After the run's first reading of the counters (bounded: the run starts at once).
    for (int i = 0; i < 2000 && !started.load(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    for (int i = 0; i < 20; ++i) {
      ASSERT_TRUE(ConnectTcp(server.address()).ok());
    }
  });
  absl::StatusOr<LoadResult> r = RunLoad(o, hooks);
  others.join();
  ASSERT_TRUE(r.ok()) << r.status();
  if (!r->kernel_counters_available) {
    GTEST_SKIP() << "no /proc/net/snmp";
  }
  const std::string text = LoadSummaryToText(*r);
  EXPECT_NE(text.find("kernel      machine-wide (all processes in this network namespace): "),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("> this run's 1 connection attempts: other programs' traffic is in these "
                      "counts"),
            std::string::npos)
      << text;
}

// The client's own CPU time over the run, as the kernel accounts it for this process (/proc's
// utime and stime cover the same threads and more: the test's own fixture).
TEST_P(LoadEngineTest, ClientCpuIsTheProcesssOwn) {
  EchoFixture server;
  LoadOptions o = Options(server.address());
  o.messages = 20'000;
  const double before = ProcSelfCpuSeconds();
  absl::StatusOr<LoadResult> r = RunLoad(o);
  const double after = ProcSelfCpuSeconds();
  ASSERT_TRUE(r.ok()) << r.status();
  const double cpu = r->client_cpu_user_s + r->client_cpu_system_s;
  EXPECT_GT(cpu, 0);
  // /proc counts in clock ticks (10 ms): allow two.
  EXPECT_LE(cpu, after - before + 0.02) << cpu << " vs /proc " << after - before;
  EXPECT_GT(r->wall_s, 0);
  EXPECT_NE(LoadSummaryToText(*r).find("client cpu  "), std::string::npos);
}

TEST_P(LoadEngineTest, InterruptEndsTheRun) {
  EchoFixture server;
  LoadOptions o = Options(server.address());
  o.duration = absl::Seconds(60);
  std::atomic<bool> interrupt{true};
  LoadHooks hooks;
  hooks.interrupt = &interrupt;
  absl::StatusOr<LoadResult> r = RunLoad(o, hooks);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->abort_reason, "interrupted");
}

INSTANTIATE_TEST_SUITE_P(Backends, LoadEngineTest,
                         ::testing::Values(loop::BackendChoice::kEpoll,
                                           loop::BackendChoice::kIoUring),
                         [](const auto& info) {
                           return info.param == loop::BackendChoice::kEpoll ? "epoll" : "io_uring";
                         });

}  // namespace
}  // namespace socklab::client

#include "client/repro/recorder.h"

#include <errno.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "client/repro/sock_util.h"
#include "core/net/netns.h"
#include "core/tcpstat/reader.h"
#include "gtest/gtest.h"

namespace socklab::repro {
namespace {

TEST(Recorder, RecordsTheErrnoTheCallReturned) {
  Recorder rec("t");
  // A real syscall failing for a real reason: close of a never-opened fd.
  CallResult r = rec.Call("close(-1)", [] { return close(-1); });
  EXPECT_TRUE(r.failed());
  EXPECT_EQ(r.err, EBADF);
  rec.CheckErrno("close", Phase::kClose, EBADF, r);
  ScenarioResult result = rec.Finish({}, "");
  ASSERT_EQ(result.checks.size(), 1u);
  EXPECT_TRUE(result.checks[0].ok);
  EXPECT_EQ(result.checks[0].observed, "EBADF");
  EXPECT_EQ(result.outcome, Outcome::kReproduced);
  ASSERT_EQ(result.steps.size(), 1u);
  EXPECT_NE(result.steps[0].text.find("= -1 EBADF (Bad file descriptor)"), std::string::npos);
}

TEST(Recorder, AMismatchIsNotReproduced) {
  Recorder rec("t");
  int fds[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
  CallResult r = rec.Call("send", [&] { return send(fds[0], "x", 1, MSG_NOSIGNAL); });
  rec.CheckErrno("send", Phase::kWrite, EPIPE, r);
  close(fds[0]);
  close(fds[1]);
  ScenarioResult result = rec.Finish({}, "");
  EXPECT_EQ(result.outcome, Outcome::kNotReproduced);
  EXPECT_EQ(result.checks[0].observed, "returned 1");
  EXPECT_NE(result.reason.find("expected EPIPE"), std::string::npos);
}

// The wire pattern is checked like an errno: a capture that contradicts it fails the run even
// when every call returned what was expected.
TEST(Recorder, AWirePatternTheCaptureContradictsIsNotReproduced) {
  Recorder rec("t");
  rec.StartCapture("no packet", "");
  Pair p = ConnectedPair(rec);
  ASSERT_FALSE(rec.stopped());
  rec.CheckOk("connect", Phase::kConnect, CallResult{});
  ScenarioResult result = rec.Finish({}, "");
  if (!result.wire.missing.empty()) {
    GTEST_SKIP() << result.wire.missing;
  }
  EXPECT_EQ(result.outcome, Outcome::kNotReproduced);
  EXPECT_NE(result.reason.find("on the wire: expected no packet, observed 3 segments"),
            std::string::npos)
      << result.reason;
  ASSERT_EQ(result.wire.segments.size(), 3u);
  EXPECT_EQ(result.wire.segments[0].flags, "SYN");
  EXPECT_NE(result.wire.segments[0].cause.find("client: connect("), std::string::npos);
}

TEST(Recorder, AWirePatternTheCaptureShowsIsReproduced) {
  Recorder rec("t");
  rec.StartCapture("> SYN, < SYN/ACK, > ACK", "");
  Pair p = ConnectedPair(rec);
  ASSERT_FALSE(rec.stopped());
  rec.CheckOk("connect", Phase::kConnect, CallResult{});
  ScenarioResult result = rec.Finish({}, "");
  if (!result.wire.missing.empty()) {
    GTEST_SKIP() << result.wire.missing;
  }
  EXPECT_EQ(result.outcome, Outcome::kReproduced) << result.reason;
  EXPECT_TRUE(result.wire.ok);
  EXPECT_EQ(result.wire.observed, "> SYN, < SYN/ACK, > ACK");
}

// A scenario's expected kernel events are checked like its errno: one that did not happen (or a
// forbidden one that did) fails the run. In a child: the trace may mount tracefs privately.
TEST(Recorder, AnExpectedKernelEventThatDidNotHappenIsNotReproduced) {
  absl::StatusOr<ChildOutput> child = RunInChild({}, [] {
    auto run = [](std::vector<std::string> expected) {
      Recorder rec("t");
      rec.StartCapture("> SYN, < SYN/ACK, > ACK", "");
      rec.TraceKernelEvents();
      rec.ExpectKernelEvents(std::move(expected));
      Pair p = ConnectedPair(rec);
      rec.CheckOk("connect", Phase::kConnect, CallResult{});
      ScenarioResult result = rec.Finish({}, "");
      if (!result.wire.events_missing.empty()) {
        return absl::StrCat("skip: ", result.wire.events_missing);
      }
      return absl::StrCat(OutcomeName(result.outcome), " [",
                          absl::StrJoin(result.wire.events_unmet, "|"), "] ", result.reason);
    };
    return absl::StrCat(run({"SYN_SENT -> ESTABLISHED", "SYN_RECV -> ESTABLISHED", "!RST sent"}),
                        "\n", run({"SYN_SENT -> ESTABLISHED", "LAST_ACK -> CLOSE", "!LISTEN"}));
  });
  ASSERT_TRUE(child.ok()) << child.status();
  if (absl::StartsWith(child->output, "skip: ")) {
    GTEST_SKIP() << child->output;
  }
  EXPECT_EQ(child->output,
            "ok [] \n"
            "FAILED [LAST_ACK -> CLOSE|!LISTEN] kernel events: no 'LAST_ACK -> CLOSE', unexpected "
            "'LISTEN'");
}

TEST(Recorder, SkipAndFailWinOverChecks) {
  Recorder skipped("s");
  skipped.Skip("no root");
  EXPECT_TRUE(skipped.stopped());
  EXPECT_EQ(skipped.Finish({}, "").outcome, Outcome::kSkipped);
  Recorder failed("f");
  failed.Fail("setup");
  failed.Skip("ignored after Fail");
  ScenarioResult r = failed.Finish({}, "");
  EXPECT_EQ(r.outcome, Outcome::kError);
  EXPECT_EQ(r.reason, "setup");
  Recorder empty("e");
  EXPECT_EQ(empty.Finish({}, "").outcome, Outcome::kError);  // no check: never "reproduced"
}

// The TIME_WAIT sockets on `port`, as the kernel lists them through netlink.
std::vector<tcpstat::TcpSocket> TimeWaitOn(uint16_t port) {
  tcpstat::Filter filter{.port = port,
                         .states = tcpstat::TcpStateSet::Of({tcpstat::TcpState::kTimeWait})};
  return tcpstat::ReadTcpSockets(filter, tcpstat::Source::kNetlink)
      .value_or(std::vector<tcpstat::TcpSocket>{});
}

// Another connection's TIME_WAIT on the port the scenario's listener takes next (a server
// restarted with SO_REUSEADDR): the sampler reads it (same port), the snapshot must not show it,
// while the scenario's own TIME_WAIT, which has no fd either, is shown.
TEST(Recorder, SnapshotsShowOnlyTheScenariosOwnSockets) {
  Recorder other("other");
  Pair old = ConnectedPair(other);
  ASSERT_FALSE(other.stopped());
  const uint16_t port = LocalPort(old.listener.get());
  const std::string foreign_remote = LocalText(old.client.get());
  old.listener.Reset();
  old.server.Reset();  // the server closes first: the TIME_WAIT is 127.0.0.1:port -> client
  ASSERT_TRUE(WaitForTcpState(old.client.get(), TCP_CLOSE_WAIT, absl::Seconds(10)));
  old.client.Reset();
  std::vector<tcpstat::TcpSocket> foreign;
  for (int i = 0; i < 10'000 && foreign.empty(); ++i) {
    foreign = TimeWaitOn(port);
    usleep(1000);
  }
  ASSERT_EQ(foreign.size(), 1u) << "the kernel shows no TIME_WAIT on port " << port;
  ASSERT_EQ(foreign[0].remote.ToString(), foreign_remote);

  Recorder rec("t");
  UniqueFd listener = OpenListener(rec, "server", 16, port, /*reuse_addr=*/true);
  ASSERT_TRUE(listener.valid()) << "bind over the TIME_WAIT with SO_REUSEADDR";
  UniqueFd client = ConnectLoopback(rec, "client", port);
  UniqueFd server = AcceptOne(rec, listener.get());
  ASSERT_FALSE(rec.stopped());
  const std::string own_client = LocalText(client.get());
  CloseFd(rec, "client", client);  // the client closes first: its TIME_WAIT is the scenario's
  RecvSome(rec, "server", server.get());
  CloseFd(rec, "server", server);
  std::vector<SocketState> rows;
  for (int i = 0; i < 10'000 && TimeWaitOn(port).size() < 2; ++i) {
    usleep(1000);
  }
  ASSERT_EQ(TimeWaitOn(port).size(), 2u);
  rows = rec.States("after both closed", {{"server", listener.get()}}, {port}).sockets;

  int own_time_wait = 0;
  for (const SocketState& row : rows) {
    EXPECT_FALSE(row.local == foreign_remote || row.remote == foreign_remote)
        << "another connection's " << row.state << " " << row.local << " -> " << row.remote;
    own_time_wait += row.state == "TIME_WAIT" && row.local == own_client ? 1 : 0;
  }
  EXPECT_EQ(own_time_wait, 1);
  EXPECT_EQ(rows.size(), 2u);  // the listener and the scenario's TIME_WAIT
}

}  // namespace
}  // namespace socklab::repro

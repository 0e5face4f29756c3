#include "core/limits/limit_hints.h"

#include "core/limits/derivations.h"
#include "gtest/gtest.h"
#include "tests/core/limits/limits_fixture.h"

namespace socklab {
namespace {

using testing_fixture::LimitsTree;

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

TEST(LimitHint, PortsForConnectEaddrnotavail) {
  LimitsTree tree("hints_ports");
  KernelLimits l = ReadKernelLimits(ProcFs(tree.root()));
  std::string hint = LimitHint(Phase::kConnect, ErrorClass::kAddrNotAvail, l);
  EXPECT_TRUE(Contains(hint, "ip_local_port_range 32768-60999 gives 28232 ports")) << hint;
  EXPECT_TRUE(Contains(hint, "60 s TIME_WAIT that is 470 new connections/s")) << hint;
  EXPECT_TRUE(Contains(hint, "net.ipv4.ip_local_port_range=\"1024 65535\"")) << hint;
  // Loopback with tcp_tw_reuse=2: ports come back after 1 s.
  std::string loopback = LimitHint(Phase::kConnect, ErrorClass::kAddrNotAvail, l,
                                   HintContext{.loopback_destination = true});
  EXPECT_TRUE(Contains(loopback, "28232 new connections/s")) << loopback;
  // A churn from one address levels off where connect() stops finding a port at once.
  EXPECT_TRUE(Contains(loopback, "of which connect() finds a port at once 14116/s")) << loopback;
  EXPECT_TRUE(Contains(loopback, "first checks the 14116 ports of the half")) << loopback;
  // bind(port 0) running out is EADDRINUSE; a taken named port is no limit.
  EXPECT_EQ(LimitHint(Phase::kBind, ErrorClass::kAddrInUse, l), "");
  std::string bind_zero =
      LimitHint(Phase::kBind, ErrorClass::kAddrInUse, l, HintContext{.bind_port_zero = true});
  EXPECT_TRUE(Contains(bind_zero, "28232 ports")) << bind_zero;
  EXPECT_TRUE(Contains(bind_zero, "IP_BIND_ADDRESS_NO_PORT")) << bind_zero;
  // On bind() EADDRNOTAVAIL means "not a local address": no limit explains it.
  EXPECT_EQ(LimitHint(Phase::kBind, ErrorClass::kAddrNotAvail, l), "");
}

TEST(LimitHint, PortRecycleNeedsMostConnectsToHaveRecycled) {
  LimitsTree tree("hints_recycle");
  KernelLimits l = ReadKernelLimits(ProcFs(tree.root()));
  const HintContext loopback{.loopback_destination = true};
  std::string hint = PortRecycleHint(5000, 9000, /*ports_named=*/false, l, loopback);
  EXPECT_TRUE(Contains(hint, "5000 of 9000 connects took a local port still in TIME_WAIT")) << hint;
  EXPECT_TRUE(Contains(hint, "ip_local_port_range 32768-60999 gives 28232 ports")) << hint;
  // With the connect EADDRNOTAVAIL hint beside it, the range is not repeated.
  std::string named = PortRecycleHint(5000, 9000, /*ports_named=*/true, l, loopback);
  EXPECT_TRUE(Contains(named, "5000 of 9000")) << named;
  EXPECT_FALSE(Contains(named, "ip_local_port_range")) << named;
  // Half at least, of enough connects to tell.
  EXPECT_EQ(PortRecycleHint(4499, 9000, false, l, loopback), "");
  EXPECT_NE(PortRecycleHint(50, 100, false, l, loopback), "");
  EXPECT_EQ(PortRecycleHint(99, 99, false, l, loopback), "");
  EXPECT_EQ(PortRecycleHint(HintContext::kUnknownCount, 9000, false, l, loopback), "");
}

TEST(LimitHint, FdsConnectTimeoutAndDeadPeer) {
  LimitsTree tree("hints_other");
  KernelLimits l = ReadKernelLimits(ProcFs(tree.root()));
  std::string fds = LimitHint(Phase::kSocket, ErrorClass::kNoFds, l);
  EXPECT_TRUE(Contains(fds, "RLIMIT_NOFILE is 1024 (hard 524288)")) << fds;
  EXPECT_TRUE(Contains(fds, "at most 1008 connections")) << fds;
  EXPECT_TRUE(Contains(fds, "ulimit -n 524288")) << fds;
  EXPECT_EQ(fds, LimitHint(Phase::kAccept, ErrorClass::kNoFds, l));

  std::string connect =
      LimitHint(Phase::kConnect, ErrorClass::kTimedOut, l, HintContext{.requested_backlog = 8192});
  EXPECT_TRUE(Contains(connect, "tcp_syn_retries 6")) << connect;
  EXPECT_TRUE(Contains(connect, "127 s")) << connect;
  EXPECT_TRUE(Contains(connect, "min(backlog 8192, somaxconn 4096) = 4096")) << connect;

  EXPECT_TRUE(Contains(connect, "sent at 0, 1, 3, 7, 15, 31, 63 s")) << connect;

  std::string read = LimitHint(Phase::kRead, ErrorClass::kTimedOut, l);
  EXPECT_TRUE(Contains(read, "924.6 s")) << read;
  EXPECT_TRUE(Contains(read, "7875 s")) << read;
}

TEST(LimitHint, ConnectTimeoutSaysWhyAMeasurementIsLater) {
  LimitsTree tree("hints_syn_late");
  tree.SetSysctl("net.ipv4.tcp_syn_linear_timeouts", "4");
  KernelLimits l = ReadKernelLimits(ProcFs(tree.root()));
  std::string connect = LimitHint(Phase::kConnect, ErrorClass::kTimedOut, l);
  EXPECT_TRUE(Contains(connect, "after 131 s by the formula, in practice up to 13")) << connect;
  EXPECT_TRUE(Contains(connect, "the lateness adds up")) << connect;
  EXPECT_TRUE(Contains(connect, "TCP_SYNCNT overrides tcp_syn_retries")) << connect;
}

TEST(LimitHint, PortAdviceChangesSomethingAndKeepsTheServersPortOut) {
  LimitsTree tree("hints_port_advice");
  KernelLimits l = ReadKernelLimits(ProcFs(tree.root()));
  // The server's port 5000 stays outside the recommended range, as tune --plan does it.
  std::string hint = LimitHint(Phase::kConnect, ErrorClass::kAddrNotAvail, l,
                               HintContext{.destination_port = 5000});
  EXPECT_TRUE(Contains(hint, RecommendedPortRange(5000).Command())) << hint;
  EXPECT_FALSE(Contains(hint, "\"1024 65535\"")) << hint;
  // Already the recommended range, tcp_tw_reuse already 1 (timestamps off): neither offered.
  l.port_range_low = 1024;
  l.port_range_high = 65535;
  l.tcp_tw_reuse = 1;
  l.tcp_timestamps = 0;
  std::string in_force = LimitHint(Phase::kConnect, ErrorClass::kAddrNotAvail, l);
  EXPECT_FALSE(Contains(in_force, "widen")) << in_force;
  EXPECT_FALSE(Contains(in_force, "net.ipv4.tcp_tw_reuse=1")) << in_force;
  EXPECT_TRUE(Contains(in_force, "net.ipv4.tcp_timestamps=1")) << in_force;
}

// socklab load's --connect-timeout (2 s by default) fires long before the kernel's ETIMEDOUT, so
// a full accept queue is seen as (connect, deadline): it gets the same explanation.
TEST(LimitHint, ConnectDeadlineGetsTheAcceptQueueHint) {
  LimitsTree tree("hints_deadline");
  tree.SetSysctl("net.ipv4.tcp_syn_linear_timeouts", "4");
  KernelLimits l = ReadKernelLimits(ProcFs(tree.root()));
  std::string deadline =
      LimitHint(Phase::kConnect, ErrorClass::kDeadline, l, HintContext{.requested_backlog = 8192});
  EXPECT_TRUE(Contains(deadline, "the connect deadline (--connect-timeout) fired")) << deadline;
  EXPECT_TRUE(Contains(deadline, "accept queue (min(backlog 8192, somaxconn 4096) = 4096"))
      << deadline;
  EXPECT_TRUE(Contains(deadline, "TcpExt.ListenOverflows")) << deadline;
  EXPECT_TRUE(Contains(deadline,
                       "would give up only after 131 s (tcp_syn_retries 6 + "
                       "tcp_syn_linear_timeouts 4)"))
      << deadline;
  // Knowing the deadline: 2 s leaves the SYNs at 0 and 1 s unanswered.
  std::string two_seconds = LimitHint(Phase::kConnect, ErrorClass::kDeadline, l,
                                      HintContext{.connect_deadline_seconds = 2});
  EXPECT_TRUE(Contains(two_seconds, "the 2 s connect deadline fired after 2 SYNs")) << two_seconds;
  // With tcp_syncookies=0 the SYN queue can drop them too.
  l.tcp_syncookies = 0;
  EXPECT_TRUE(
      Contains(LimitHint(Phase::kConnect, ErrorClass::kDeadline, l), "tcp_max_syn_backlog 512"));
  // A read deadline is the client's own patience, not a kernel limit.
  EXPECT_EQ(LimitHint(Phase::kRead, ErrorClass::kDeadline, l), "");
}

// With what the run saw (socklab load), the hint says whose the deadlines were instead of
// guessing the accept queue.
TEST(LimitHint, ConnectDeadlineEvidenceNamesTheClientOrTheServer) {
  LimitsTree tree("hints_deadline_evidence");
  const KernelLimits l = ReadKernelLimits(ProcFs(tree.root()));
  HintContext context{.connect_deadline_seconds = 0.3};
  context.deadlines.listener_local = true;
  context.deadlines.listen_drops = 0;
  context.deadlines.listener_backlog = 1;

  // The handshakes had completed: the client was late.
  context.deadlines.answered = 40;
  context.deadlines.unanswered = 0;
  context.deadlines.listen_overflows = 0;
  context.deadlines.listener_queue_max = 0;
  std::string late = LimitHint(Phase::kConnect, ErrorClass::kDeadline, l, context);
  EXPECT_TRUE(Contains(late, "40 of 40 fired after the kernel had completed the handshake"))
      << late;
  EXPECT_TRUE(Contains(late, "this client saw the answer too late, not the server")) << late;
  EXPECT_FALSE(Contains(late, "accept queue")) << late;

  // SYNs unanswered and the listener overflowed: the server.
  context.deadlines.answered = 0;
  context.deadlines.unanswered = 90;
  context.deadlines.listen_overflows = 108;
  context.deadlines.listen_drops = 108;
  context.deadlines.listener_queue_max = 2;
  std::string server = LimitHint(Phase::kConnect, ErrorClass::kDeadline, l, context);
  EXPECT_TRUE(Contains(server, "90 of 90 fired in SYN_SENT")) << server;
  EXPECT_TRUE(Contains(server,
                       "the server's accept queue overflowed and dropped SYNs "
                       "(TcpExt.ListenOverflows +108, ListenDrops +108; its listener's "
                       "accept queue held up to 2 (limit 1, netlink))"))
      << server;
  EXPECT_FALSE(Contains(server, "this client")) << server;

  // SYNs unanswered, no overflow on a local listener: lost on the way.
  context.deadlines.listen_overflows = 0;
  context.deadlines.listen_drops = 0;
  context.deadlines.listener_queue_max = 0;
  std::string lost = LimitHint(Phase::kConnect, ErrorClass::kDeadline, l, context);
  EXPECT_TRUE(Contains(lost, "did not overflow (TcpExt.ListenOverflows +0")) << lost;
  EXPECT_TRUE(Contains(lost, "lost on the way")) << lost;

  // A remote listener: this machine's counters say nothing of it, so the usual causes.
  context.deadlines.listener_local = false;
  std::string remote = LimitHint(Phase::kConnect, ErrorClass::kDeadline, l, context);
  EXPECT_TRUE(Contains(remote,
                       "may be full and dropping SYNs (TcpExt.ListenOverflows on the "
                       "server)"))
      << remote;
}

TEST(LimitHint, PortsHintAppliesTheTimeWaitBucketsCap) {
  LimitsTree tree("hints_tw_buckets");
  tree.SetSysctl("net.ipv4.tcp_tw_reuse", "0");
  tree.SetSysctl("net.ipv4.tcp_max_tw_buckets", "1000");
  KernelLimits l = ReadKernelLimits(ProcFs(tree.root()));
  std::string hint = LimitHint(Phase::kConnect, ErrorClass::kAddrNotAvail, l);
  EXPECT_TRUE(Contains(hint, "no limit on new connections/s")) << hint;
  EXPECT_TRUE(Contains(hint, "tcp_max_tw_buckets 1000")) << hint;
}

TEST(LimitHint, NoHintWhereNoLimitExplains) {
  LimitsTree tree("hints_none");
  KernelLimits l = ReadKernelLimits(ProcFs(tree.root()));
  EXPECT_EQ(LimitHint(Phase::kConnect, ErrorClass::kRefused, l), "");
  EXPECT_EQ(LimitHint(Phase::kWrite, ErrorClass::kBrokenPipe, l), "");
  EXPECT_EQ(LimitHint(Phase::kRead, ErrorClass::kEof, l), "");
  // A reset is a limit's doing only with tcp_abort_on_overflow=1.
  EXPECT_EQ(LimitHint(Phase::kRead, ErrorClass::kReset, l), "");
  l.tcp_abort_on_overflow = 1;
  EXPECT_TRUE(Contains(LimitHint(Phase::kRead, ErrorClass::kReset, l), "tcp_abort_on_overflow=1"));
  // Unknown inputs give no hint rather than a wrong number.
  KernelLimits unknown;
  EXPECT_EQ(LimitHint(Phase::kConnect, ErrorClass::kAddrNotAvail, unknown), "");
  EXPECT_EQ(LimitHint(Phase::kSocket, ErrorClass::kNoFds, unknown), "");
}

}  // namespace
}  // namespace socklab

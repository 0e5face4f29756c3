// The trace's timeline: the merge of two sources in time order, the meanings, and the counts.
#include "client/trace/trace_timeline.h"

#include "gtest/gtest.h"

namespace socklab::client {
namespace {

constexpr int64_t kMs = 1'000'000;

ConnectionSegment Segment(const std::string& src, uint16_t sport, const std::string& dst,
                          uint16_t dport, uint8_t flags, int connection = 1) {
  ConnectionSegment cs;
  cs.tcp.src = src;
  cs.tcp.src_port = sport;
  cs.tcp.dst = dst;
  cs.tcp.dst_port = dport;
  cs.tcp.flags = flags;
  cs.connection = connection;
  return cs;
}

KernelEvent State(int64_t at, const std::string& src, const std::string& dst,
                  const std::string& from, const std::string& to) {
  KernelEvent e;
  e.monotonic_ns = at;
  e.name = "inet_sock_set_state";
  e.src = src;
  e.dst = dst;
  e.sport = static_cast<uint16_t>(std::stoi(src.substr(src.rfind(':') + 1)));
  e.dport = static_cast<uint16_t>(std::stoi(dst.substr(dst.rfind(':') + 1)));
  e.old_state = from;
  e.new_state = to;
  e.text = from + " -> " + to;
  return e;
}

KernelEvent Reset(int64_t at, const std::string& name, const std::string& src,
                  const std::string& dst, const std::string& reason = "") {
  KernelEvent e = State(at, src, dst, "", "");
  e.name = name;
  e.reason = reason;
  e.old_state.clear();
  e.new_state.clear();
  e.text = name;
  return e;
}

TEST(TraceTimelineTest, MergesBothSourcesInTimeOrderAndHoldsBackTheNewest) {
  TraceTimeline t(/*kernel_events=*/true, /*capture=*/true);
  t.AddSegment(Segment("127.0.0.1", 40000, "127.0.0.1", 7300, kTcpSyn), 20 * kMs);
  t.AddEvent(State(10 * kMs, "127.0.0.1:40000", "127.0.0.1:7300", "CLOSE", "SYN_SENT"));
  t.AddEvent(State(30 * kMs, "127.0.0.1:40000", "127.0.0.1:7300", "SYN_SENT", "CLOSE"));
  std::vector<TraceLine> first = t.Take(25 * kMs);
  ASSERT_EQ(first.size(), 2u);
  EXPECT_FALSE(first[0].is_segment);
  EXPECT_TRUE(first[1].is_segment);
  std::vector<TraceLine> rest = t.Take(100 * kMs);
  ASSERT_EQ(rest.size(), 1u);
  EXPECT_EQ(rest[0].event.new_state, "CLOSE");
  EXPECT_EQ(t.counts().connect_failed, 1u);
  EXPECT_EQ(t.counts().connect_refused, 0u);
}

TEST(TraceTimelineTest, ARefusedConnectIsNamedByTheKernelsReason) {
  TraceTimeline t(true, true);
  const std::string client = "127.0.0.1:40000";
  const std::string server = "127.0.0.1:7300";
  t.AddSegment(Segment("127.0.0.1", 40000, "127.0.0.1", 7300, kTcpSyn), 1 * kMs);
  t.AddEvent(State(0, client, server, "CLOSE", "SYN_SENT"));
  t.AddEvent(Reset(2 * kMs, "tcp_send_reset", server, client, "NO_SOCKET"));
  t.AddSegment(Segment("127.0.0.1", 7300, "127.0.0.1", 40000, kTcpRst | kTcpAck), 2 * kMs);
  t.AddEvent(Reset(3 * kMs, "tcp_receive_reset", client, server));
  t.AddEvent(State(3 * kMs, client, server, "SYN_SENT", "CLOSE"));
  std::vector<TraceLine> lines = t.Take(10 * kMs);
  ASSERT_EQ(lines.size(), 6u);
  for (const TraceLine& line : lines) {
    if (line.is_segment && line.segment.tcp.Has(kTcpRst)) {
      EXPECT_EQ(line.meaning, "") << "the kernel's event beside it says why";
    }
    if (!line.is_segment && line.event.name == "tcp_send_reset") {
      EXPECT_NE(line.meaning.find("nothing listens"), std::string::npos) << line.meaning;
    }
  }
  EXPECT_EQ(t.counts().connect_refused, 1u);
  EXPECT_EQ(t.counts().resets_sent.at("NO_SOCKET"), 1u);
  EXPECT_EQ(t.counts().rst_not_from_this_tcp, 0u);
}

TEST(TraceTimelineTest, AnRstThisHostsTcpDidNotSendIsSaidToComeFromElsewhere) {
  TraceTimeline t(true, true);
  t.AddSegment(Segment("127.0.0.1", 7300, "127.0.0.1", 40000, kTcpRst | kTcpAck), 5 * kMs);
  std::vector<TraceLine> lines = t.Take(200 * kMs);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_NE(lines[0].meaning.find("did not send"), std::string::npos) << lines[0].meaning;
  EXPECT_EQ(t.counts().rst_not_from_this_tcp, 1u);
}

TEST(TraceTimelineTest, AnAbortiveCloseCountsAsClosedByResetWhateverTheOrder) {
  TraceTimeline t(true, true);
  const std::string client = "127.0.0.1:40000";
  const std::string server = "127.0.0.1:7300";
  t.AddSegment(Segment("127.0.0.1", 40000, "127.0.0.1", 7300, kTcpSyn), 0);
  t.AddEvent(State(1, client, server, "SYN_SENT", "ESTABLISHED"));
  t.AddEvent(State(2, server, client, "SYN_RECV", "ESTABLISHED"));
  // The closer's state changes before its RST leaves.
  t.AddEvent(State(3, server, client, "ESTABLISHED", "CLOSE"));
  t.AddEvent(Reset(4, "tcp_send_reset", server, client, "TCP_ABORT_ON_CLOSE"));
  t.AddEvent(Reset(5, "tcp_receive_reset", client, server));
  t.AddEvent(State(6, client, server, "ESTABLISHED", "CLOSE"));
  t.Take(kMs);
  EXPECT_EQ(t.counts().opened, 1u);
  EXPECT_EQ(t.counts().closed, 1u);
  EXPECT_EQ(t.counts().closed_by_reset, 1u);
  EXPECT_EQ(t.counts().resets_received, 1u);
}

TEST(TraceTimelineTest, EventsOfConnectionsNotOnTheWireAreAnotherNamespaces) {
  TraceTimeline t(true, true);
  t.AddEvent(State(1, "127.0.0.1:7300", "127.0.0.1:50000", "SYN_RECV", "ESTABLISHED"));
  t.AddEvent(State(2, "0.0.0.0:7300", "0.0.0.0:0", "CLOSE", "LISTEN"));
  std::vector<TraceLine> lines = t.Take(kMs);
  ASSERT_EQ(lines.size(), 1u) << "only the listener, which has no peer";
  EXPECT_EQ(lines[0].event.new_state, "LISTEN");
  EXPECT_EQ(t.counts().opened, 0u);
}

TEST(TraceTimelineTest, AnUnansweredSynIsExplainedWithItsDelay) {
  TraceTimeline t(true, true);
  ConnectionSegment syn = Segment("127.0.0.1", 40000, "127.0.0.1", 7300, kTcpSyn);
  t.AddSegment(syn, 0);
  syn.retransmission = true;
  t.AddSegment(syn, 1000 * kMs);
  std::vector<TraceLine> lines = t.Take(2000 * kMs);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0].meaning, "");
  EXPECT_NE(lines[1].meaning.find("SYN sent again 1.0 s after the first"), std::string::npos)
      << lines[1].meaning;
}

}  // namespace
}  // namespace socklab::client

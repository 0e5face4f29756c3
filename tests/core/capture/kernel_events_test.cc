#include "core/capture/kernel_events.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/base/unique_fd.h"
#include "core/net/netns.h"
#include "gtest/gtest.h"

namespace socklab {
namespace {

TEST(KernelEventsTest, ParsesTheFiveTracepointsLines) {
  std::optional<KernelEvent> state = ParseTraceLine(
      "         socklab-123     [001] b..2.  1234.500000: inet_sock_set_state: family=AF_INET "
      "protocol=IPPROTO_TCP sport=40000 dport=5000 saddr=127.0.0.1 daddr=127.0.0.1 "
      "saddrv6=::ffff:127.0.0.1 daddrv6=::ffff:127.0.0.1 oldstate=TCP_SYN_SENT "
      "newstate=TCP_ESTABLISHED");
  ASSERT_TRUE(state.has_value());
  EXPECT_EQ(state->monotonic_ns, 1'234'500'000'000);
  EXPECT_EQ(state->text, "SYN_SENT -> ESTABLISHED");
  EXPECT_EQ(state->src, "127.0.0.1:40000");
  EXPECT_EQ(state->dport, 5000);
  std::optional<KernelEvent> sent = ParseTraceLine(
      "  <idle>-0  [000] ..s2.  10.000001: tcp_send_reset: skbaddr=0000 skaddr=0000 "
      "src=127.0.0.1:5000 dest=127.0.0.1:40000 state=UNKNOWN reason=NO_SOCKET");
  ASSERT_TRUE(sent.has_value());
  EXPECT_EQ(sent->text, "RST sent (reason NO_SOCKET, state no socket)");
  EXPECT_EQ(sent->sport, 5000);
  EXPECT_EQ(sent->dport, 40000);
  std::optional<KernelEvent> abort = ParseTraceLine(
      "  x-1  [000] .....  10.5: tcp_send_reset: skbaddr=0 skaddr=0 src=[::1]:5000 "
      "dest=[::1]:40000 state=TCP_ESTABLISHED reason=TCP_ABORT_ON_CLOSE");
  ASSERT_TRUE(abort.has_value());
  EXPECT_EQ(abort->text, "RST sent (reason TCP_ABORT_ON_CLOSE, state ESTABLISHED)");
  EXPECT_EQ(abort->sport, 5000);
  std::optional<KernelEvent> rtx = ParseTraceLine(
      "  x-1  [000] .....  11.0: tcp_retransmit_skb: skbaddr=0 skaddr=0 family=AF_INET "
      "sport=40000 dport=5000 saddr=127.0.0.1 daddr=127.0.0.1 saddrv6=::1 daddrv6=::1 "
      "state=TCP_SYN_SENT err=0");
  ASSERT_TRUE(rtx.has_value());
  EXPECT_EQ(rtx->text, "retransmission (state SYN_SENT)");
  EXPECT_FALSE(ParseTraceLine("# tracer: nop").has_value());
  EXPECT_FALSE(ParseTraceLine("  x-1 [000] ..... 1.0: sched_switch: prev=a").has_value());
  // UDP (or SCTP) state changes are not TCP's.
  EXPECT_FALSE(ParseTraceLine("  x-1  [000] .....  1.0: inet_sock_set_state: family=AF_INET "
                              "protocol=IPPROTO_SCTP sport=1 dport=2 saddr=1.1.1.1 "
                              "daddr=1.1.1.1 saddrv6=::1 daddrv6=::1 oldstate=TCP_CLOSE "
                              "newstate=TCP_LISTEN")
                   .has_value());
}

// A dual-stack socket (listening on ::) with an IPv4 peer: the kernel prints IPv4-mapped
// addresses, the wire carries plain IPv4; the event names the ends as the wire does, so that it
// is matched with its connection's segments (repro and trace keep only those).
TEST(KernelEventsTest, ADualStackSocketsIpv4PeerIsNamedAsOnTheWire) {
  std::optional<KernelEvent> e = ParseTraceLine(
      "  x-1  [000] .....  2.0: inet_sock_set_state: family=AF_INET6 protocol=IPPROTO_TCP "
      "sport=8080 dport=40000 saddr=127.0.0.1 daddr=127.0.0.1 saddrv6=::ffff:127.0.0.1 "
      "daddrv6=::ffff:127.0.0.1 oldstate=TCP_SYN_RECV newstate=TCP_ESTABLISHED");
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->src, "127.0.0.1:8080");
  EXPECT_EQ(e->dst, "127.0.0.1:40000");
  EXPECT_EQ(e->old_state, "SYN_RECV");
  EXPECT_EQ(e->new_state, "ESTABLISHED");
  std::optional<KernelEvent> v6 = ParseTraceLine(
      "  x-1  [000] .....  2.0: tcp_receive_reset: skbaddr=0 skaddr=0 family=AF_INET6 "
      "sport=8080 dport=40000 saddr=0.0.0.0 daddr=0.0.0.0 saddrv6=::1 daddrv6=::1");
  ASSERT_TRUE(v6.has_value());
  EXPECT_EQ(v6->src, "[::1]:8080");
}

// A refused connect on lo, traced for real in a child (the trace may mount tracefs privately):
// the reset the kernel sent with its reason, the one the client received, the client's states.
// The instance is gone afterwards.
// Found by tests/fuzz/capture_fuzz.cc: the stamp in nanoseconds overflowed int64.
TEST(KernelEventsTest, AStampBeyondInt64NanosecondsIsNoEvent) {
  EXPECT_FALSE(ParseTraceLine("  x-1  [000] .....  12342500000000.0: inet_sock_set_state: "
                              "family=AF_INET protocol=IPPROTO_TCP sport=1 dport=2")
                   .has_value());
  EXPECT_FALSE(ParseTraceLine("  x-1  [000] .....  -1.0: inet_sock_set_state: "
                              "family=AF_INET protocol=IPPROTO_TCP sport=1 dport=2")
                   .has_value());
}

TEST(KernelEventsTest, ARefusedConnectShowsTheResetsReasonAndLeavesNoInstance) {
  if (geteuid() != 0) {
    GTEST_SKIP() << "tracefs needs root";
  }
  absl::StatusOr<ChildOutput> child = RunInChild({}, [] {
    UniqueFd holder(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in sin{};
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(holder.get(), reinterpret_cast<sockaddr*>(&sin), sizeof(sin));
    socklen_t len = sizeof(sin);
    getsockname(holder.get(), reinterpret_cast<sockaddr*>(&sin), &len);
    std::string out;
    std::string instance;
    {
      absl::StatusOr<std::unique_ptr<KernelEventTrace>> trace = KernelEventTrace::Open();
      if (!trace.ok()) {
        return absl::StrCat("skip: ", trace.status().message());
      }
      instance = (*trace)->directory();
      (*trace)->WatchPort(ntohs(sin.sin_port)).IgnoreError();
      UniqueFd client(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
      connect(client.get(), reinterpret_cast<sockaddr*>(&sin), sizeof(sin));
      absl::StatusOr<std::vector<KernelEvent>> events = (*trace)->Read();
      if (!events.ok()) {
        return std::string(events.status().message());
      }
      for (const KernelEvent& e : *events) {
        absl::StrAppend(&out, e.text, "\n");
      }
    }
    absl::StatusOr<std::vector<std::string>> left = TraceInstances();
    const std::string mine = instance.substr(instance.rfind('/') + 1);
    const bool gone = left.ok() && std::find(left->begin(), left->end(), mine) == left->end();
    absl::StrAppend(&out, "left: ", gone ? "" : "?", "\n");
    return out;
  });
  ASSERT_TRUE(child.ok()) << child.status();
  if (child->output.starts_with("skip: ")) {
    GTEST_SKIP() << child->output;
  }
  EXPECT_NE(child->output.find("CLOSE -> SYN_SENT\n"), std::string::npos) << child->output;
  EXPECT_NE(child->output.find("RST sent (reason NO_SOCKET, state no socket)\n"), std::string::npos)
      << child->output;
  EXPECT_NE(child->output.find("RST received\n"), std::string::npos) << child->output;
  EXPECT_NE(child->output.find("SYN_SENT -> CLOSE\n"), std::string::npos) << child->output;
  // The child's own instance (socklab-PID, named in the output's last line) is gone.
  const size_t left = child->output.find("left: ");
  ASSERT_NE(left, std::string::npos);
  EXPECT_EQ(child->output.find("?", left), std::string::npos) << child->output;
}

}  // namespace
}  // namespace socklab

#include "core/sysinfo/tcp_counters.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <string>

#include "absl/strings/str_cat.h"
#include "core/net/netns.h"
#include "core/net/socket.h"
#include "gtest/gtest.h"

namespace socklab {
namespace {

TEST(ParseSnmpText, PairsNamesWithValues) {
  TcpCounters counters = ParseSnmpText(
      "Ip: Forwarding DefaultTTL\n"
      "Ip: 1 64\n"
      "Odd: line without partner\n"
      "Tcp: RtoAlgorithm ActiveOpens OutRsts\n"
      "Tcp: 1 42 7\n");
  EXPECT_EQ(counters["Tcp.ActiveOpens"], 42);
  EXPECT_EQ(counters["Tcp.OutRsts"], 7);
  EXPECT_EQ(counters["Ip.DefaultTTL"], 64);
  EXPECT_EQ(counters.count("Odd.line"), 0u);
}

TEST(DiffCounters, ReportsOnlyWhatMoved) {
  TcpCounters before = {{"Tcp.OutRsts", 5}, {"Tcp.ActiveOpens", 10}, {"Ip.InReceives", 1}};
  TcpCounters after = {{"Tcp.OutRsts", 8}, {"Tcp.ActiveOpens", 10}, {"Ip.InReceives", 4}};
  std::vector<CounterDelta> deltas = DiffCounters(before, after);
  ASSERT_EQ(deltas.size(), 1u);
  EXPECT_EQ(CounterDeltasToText(deltas), "Tcp.OutRsts +3");
  EXPECT_EQ(DiffCounters(before, after, /*all=*/true).size(), 2u);
}

TEST(ReadTcpCounters, ARefusedConnectMovesTheKernelsCounters) {
  absl::StatusOr<TcpCounters> before = ReadTcpCounters();
  ASSERT_TRUE(before.ok()) << before.status();
  absl::StatusOr<UniqueFd> holder = CreateTcpSocket(AF_INET, Blocking::kBlocking);
  ASSERT_TRUE(holder.ok());
  ASSERT_TRUE(Bind(holder->get(), SocketAddress::Loopback(AF_INET, 0)).ok());
  ASSERT_FALSE(ConnectTcp(*LocalAddressOf(holder->get())).ok());
  absl::StatusOr<TcpCounters> after = ReadTcpCounters();
  ASSERT_TRUE(after.ok());
  // Our SYN counts as an active open that failed, and the kernel answered it with an RST.
  EXPECT_GE((*after)["Tcp.ActiveOpens"] - (*before)["Tcp.ActiveOpens"], 1);
  EXPECT_GE((*after)["Tcp.AttemptFails"] - (*before)["Tcp.AttemptFails"], 1);
  EXPECT_GE((*after)["Tcp.OutRsts"] - (*before)["Tcp.OutRsts"], 1);
}

TEST(ExplanatoryCounterNames, IncludeTheIpAndUdpCountersOfErrorsBeforeTcp) {
  const std::vector<absl::string_view>& names = ExplanatoryCounterNames();
  for (absl::string_view name : {"Ip.OutNoRoutes", "Ip.OutDiscards", "Udp.SndbufErrors"}) {
    EXPECT_NE(std::find(names.begin(), names.end(), name), names.end()) << name;
  }
}

// In a private namespace (only lo, no route to anything else) the counters move only for what
// this test does: a connect() without a route, and a fragmented datagram over a tiny send buffer.
TEST(ReadTcpCounters, NoRouteAndUdpNoBufsMoveTheirCountersInANamespace) {
  if (absl::Status s = CheckNetnsAvailable(); !s.ok()) {
    GTEST_SKIP() << s;
  }
  absl::StatusOr<ChildOutput> out = RunInChild({.new_netns = true}, [] {
    std::string text;
    absl::StatusOr<TcpCounters> before = ReadTcpCounters();
    UniqueFd tcp(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(80);
    to.sin_addr.s_addr = htonl(0xC0000201);  // 192.0.2.1, TEST-NET-1
    int c = connect(tcp.get(), reinterpret_cast<const sockaddr*>(&to), sizeof(to));
    absl::StrAppend(&text, "connect ", c == 0 ? 0 : errno, ";");
    if (!SetLoopbackMtu(1500).ok()) {
      return std::string("mtu failed");
    }
    UniqueFd udp(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    int one = 1;
    setsockopt(udp.get(), SOL_SOCKET, SO_SNDBUF, &one, sizeof(one));
    to.sin_port = htons(9);
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    std::string datagram(60000, 'x');
    ssize_t n = sendto(udp.get(), datagram.data(), datagram.size(), 0,
                       reinterpret_cast<const sockaddr*>(&to), sizeof(to));
    absl::StrAppend(&text, " sendto ", n >= 0 ? 0 : errno, ";");
    absl::StatusOr<TcpCounters> after = ReadTcpCounters();
    if (!before.ok() || !after.ok()) {
      return std::string("unreadable");
    }
    absl::StrAppend(&text, " ", CounterDeltasToText(DiffCounters(*before, *after)));
    return text;
  });
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->output, absl::StrCat("connect ", ENETUNREACH, "; sendto ", ENOBUFS,
                                      "; Ip.OutNoRoutes +1, Ip.OutDiscards +1, "
                                      "Udp.SndbufErrors +1"));
}

}  // namespace
}  // namespace socklab

#include "core/sysinfo/tcp_counters.h"

#include <sys/socket.h>

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

}  // namespace
}  // namespace socklab

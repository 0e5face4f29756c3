#include "core/tcpstat/filter.h"

#include "core/tcpstat/tally.h"
#include "gtest/gtest.h"
#include "tests/testing/tcp_sockets.h"

namespace socklab::tcpstat {
namespace {

TcpSocket Socket(const char* local, const char* remote, TcpState state) {
  return ::socklab::testing::MakeTcpSocket(local, remote, state);
}

TEST(EndpointTest, ParsesForms) {
  absl::StatusOr<Endpoint> e = Endpoint::Parse("127.0.0.1");
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_TRUE(e->address.has_value());
  EXPECT_EQ(e->port, 0);
  EXPECT_EQ(e->ToString(), "127.0.0.1");

  e = Endpoint::Parse("127.0.0.1:7007");
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->port, 7007);
  EXPECT_EQ(e->ToString(), "127.0.0.1:7007");

  e = Endpoint::Parse("::1");
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->ToString(), "[::1]");
  e = Endpoint::Parse("[::1]");
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->port, 0);
  e = Endpoint::Parse("[::1]:7007");
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->ToString(), "[::1]:7007");

  e = Endpoint::Parse("*:7007");
  ASSERT_TRUE(e.ok());
  EXPECT_FALSE(e->address.has_value());
  EXPECT_EQ(e->port, 7007);
  EXPECT_EQ(Endpoint::Parse(":7007")->port, 7007);

  for (const char* bad : {"", "nohost", "1.2.3.4:99999", "*:0", "*:", "[::1", "example.com:80"}) {
    absl::StatusOr<Endpoint> parsed = Endpoint::Parse(bad);
    EXPECT_FALSE(parsed.ok()) << bad;
    if (!parsed.ok()) {
      EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    }
  }
}

TEST(EndpointTest, Ipv4MatchesMappedAddress) {
  Endpoint e = *Endpoint::Parse("127.0.0.1:7007");
  EXPECT_TRUE(e.Matches(*SocketAddress::Parse("127.0.0.1:7007")));
  EXPECT_TRUE(e.Matches(*SocketAddress::Parse("[::ffff:127.0.0.1]:7007")));
  EXPECT_FALSE(e.Matches(*SocketAddress::Parse("127.0.0.2:7007")));
  EXPECT_FALSE(e.Matches(*SocketAddress::Parse("127.0.0.1:7008")));
  EXPECT_FALSE(e.Matches(*SocketAddress::Parse("[::1]:7007")));
  // The mapped form is the same filter.
  Endpoint mapped = *Endpoint::Parse("[::ffff:127.0.0.1]:7007");
  EXPECT_TRUE(mapped.Matches(*SocketAddress::Parse("127.0.0.1:7007")));
  EXPECT_TRUE(mapped.Matches(*SocketAddress::Parse("[::ffff:127.0.0.1]:7007")));
}

// As `ss -tan src 127.0.0.1:7007`: a wildcard listener is bound to :: or 0.0.0.0, not to
// 127.0.0.1, so only the connections it accepted match; *:7007 finds the listener.
TEST(EndpointTest, WildcardListenersMatchOnlyByPort) {
  TcpSocket dual_stack = Socket("[::]:7007", "[::]:0", TcpState::kListen);
  TcpSocket any_v4 = Socket("0.0.0.0:7007", "0.0.0.0:0", TcpState::kListen);
  TcpSocket accepted =
      Socket("[::ffff:127.0.0.1]:7007", "[::ffff:127.0.0.1]:40000", TcpState::kEstablished);
  Filter by_address{.local = *Endpoint::Parse("127.0.0.1:7007")};
  EXPECT_FALSE(by_address.Matches(dual_stack));
  EXPECT_FALSE(by_address.Matches(any_v4));
  EXPECT_TRUE(by_address.Matches(accepted));
  Filter by_port{.local = *Endpoint::Parse("*:7007")};
  EXPECT_TRUE(by_port.Matches(dual_stack));
  EXPECT_TRUE(by_port.Matches(any_v4));
  EXPECT_TRUE(by_port.Matches(accepted));
  // The wildcards by name.
  EXPECT_TRUE(Filter{.local = *Endpoint::Parse("[::]:7007")}.Matches(dual_stack));
  EXPECT_FALSE(Filter{.local = *Endpoint::Parse("[::]:7007")}.Matches(any_v4));
  EXPECT_TRUE(Filter{.local = *Endpoint::Parse("0.0.0.0:7007")}.Matches(any_v4));
}

TEST(FilterTest, AllFieldsMustMatch) {
  TcpSocket a = Socket("127.0.0.1:7007", "127.0.0.1:40000", TcpState::kEstablished);
  TcpSocket b = Socket("127.0.0.1:40000", "127.0.0.1:7007", TcpState::kTimeWait);
  TcpSocket c = Socket("[::1]:7007", "[::1]:40001", TcpState::kEstablished);
  TcpSocket d = Socket("127.0.0.1:9000", "127.0.0.1:40002", TcpState::kEstablished);

  Filter any;
  EXPECT_TRUE(any.Matches(a) && any.Matches(b) && any.Matches(c) && any.Matches(d));
  EXPECT_EQ(any.ToString(), "all sockets");

  Filter port{.port = 7007};
  EXPECT_TRUE(port.Matches(a));
  EXPECT_TRUE(port.Matches(b));  // remote port
  EXPECT_TRUE(port.Matches(c));
  EXPECT_FALSE(port.Matches(d));

  Filter v4{.port = 7007, .family = AF_INET};
  EXPECT_FALSE(v4.Matches(c));
  Filter v6{.family = AF_INET6};
  EXPECT_TRUE(v6.Matches(c));
  EXPECT_FALSE(v6.Matches(a));

  Filter tw{.port = 7007, .states = TcpStateSet::Of({TcpState::kTimeWait})};
  EXPECT_FALSE(tw.Matches(a));
  EXPECT_TRUE(tw.Matches(b));
  EXPECT_EQ(tw.ToString(), "port 7007, state TIME_WAIT");

  Filter local{.local = *Endpoint::Parse("*:7007")};
  EXPECT_TRUE(local.Matches(a));
  EXPECT_FALSE(local.Matches(b));
  Filter remote{.remote = *Endpoint::Parse("127.0.0.1:7007")};
  EXPECT_TRUE(remote.Matches(b));
  EXPECT_FALSE(remote.Matches(a));
  EXPECT_EQ(remote.ToString(), "remote 127.0.0.1:7007");
}

TEST(TallyTest, CountsAndJson) {
  TcpSocket listener = Socket("127.0.0.1:7007", "0.0.0.0:0", TcpState::kListen);
  listener.rx_queue = 3;
  listener.accept_backlog = 128;
  std::vector<TcpSocket> sockets = {listener,
                                    Socket("127.0.0.1:7007", "127.0.0.1:1", TcpState::kEstablished),
                                    Socket("127.0.0.1:7007", "127.0.0.1:2", TcpState::kEstablished),
                                    Socket("127.0.0.1:3", "127.0.0.1:7007", TcpState::kTimeWait)};
  StateTally tally = TallyStates(sockets);
  EXPECT_EQ(tally.total, 4u);
  EXPECT_EQ(tally.Count(TcpState::kEstablished), 2u);
  EXPECT_EQ(tally.Count(TcpState::kTimeWait), 1u);
  EXPECT_EQ(tally.Count(TcpState::kListen), 1u);
  EXPECT_EQ(tally.listen_queue, 3u);
  EXPECT_EQ(tally.listen_backlog, 128u);
  EXPECT_EQ(TallyToString(tally), "ESTABLISHED 2, TIME_WAIT 1, LISTEN 1");
  nlohmann::json json = TallyToJson(tally);
  EXPECT_EQ(json["ESTABLISHED"], 2);
  EXPECT_EQ(json["CLOSE_WAIT"], 0);
  EXPECT_EQ(json["total"], 4);
  EXPECT_FALSE(json.contains("NEW_SYN_RECV"));
  EXPECT_EQ(TallyToString(StateTally{}), "no sockets");
}

}  // namespace
}  // namespace socklab::tcpstat

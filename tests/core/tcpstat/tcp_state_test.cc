#include "core/tcpstat/tcp_state.h"

#include "gtest/gtest.h"

namespace socklab::tcpstat {
namespace {

TEST(TcpStateTest, NamesMatchKernelCodes) {
  EXPECT_EQ(TcpStateName(TcpState::kEstablished), "ESTABLISHED");
  EXPECT_EQ(TcpStateName(TcpState::kListen), "LISTEN");
  EXPECT_EQ(TcpStateName(TcpState::kNewSynRecv), "NEW_SYN_RECV");
  EXPECT_EQ(static_cast<int>(TcpState::kListen), 0x0A);
  for (int code = kMinTcpState; code <= kMaxTcpState; ++code) {
    std::optional<TcpState> state = TcpStateFromCode(code);
    ASSERT_TRUE(state.has_value()) << code;
    EXPECT_EQ(static_cast<int>(*state), code);
    EXPECT_EQ(ParseTcpStateName(TcpStateName(*state)), state);
  }
  EXPECT_FALSE(TcpStateFromCode(0).has_value());
  EXPECT_FALSE(TcpStateFromCode(13).has_value());
}

TEST(TcpStateTest, ParsesUserSpellings) {
  EXPECT_EQ(ParseTcpStateName("time-wait"), TcpState::kTimeWait);
  EXPECT_EQ(ParseTcpStateName("timewait"), TcpState::kTimeWait);
  EXPECT_EQ(ParseTcpStateName("Close_Wait"), TcpState::kCloseWait);
  EXPECT_EQ(ParseTcpStateName("estab"), TcpState::kEstablished);
  EXPECT_EQ(ParseTcpStateName("fin-wait-2"), TcpState::kFinWait2);
  EXPECT_FALSE(ParseTcpStateName("").has_value());
  EXPECT_FALSE(ParseTcpStateName("bogus").has_value());
}

TEST(TcpStateTest, StateSets) {
  absl::StatusOr<TcpStateSet> set = ParseTcpStateSet("established, time_wait");
  ASSERT_TRUE(set.ok()) << set.status();
  EXPECT_TRUE(set->Contains(TcpState::kEstablished));
  EXPECT_TRUE(set->Contains(TcpState::kTimeWait));
  EXPECT_FALSE(set->Contains(TcpState::kListen));
  EXPECT_EQ(set->bits(), (1u << 1) | (1u << 6));
  EXPECT_EQ(TcpStateSetToString(*set), "ESTABLISHED,TIME_WAIT");

  // SYN_RECV brings NEW_SYN_RECV along: request sockets are both.
  set = ParseTcpStateSet("syn-recv");
  ASSERT_TRUE(set.ok());
  EXPECT_TRUE(set->Contains(TcpState::kNewSynRecv));

  EXPECT_TRUE(ParseTcpStateSet("all")->IsAll());
  EXPECT_TRUE(TcpStateSet().IsAll());
  EXPECT_FALSE(TcpStateSet::All().Contains(static_cast<TcpState>(0)));
  EXPECT_EQ(TcpStateSetToString(TcpStateSet::All()), "all");

  absl::StatusOr<TcpStateSet> bad = ParseTcpStateSet("established,nope");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("'nope'"), absl::string_view::npos);
  EXPECT_FALSE(ParseTcpStateSet(",").ok());
}

}  // namespace
}  // namespace socklab::tcpstat

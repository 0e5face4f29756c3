#include "core/capture/conversation.h"

#include <vector>

#include "gtest/gtest.h"

namespace socklab {
namespace {

TcpSegment Seg(uint16_t from, uint16_t to, uint8_t flags, uint32_t seq, uint32_t ack,
               uint32_t payload = 0) {
  TcpSegment s;
  s.src = s.dst = "127.0.0.1";
  s.src_port = from;
  s.dst_port = to;
  s.flags = flags;
  s.seq = seq;
  s.ack = ack;
  s.payload = payload;
  return s;
}

TEST(ConversationTest, NumbersRelativeToEachSidesSynAndNamesTheClient) {
  std::vector<ConnectionSegment> c = FollowConnections({
      Seg(40000, 80, kTcpSyn, 1000, 0),
      Seg(80, 40000, kTcpSyn | kTcpAck, 5000, 1001),
      Seg(40000, 80, kTcpAck, 1001, 5001),
      Seg(40000, 80, kTcpPsh | kTcpAck, 1001, 5001, 10),
      Seg(80, 40000, kTcpAck, 5001, 1011),
      Seg(40000, 80, kTcpFin | kTcpAck, 1011, 5001),
  });
  ASSERT_EQ(c.size(), 6u);
  EXPECT_TRUE(c[0].from_client);
  EXPECT_FALSE(c[1].from_client);
  EXPECT_EQ(c[1].rel_seq, 0u);
  EXPECT_EQ(c[1].rel_ack, 1u);
  EXPECT_EQ(c[3].rel_seq, 1u);
  EXPECT_EQ(c[4].rel_ack, 11u);
  EXPECT_EQ(c[5].rel_seq, 11u);
  EXPECT_EQ(DirectionText(c[1]), "server -> client");
  EXPECT_EQ(SegmentHeaderText(c[3]), "PSH/ACK seq 1 ack 1 win 0 len 10");
  for (const ConnectionSegment& s : c) {
    EXPECT_EQ(s.connection, 1);
    EXPECT_FALSE(s.retransmission);
  }
}

TEST(ConversationTest, WindowsAreScaledOnceBothSynsAgreed) {
  TcpSegment syn = Seg(40000, 80, kTcpSyn, 1000, 0);
  syn.window = 65495;
  syn.window_scale = 7;
  TcpSegment synack = Seg(80, 40000, kTcpSyn | kTcpAck, 5000, 1001);
  synack.window = 65483;
  synack.window_scale = 10;
  TcpSegment ack = Seg(40000, 80, kTcpAck, 1001, 5001);
  ack.window = 512;
  TcpSegment back = Seg(80, 40000, kTcpAck, 5001, 1001);
  back.window = 64;
  std::vector<ConnectionSegment> c = FollowConnections({syn, synack, ack, back});
  EXPECT_EQ(c[0].window, 65495u);
  EXPECT_EQ(c[1].window, 65483u);
  EXPECT_EQ(c[2].window, 512u << 7);
  EXPECT_EQ(c[3].window, 64u << 10);
  // Scaling needs both sides' option: one SYN without it and every window is as sent.
  syn.window_scale.reset();
  c = FollowConnections({syn, synack, ack, back});
  EXPECT_EQ(c[2].window, 512u);
  EXPECT_EQ(c[3].window, 64u);
}

TEST(ConversationTest, ARepeatedSynOrDataIsARetransmissionAPureAckIsNot) {
  std::vector<ConnectionSegment> c = FollowConnections({
      Seg(40000, 80, kTcpSyn, 1000, 0),
      Seg(40000, 80, kTcpSyn, 1000, 0),
      Seg(80, 40000, kTcpSyn | kTcpAck, 5000, 1001),
      Seg(40000, 80, kTcpAck, 1001, 5001),
      Seg(40000, 80, kTcpAck, 1001, 5001),
      Seg(40000, 80, kTcpPsh | kTcpAck, 1001, 5001, 10),
      Seg(40000, 80, kTcpPsh | kTcpAck, 1001, 5001, 10),
  });
  std::vector<bool> retransmitted;
  for (const ConnectionSegment& s : c) {
    retransmitted.push_back(s.retransmission);
  }
  EXPECT_EQ(retransmitted, (std::vector<bool>{false, true, false, false, false, false, true}));
}

TEST(ConversationTest, ANewSynOnAFinishedFourTupleIsANewConnection) {
  std::vector<ConnectionSegment> c = FollowConnections({
      Seg(40000, 80, kTcpSyn, 1000, 0),
      Seg(80, 40000, kTcpRst | kTcpAck, 0, 1001),
      Seg(40000, 80, kTcpSyn, 777, 0),
      Seg(40001, 80, kTcpSyn, 3000, 0),
  });
  EXPECT_EQ(c[1].connection, 1);
  EXPECT_EQ(c[2].connection, 2);
  EXPECT_EQ(c[2].rel_seq, 0u);
  EXPECT_EQ(c[3].connection, 3);
}

TEST(ConversationTest, WithoutItsSynTheHigherPortIsTheClient) {
  std::vector<ConnectionSegment> c = FollowConnections({
      Seg(80, 40000, kTcpAck, 5000, 1000),
      Seg(40000, 80, kTcpAck, 1000, 5000),
  });
  EXPECT_FALSE(c[0].from_client);
  EXPECT_TRUE(c[1].from_client);
}

TEST(ConversationTest, SimultaneousOpenTheFirstSynNamesTheClient) {
  std::vector<ConnectionSegment> c = FollowConnections({
      Seg(6001, 6002, kTcpSyn, 100, 0),
      Seg(6002, 6001, kTcpSyn, 900, 0),
      Seg(6002, 6001, kTcpSyn | kTcpAck, 900, 101),
      Seg(6001, 6002, kTcpSyn | kTcpAck, 100, 901),
  });
  EXPECT_TRUE(c[0].from_client);
  EXPECT_FALSE(c[1].from_client);
  EXPECT_EQ(c[2].rel_ack, 1u);
  // The SYN/ACKs repeat each side's SYN: in a simultaneous open that is the protocol, and the
  // sequence number is the same one.
  EXPECT_EQ(c[3].rel_seq, 0u);
  EXPECT_FALSE(c[3].retransmission);
}

}  // namespace
}  // namespace socklab

#include "core/capture/tcp_segment.h"

#include <pcap/dlt.h>

#include <vector>

#include "gtest/gtest.h"

namespace socklab {
namespace {

// An Ethernet frame as Linux's lo hands it to libpcap (zero MACs), IPv4, and a TCP SYN with
// the options Linux sends: MSS, SACK permitted, timestamps, NOP, window scale.
std::vector<uint8_t> LoopbackSyn(uint16_t payload = 0) {
  std::vector<uint8_t> f(14, 0);
  f[12] = 0x08;  // IPv4
  const uint16_t ip_total = static_cast<uint16_t>(20 + 40 + payload);
  std::vector<uint8_t> ip = {0x45,
                             0,
                             static_cast<uint8_t>(ip_total >> 8),
                             static_cast<uint8_t>(ip_total),
                             0,
                             0,
                             0x40,
                             0,
                             64,
                             6,
                             0,
                             0,
                             127,
                             0,
                             0,
                             1,
                             127,
                             0,
                             0,
                             2};
  f.insert(f.end(), ip.begin(), ip.end());
  std::vector<uint8_t> tcp = {
      0x9c, 0x40, 0x1f, 0x90,                    // 40000 -> 8080
      0x11, 0x22, 0x33, 0x44,                    // seq
      0,    0,    0,    0,                       // ack
      0xa0, 0x02,                                // 40-byte header, SYN
      0xff, 0xd7,                                // window 65495
      0,    0,    0,    0,                       // checksum, urgent
      2,    4,    0xff, 0xd7,                    // MSS 65495
      4,    2,                                   // SACK permitted
      8,    10,   0,    0,    0, 7, 0, 0, 0, 0,  // timestamps 7, 0
      1,                                         // NOP
      3,    3,    7,                             // window scale 7
  };
  f.insert(f.end(), tcp.begin(), tcp.end());
  f.resize(f.size() + payload, 'x');
  return f;
}

TEST(TcpSegmentTest, DecodesALoopbackSynWithItsOptions) {
  std::vector<uint8_t> frame = LoopbackSyn();
  std::optional<TcpSegment> s = ParseTcpFrame(DLT_EN10MB, frame.data(), frame.size(), frame.size());
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->src, "127.0.0.1");
  EXPECT_EQ(s->dst, "127.0.0.2");
  EXPECT_EQ(s->src_port, 40000);
  EXPECT_EQ(s->dst_port, 8080);
  EXPECT_EQ(s->seq, 0x11223344u);
  EXPECT_EQ(s->flags, kTcpSyn);
  EXPECT_EQ(s->window, 65495);
  EXPECT_EQ(s->payload, 0u);
  EXPECT_EQ(s->mss, 65495);
  EXPECT_EQ(s->window_scale, 7);
  EXPECT_TRUE(s->sack_permitted);
  EXPECT_EQ(s->ts_val, 7u);
  EXPECT_EQ(TcpOptionsText(*s), "mss 65495, sackOK, ts, wscale 7");
}

TEST(TcpSegmentTest, PayloadComesFromTheIpLengthEvenWhenTheSnapshotIsShort) {
  std::vector<uint8_t> frame = LoopbackSyn(1000);
  const size_t snapshot = 14 + 20 + 40 + 10;  // headers and 10 bytes of the 1000
  std::optional<TcpSegment> s = ParseTcpFrame(DLT_EN10MB, frame.data(), snapshot, frame.size());
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->payload, 1000u);
}

TEST(TcpSegmentTest, RejectsWhatIsNotAWholeTcpHeader) {
  std::vector<uint8_t> frame = LoopbackSyn();
  EXPECT_FALSE(ParseTcpFrame(DLT_EN10MB, frame.data(), 14 + 20 + 10, frame.size()).has_value());
  frame[14 + 9] = 17;  // UDP
  EXPECT_FALSE(ParseTcpFrame(DLT_EN10MB, frame.data(), frame.size(), frame.size()).has_value());
  frame = LoopbackSyn();
  frame[12] = 0x08;
  frame[13] = 0x06;  // ARP
  EXPECT_FALSE(ParseTcpFrame(DLT_EN10MB, frame.data(), frame.size(), frame.size()).has_value());
}

TEST(TcpSegmentTest, MalformedOptionsStopTheOptionParserNotTheSegment) {
  std::vector<uint8_t> frame = LoopbackSyn();
  frame[14 + 20 + 20 + 1] = 200;  // MSS option claims 200 bytes
  std::optional<TcpSegment> s = ParseTcpFrame(DLT_EN10MB, frame.data(), frame.size(), frame.size());
  ASSERT_TRUE(s.has_value());
  EXPECT_FALSE(s->mss.has_value());
  EXPECT_EQ(s->flags, kTcpSyn);
}

TEST(TcpSegmentTest, FlagsReadTheWayTracesShowThem) {
  EXPECT_EQ(TcpFlagsText(kTcpSyn), "SYN");
  EXPECT_EQ(TcpFlagsText(kTcpSyn | kTcpAck), "SYN/ACK");
  EXPECT_EQ(TcpFlagsText(kTcpPsh | kTcpAck), "PSH/ACK");
  EXPECT_EQ(TcpFlagsText(kTcpFin | kTcpAck), "FIN/ACK");
  EXPECT_EQ(TcpFlagsText(kTcpRst | kTcpAck), "RST/ACK");
  EXPECT_EQ(TcpFlagsText(kTcpRst), "RST");
  EXPECT_EQ(TcpFlagsText(kTcpAck), "ACK");
}

}  // namespace
}  // namespace socklab

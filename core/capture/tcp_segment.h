#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

namespace socklab {

// One TCP segment as it crossed an interface, decoded from a captured frame. Plain data; thread
// affinity: none.
struct TcpSegment {
  int64_t wall_ns = 0;  // capture timestamp (CLOCK_REALTIME, as libpcap gives it)
  std::string src;      // "127.0.0.1" or "::1"
  std::string dst;
  uint16_t src_port = 0;
  uint16_t dst_port = 0;
  // The IP header's TTL (IPv6: hop limit) and IPv4 identification: a reset a firewall builds
  // (nftables' reject with tcp reset) carries other values than one the peer's TCP sends.
  uint8_t ttl = 0;
  std::optional<uint16_t> ip_id;
  uint32_t seq = 0;
  uint32_t ack = 0;
  uint8_t flags = 0;     // the TCP header's flag byte (kTcp* below)
  uint16_t window = 0;   // as on the wire: not multiplied by the window scale
  uint32_t payload = 0;  // bytes of data (from the IP lengths, so a short snapshot still counts)
  // Options of the segment (SYNs carry the interesting ones).
  std::optional<uint16_t> mss;
  std::optional<uint8_t> window_scale;
  bool sack_permitted = false;
  std::optional<uint32_t> ts_val;
  std::optional<uint32_t> ts_ecr;

  bool Has(uint8_t flag) const { return (flags & flag) != 0; }
};

inline constexpr uint8_t kTcpFin = 0x01;
inline constexpr uint8_t kTcpSyn = 0x02;
inline constexpr uint8_t kTcpRst = 0x04;
inline constexpr uint8_t kTcpPsh = 0x08;
inline constexpr uint8_t kTcpAck = 0x10;
inline constexpr uint8_t kTcpUrg = 0x20;

// Decodes a frame of libpcap link type `link_type` (DLT_EN10MB as Linux's lo reports it,
// DLT_LINUX_SLL for "any", DLT_RAW) carrying IPv4 or IPv6 and TCP. `captured` bytes are present
// of a frame that was `original_length` long. nullopt for anything else (ARP, UDP, a truncated
// TCP header, an IP fragment after the first). Pure.
std::optional<TcpSegment> ParseTcpFrame(int link_type, const uint8_t* data, size_t captured,
                                        size_t original_length);

// The flags as people read them in traces: "SYN", "SYN/ACK", "PSH/ACK", "FIN/ACK", "RST/ACK",
// "RST", "ACK" (ACK always last). Pure.
std::string TcpFlagsText(uint8_t flags);

// The options worth showing: "mss 65495, sackOK, ts, wscale 7"; "" when none. Pure.
std::string TcpOptionsText(const TcpSegment& segment);

}  // namespace socklab

#include "core/capture/tcp_segment.h"

#include <arpa/inet.h>
#include <pcap/dlt.h>

#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace socklab {
namespace {

constexpr uint16_t kEtherTypeIpv4 = 0x0800;
constexpr uint16_t kEtherTypeIpv6 = 0x86dd;
constexpr uint16_t kEtherTypeVlan = 0x8100;
constexpr uint8_t kIpProtoTcp = 6;

uint16_t Be16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }
uint32_t Be32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) << 24 | static_cast<uint32_t>(p[1]) << 16 |
         static_cast<uint32_t>(p[2]) << 8 | p[3];
}

std::string AddressText(int family, const uint8_t* bytes) {
  char text[INET6_ADDRSTRLEN] = {};
  inet_ntop(family, bytes, text, sizeof(text));
  return text;
}

// Reads the options area of a TCP header (RFC 9293 3.2, RFC 7323, RFC 2018).
void ParseOptions(const uint8_t* p, size_t length, TcpSegment& s) {
  size_t i = 0;
  while (i < length) {
    const uint8_t kind = p[i];
    if (kind == 0) {  // end of option list
      return;
    }
    if (kind == 1) {  // no-operation
      ++i;
      continue;
    }
    if (i + 1 >= length || p[i + 1] < 2 || i + p[i + 1] > length) {
      return;  // malformed: stop rather than read past the header
    }
    const uint8_t len = p[i + 1];
    if (kind == 2 && len == 4) {
      s.mss = Be16(p + i + 2);
    } else if (kind == 3 && len == 3) {
      s.window_scale = p[i + 2];
    } else if (kind == 4 && len == 2) {
      s.sack_permitted = true;
    } else if (kind == 8 && len == 10) {
      s.ts_val = Be32(p + i + 2);
      s.ts_ecr = Be32(p + i + 6);
    }
    i += len;
  }
}

// The offset of the network header and its ethertype, or nullopt for link types not handled.
std::optional<std::pair<size_t, uint16_t>> NetworkHeader(int link_type, const uint8_t* data,
                                                         size_t captured) {
  switch (link_type) {
    case DLT_EN10MB: {
      if (captured < 14) {
        return std::nullopt;
      }
      uint16_t type = Be16(data + 12);
      size_t offset = 14;
      if (type == kEtherTypeVlan && captured >= 18) {
        type = Be16(data + 16);
        offset = 18;
      }
      return std::make_pair(offset, type);
    }
    case DLT_LINUX_SLL:
      if (captured < 16) {
        return std::nullopt;
      }
      return std::make_pair(size_t{16}, Be16(data + 14));
    case DLT_RAW:
      if (captured < 1) {
        return std::nullopt;
      }
      return std::make_pair(size_t{0}, (data[0] >> 4) == 6 ? kEtherTypeIpv6 : kEtherTypeIpv4);
    default:
      return std::nullopt;
  }
}

}  // namespace

std::optional<TcpSegment> ParseTcpFrame(int link_type, const uint8_t* data, size_t captured,
                                        size_t original_length) {
  std::optional<std::pair<size_t, uint16_t>> net = NetworkHeader(link_type, data, captured);
  if (!net.has_value()) {
    return std::nullopt;
  }
  auto [offset, ethertype] = *net;
  const uint8_t* ip = data + offset;
  const size_t ip_captured = captured - offset;
  TcpSegment s;
  size_t tcp_offset = 0;
  size_t ip_payload = 0;  // TCP header + data, from the IP header's lengths
  if (ethertype == kEtherTypeIpv4) {
    if (ip_captured < 20 || (ip[0] >> 4) != 4) {
      return std::nullopt;
    }
    const size_t ihl = static_cast<size_t>(ip[0] & 0x0f) * 4;
    const uint16_t fragment = Be16(ip + 6) & 0x1fff;
    if (ip[9] != kIpProtoTcp || ihl < 20 || fragment != 0 || Be16(ip + 2) < ihl) {
      return std::nullopt;
    }
    s.src = AddressText(AF_INET, ip + 12);
    s.dst = AddressText(AF_INET, ip + 16);
    s.ttl = ip[8];
    s.ip_id = Be16(ip + 4);
    tcp_offset = ihl;
    ip_payload = Be16(ip + 2) - ihl;
  } else if (ethertype == kEtherTypeIpv6) {
    // Extension headers are not followed: socklab's own traffic never carries them.
    if (ip_captured < 40 || (ip[0] >> 4) != 6 || ip[6] != kIpProtoTcp) {
      return std::nullopt;
    }
    s.src = AddressText(AF_INET6, ip + 8);
    s.dst = AddressText(AF_INET6, ip + 24);
    s.ttl = ip[7];
    tcp_offset = 40;
    ip_payload = Be16(ip + 4);
  } else {
    return std::nullopt;
  }
  if (ip_captured < tcp_offset + 20) {
    return std::nullopt;
  }
  const uint8_t* tcp = ip + tcp_offset;
  const size_t header = static_cast<size_t>(tcp[12] >> 4) * 4;
  if (header < 20 || ip_payload < header) {
    return std::nullopt;
  }
  s.src_port = Be16(tcp);
  s.dst_port = Be16(tcp + 2);
  s.seq = Be32(tcp + 4);
  s.ack = Be32(tcp + 8);
  s.flags = tcp[13];
  s.window = Be16(tcp + 14);
  s.payload = static_cast<uint32_t>(ip_payload - header);
  if (ip_captured >= tcp_offset + header) {
    ParseOptions(tcp + 20, header - 20, s);
  }
  (void)original_length;  // the IP header's length is authoritative (no Ethernet padding)
  return s;
}

std::string TcpFlagsText(uint8_t flags) {
  std::vector<const char*> names;
  for (auto [bit, name] : {std::pair{kTcpSyn, "SYN"},
                           {kTcpFin, "FIN"},
                           {kTcpRst, "RST"},
                           {kTcpPsh, "PSH"},
                           {kTcpUrg, "URG"},
                           {kTcpAck, "ACK"}}) {
    if ((flags & bit) != 0) {
      names.push_back(name);
    }
  }
  return names.empty() ? "none" : absl::StrJoin(names, "/");
}

std::string TcpOptionsText(const TcpSegment& segment) {
  std::vector<std::string> parts;
  if (segment.mss.has_value()) {
    parts.push_back(absl::StrCat("mss ", *segment.mss));
  }
  if (segment.sack_permitted) {
    parts.push_back("sackOK");
  }
  if (segment.ts_val.has_value() && segment.Has(kTcpSyn)) {
    parts.push_back("ts");  // on every segment once agreed: worth showing on the SYNs only
  }
  if (segment.window_scale.has_value()) {
    parts.push_back(absl::StrCat("wscale ", *segment.window_scale));
  }
  return absl::StrJoin(parts, ", ");
}

}  // namespace socklab

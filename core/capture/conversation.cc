#include "core/capture/conversation.h"

#include <algorithm>
#include <map>
#include <optional>
#include <tuple>

#include "absl/strings/str_cat.h"

namespace socklab {
namespace {

using Endpoint = std::pair<std::string, uint16_t>;

struct Direction {
  std::optional<uint32_t> base;  // first sequence number seen
  uint32_t sent_end = 0;         // highest relative sequence end sent so far
  bool sent_any = false;
  bool sent_syn = false;                // a SYN without ACK
  bool sent_synack = false;             // a SYN/ACK
  std::optional<uint8_t> window_scale;  // from this side's SYN
};

struct Connection {
  int number = 0;
  Endpoint client;
  Direction from_client;
  Direction from_server;
  bool ended = false;  // a FIN or RST was seen
  uint32_t client_isn = 0;
};

// Serial-number comparison (RFC 1982) on relative sequence numbers.
bool SeqLessOrEqual(uint32_t a, uint32_t b) { return static_cast<int32_t>(a - b) <= 0; }

bool IsFirstSyn(const TcpSegment& s) { return s.Has(kTcpSyn) && !s.Has(kTcpAck); }

}  // namespace

struct ConnectionTracker::State {
  std::map<std::pair<Endpoint, Endpoint>, Connection> live;
  int next_number = 1;
};

ConnectionTracker::ConnectionTracker() : state_(std::make_unique<State>()) {}
ConnectionTracker::~ConnectionTracker() = default;

ConnectionSegment ConnectionTracker::Add(const TcpSegment& s) {
  std::map<std::pair<Endpoint, Endpoint>, Connection>& live = state_->live;
  Endpoint src{s.src, s.src_port};
  Endpoint dst{s.dst, s.dst_port};
  auto key = src < dst ? std::make_pair(src, dst) : std::make_pair(dst, src);
  auto it = live.find(key);
  if (it != live.end() && it->second.ended && IsFirstSyn(s) && s.seq != it->second.client_isn) {
    live.erase(it);  // the 4-tuple is reused by a new connection
    it = live.end();
  }
  if (it == live.end()) {
    Connection c;
    c.number = state_->next_number++;
    // Without the SYN, the ephemeral (client) port is usually the higher one.
    c.client = IsFirstSyn(s) || (!s.Has(kTcpSyn) && s.src_port > s.dst_port) ? src : dst;
    if (IsFirstSyn(s)) {
      c.client_isn = s.seq;
    }
    it = live.emplace(key, std::move(c)).first;
  }
  Connection& c = it->second;
  ConnectionSegment cs;
  cs.tcp = s;
  cs.connection = c.number;
  cs.from_client = src == c.client;
  Direction& mine = cs.from_client ? c.from_client : c.from_server;
  const Direction& theirs = cs.from_client ? c.from_server : c.from_client;
  if (!mine.base.has_value()) {
    mine.base = s.seq;
  }
  cs.rel_seq = s.seq - *mine.base;
  if (s.Has(kTcpAck) && theirs.base.has_value()) {
    cs.rel_ack = s.ack - *theirs.base;
  }
  // SYN and FIN take one sequence number each (RFC 9293 3.4).
  const uint32_t length = s.payload + (s.Has(kTcpSyn) ? 1u : 0u) + (s.Has(kTcpFin) ? 1u : 0u);
  cs.window = s.window;
  if (s.Has(kTcpSyn)) {
    mine.window_scale = s.window_scale;
  } else if (mine.window_scale.has_value() && theirs.window_scale.has_value()) {
    cs.window = static_cast<uint32_t>(s.window) << std::min<uint8_t>(*mine.window_scale, 14);
  }
  if (s.Has(kTcpSyn)) {
    // In a simultaneous open the SYN/ACK repeats the side's own SYN: that is the protocol
    // (RFC 9293 figure 7), not a retransmission; a second SYN or SYN/ACK is one.
    bool& sent = s.Has(kTcpAck) ? mine.sent_synack : mine.sent_syn;
    cs.retransmission = sent;
    sent = true;
    mine.sent_end = cs.rel_seq + length;
    mine.sent_any = true;
  } else if (length > 0) {
    const uint32_t end = cs.rel_seq + length;
    cs.retransmission = mine.sent_any && SeqLessOrEqual(end, mine.sent_end);
    if (!mine.sent_any || !SeqLessOrEqual(end, mine.sent_end)) {
      mine.sent_end = end;
    }
    mine.sent_any = true;
  }
  c.ended = c.ended || s.Has(kTcpFin) || s.Has(kTcpRst);
  return cs;
}

std::vector<ConnectionSegment> FollowConnections(const std::vector<TcpSegment>& segments) {
  ConnectionTracker tracker;
  std::vector<ConnectionSegment> out;
  out.reserve(segments.size());
  for (const TcpSegment& s : segments) {
    out.push_back(tracker.Add(s));
  }
  return out;
}

std::string DirectionText(const ConnectionSegment& segment) {
  return segment.from_client ? "client -> server" : "server -> client";
}

std::string SegmentHeaderText(const ConnectionSegment& segment) {
  const TcpSegment& s = segment.tcp;
  std::string text = absl::StrCat(TcpFlagsText(s.flags), " seq ", segment.rel_seq, " ack ",
                                  segment.rel_ack, " win ", segment.window, " len ", s.payload);
  std::string options = TcpOptionsText(s);
  if (!options.empty()) {
    absl::StrAppend(&text, "  ", options);
  }
  return text;
}

}  // namespace socklab

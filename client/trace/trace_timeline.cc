#include "client/trace/trace_timeline.h"

#include <algorithm>
#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "core/capture/tcp_segment.h"

namespace socklab::client {
namespace {

// An RST on the wire and the tcp_send_reset that sent it are this close (two clocks, the
// capture's and the trace's, mapped onto one).
constexpr int64_t kResetMatchNs = 50'000'000;
constexpr int64_t kRecentResetsNs = 1'000'000'000;

std::pair<std::string, std::string> Normalized(const std::string& a, const std::string& b) {
  return a < b ? std::make_pair(a, b) : std::make_pair(b, a);
}

bool IsReset(const TraceLine& line) {
  return !line.is_segment && line.event.name == "tcp_send_reset";
}

}  // namespace

std::string EndpointText(const std::string& ip, uint16_t port) {
  return ip.find(':') == std::string::npos ? absl::StrCat(ip, ":", port)
                                           : absl::StrCat("[", ip, "]:", port);
}

std::string ResetReasonMeaning(const std::string& reason) {
  static const std::map<std::string, std::string>* const kMeanings =
      new std::map<std::string, std::string>{
          {"NO_SOCKET",
           "no socket here for that segment: nothing listens on the port (the peer's connect() "
           "fails with ECONNREFUSED) or the connection is already gone on this side (the peer's "
           "next read or write fails with ECONNRESET)"},
          {"TCP_ABORT_ON_CLOSE",
           "the application closed the socket with data it had not read: the kernel aborts "
           "instead of closing gracefully, and the peer gets ECONNRESET"},
          {"TCP_ABORT_ON_DATA",
           "data arrived for a socket the application had already closed: the peer's next "
           "read or write fails with ECONNRESET"},
          {"TCP_ABORT_ON_LINGER",
           "the closed socket waited too long in FIN_WAIT2 (a negative TCP_LINGER2): aborted"},
          {"TCP_ABORT_ON_MEMORY",
           "the kernel ran short of TCP memory or orphan sockets (tcp_mem, tcp_max_orphans) "
           "and aborted the connection"},
          {"TCP_STATE",
           "the application tore the connection down (SO_LINGER {1,0} close, or a "
           "disconnect): an abortive close, the peer gets ECONNRESET"},
          {"TCP_KEEPALIVE_TIMEOUT",
           "keepalive probes went unanswered: the peer is gone (ETIMEDOUT here)"},
          {"TCP_DISCONNECT_WITH_DATA",
           "the connection was disconnected with data still queued: the peer gets ECONNRESET"},
          {"TCP_TIMEWAIT_SOCKET",
           "the connection is closed here and only its TIME_WAIT (or orphaned FIN_WAIT2) remnant "
           "is left, which refuses the segment: the peer's next read or write fails with "
           "ECONNRESET or EPIPE"},
          {"INVALID_SYN", "a SYN where none belongs (a 4-tuple still in use)"},
          {"TCP_INVALID_ACK_SEQUENCE", "an ACK for data never sent (a stale or forged segment)"},
          {"TCP_ACK_UNSENT_DATA", "an ACK for data never sent (a stale or forged segment)"},
          {"TCP_FLAGS", "a segment with flags this state does not accept"},
          {"TCP_OLD_ACK", "an ACK too old for this connection"},
          {"TCP_TOO_OLD_ACK", "an ACK too old for this connection"},
          {"TCP_RFC7323_PAWS", "a segment with an old timestamp (PAWS, RFC 7323)"},
          {"NOT_SPECIFIED", "the kernel gave no reason"},
      };
  auto it = kMeanings->find(reason);
  return absl::StrCat("RST sent by this host's TCP (", reason.empty() ? "no reason" : reason,
                      "): ", it != kMeanings->end() ? it->second : "see enum sk_rst_reason");
}

void TraceTimeline::AddSegment(const ConnectionSegment& segment, int64_t monotonic_ns) {
  TraceLine line;
  line.monotonic_ns = monotonic_ns;
  line.is_segment = true;
  line.segment = segment;
  on_the_wire_.insert(Normalized(EndpointText(segment.tcp.src, segment.tcp.src_port),
                                 EndpointText(segment.tcp.dst, segment.tcp.dst_port)));
  pending_.push_back(std::move(line));
}

void TraceTimeline::AddEvent(const KernelEvent& event) {
  TraceLine line;
  line.monotonic_ns = event.monotonic_ns;
  line.event = event;
  pending_.push_back(std::move(line));
}

std::vector<TraceLine> TraceTimeline::Take(int64_t until_ns) {
  std::stable_sort(pending_.begin(), pending_.end(), [](const TraceLine& a, const TraceLine& b) {
    return a.monotonic_ns < b.monotonic_ns;
  });
  auto end = std::find_if(pending_.begin(), pending_.end(),
                          [&](const TraceLine& l) { return l.monotonic_ns > until_ns; });
  std::vector<TraceLine> out;
  for (auto it = pending_.begin(); it != end; ++it) {
    if (it->is_segment || !Foreign(it->event)) {
      out.push_back(std::move(*it));
    }
  }
  pending_.erase(pending_.begin(), end);
  for (TraceLine& line : out) {
    if (IsReset(line)) {
      recent_resets_.push_back(line);
    }
  }
  for (TraceLine& line : out) {
    if (line.is_segment) {
      line.meaning = SegmentMeaning(line.segment, line.monotonic_ns);
    } else if (IsReset(line)) {
      line.meaning = ResetReasonMeaning(line.event.reason);
    } else if (!capture_ && line.event.name == "tcp_retransmit_skb") {
      line.meaning = line.event.state == "SYN_SENT"
                         ? "SYN sent again: no answer yet (a firewall drops it, the host is down, "
                           "or the listener's queue is full)"
                         : "sent again: not acknowledged within the retransmission timeout";
    }
    Count(line);
  }
  while (!recent_resets_.empty() &&
         recent_resets_.front().monotonic_ns < until_ns - kRecentResetsNs) {
    recent_resets_.pop_front();
  }
  return out;
}

std::string TraceTimeline::SegmentMeaning(const ConnectionSegment& segment,
                                          int64_t monotonic_ns) const {
  const TcpSegment& s = segment.tcp;
  if (s.Has(kTcpRst)) {
    if (!kernel_events_) {
      return "RST: the connection is aborted at once (connect() fails with ECONNREFUSED, read "
             "and write with ECONNRESET)";
    }
    const std::string src = EndpointText(s.src, s.src_port);
    const std::string dst = EndpointText(s.dst, s.dst_port);
    auto matches = [&](const TraceLine& l) {
      return IsReset(l) && l.event.src == src && l.event.dst == dst &&
             std::llabs(l.monotonic_ns - monotonic_ns) <= kResetMatchNs;
    };
    if (std::any_of(recent_resets_.begin(), recent_resets_.end(), matches) ||
        std::any_of(pending_.begin(), pending_.end(), matches)) {
      return "";  // the kernel's event beside it says why
    }
    return absl::StrCat(
        "RST that this host's TCP did not send (no tcp_send_reset; ttl ", s.ttl,
        "): from the peer's host, or a firewall on the way (nftables 'reject with tcp reset'); "
        "connect() fails with ECONNREFUSED, read and write with ECONNRESET");
  }
  if (!segment.retransmission) {
    return "";
  }
  if (s.Has(kTcpSyn) && !s.Has(kTcpAck)) {
    auto first = first_syn_ns_.find(segment.connection);
    const double after =
        first == first_syn_ns_.end() ? 0 : static_cast<double>(monotonic_ns - first->second) / 1e9;
    return absl::StrFormat(
        "SYN sent again %.1f s after the first, no answer: a firewall drops it, the host is "
        "down, or the listener's accept queue is full; connect() fails with ETIMEDOUT after "
        "net.ipv4.tcp_syn_retries",
        after);
  }
  if (s.Has(kTcpSyn)) {
    return "SYN/ACK sent again: the client's ACK did not come (lost, or a SYN flood)";
  }
  return "sent again: not acknowledged within the retransmission timeout (loss, or a stalled or "
         "vanished peer; after net.ipv4.tcp_retries2 the connection fails with ETIMEDOUT)";
}

bool TraceTimeline::Foreign(const KernelEvent& e) const {
  return capture_ && e.sport != 0 && e.dport != 0 && !on_the_wire_.count(Normalized(e.src, e.dst));
}

TraceTimeline::Record& TraceTimeline::CurrentRecord(const std::string& a, const std::string& b) {
  return records_[Normalized(a, b)];
}

void TraceTimeline::Count(const TraceLine& line) {
  if (line.is_segment) {
    const ConnectionSegment& cs = line.segment;
    const TcpSegment& s = cs.tcp;
    ++counts_.segments;
    if (s.Has(kTcpSyn) && !s.Has(kTcpAck) && !first_syn_ns_.count(cs.connection)) {
      first_syn_ns_[cs.connection] = line.monotonic_ns;
    }
    if (s.Has(kTcpSyn) && s.Has(kTcpAck) && !cs.retransmission) {
      ++counts_.handshakes;
    }
    if (s.Has(kTcpRst)) {
      ++counts_.rst_segments;
      if (kernel_events_ && !line.meaning.empty()) {
        ++counts_.rst_not_from_this_tcp;
      }
    }
    if (cs.retransmission) {
      ++counts_.retransmitted_segments;
    }
    return;
  }
  const KernelEvent& e = line.event;
  ++counts_.events;
  if (e.name == "tcp_retransmit_skb") {
    ++counts_.retransmissions;
    if (e.state == "SYN_SENT") {
      ++counts_.syn_retransmissions;
    }
    return;
  }
  if (e.name == "tcp_retransmit_synack") {
    ++counts_.retransmissions;
    ++counts_.synack_retransmissions;
    return;
  }
  if (e.sport == 0 || e.dport == 0) {
    return;  // a listener, or a socket before its connect
  }
  Record& r = CurrentRecord(e.src, e.dst);
  if (e.name == "tcp_send_reset" || e.name == "tcp_receive_reset") {
    ++(e.name == "tcp_send_reset" ? counts_.resets_sent[e.reason] : counts_.resets_received);
    // An abortive close changes the closer's state before its RST leaves.
    counts_.closed_by_reset += !r.reset && r.closed && !r.failed ? 1 : 0;
    r.reset = true;
    return;
  }
  if (e.new_state == "SYN_SENT" || (e.new_state == "SYN_RECV" && r.closed)) {
    r = Record{.connecting = true};  // a new life of the 4-tuple
    return;
  }
  if (e.new_state == "ESTABLISHED" && !r.opened) {
    if (r.closed) {
      r = Record{};
    }
    r.opened = true;
    ++counts_.opened;
    return;
  }
  if ((e.new_state == "CLOSE" || e.new_state == "TIME_WAIT") && !r.closed) {
    r.closed = true;
    if (e.old_state == "SYN_SENT") {
      r.failed = true;
      ++counts_.connect_failed;
      // The RST that refused it comes before this change (tcp_reset, then tcp_done).
      counts_.connect_refused += r.reset ? 1 : 0;
      return;
    }
    ++counts_.closed;
    counts_.closed_by_reset += r.reset ? 1 : 0;
    counts_.closed_unopened += r.opened ? 0 : 1;
  }
}

}  // namespace socklab::client

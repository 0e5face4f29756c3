#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "core/capture/conversation.h"
#include "core/capture/kernel_events.h"

namespace socklab::client {

// One line of `socklab trace`: a captured segment or one of the kernel's TCP events, with a
// one-line meaning for those that end or threaten a connection. Plain data.
struct TraceLine {
  int64_t monotonic_ns = 0;
  bool is_segment = false;
  ConnectionSegment segment;  // when is_segment
  KernelEvent event;          // otherwise
  std::string meaning;        // "" when the line needs none
};

// What a trace saw, for its summary. Plain data.
struct TraceCounts {
  // From the kernel's state changes, one per connection even when both ends are on this host.
  uint64_t opened = 0;                          // reached ESTABLISHED
  uint64_t closed = 0;                          // reached CLOSE or TIME_WAIT after ESTABLISHED
  uint64_t closed_by_reset = 0;                 // of those, with an RST on the connection
  uint64_t closed_unopened = 0;                 // closed, but opened before the trace started
  uint64_t connect_failed = 0;                  // SYN_SENT -> CLOSE
  uint64_t connect_refused = 0;                 // of those, answered by an RST
  std::map<std::string, uint64_t> resets_sent;  // by the kernel's reason
  uint64_t resets_received = 0;
  uint64_t retransmissions = 0;  // tcp_retransmit_skb + tcp_retransmit_synack
  uint64_t syn_retransmissions = 0;
  uint64_t synack_retransmissions = 0;
  uint64_t events = 0;
  // From the capture.
  uint64_t segments = 0;
  uint64_t handshakes = 0;  // SYN/ACKs, first copies only: the server's answers to connects
  uint64_t rst_segments = 0;
  uint64_t rst_not_from_this_tcp = 0;  // RSTs with no tcp_send_reset of this host's TCP
  uint64_t retransmitted_segments = 0;
};

// Merges segments and kernel events, which arrive in batches from two sources with their own
// delays, into one timeline in time order, gives each line its meaning and counts what the
// summary shows. Pure (no clock of its own, no I/O). Thread affinity: one thread at a time.
class TraceTimeline {
 public:
  // `kernel_events`: the kernel's events are being recorded, so an RST without a tcp_send_reset
  // was not sent by this host's TCP. `capture`: segments are being captured (without them the
  // kernel's retransmission events carry the meaning). With a capture, only the events of
  // connections seen on the wire (and of sockets without a peer: listeners) are kept: the
  // tracepoints see every network namespace, the capture only its own.
  TraceTimeline(bool kernel_events, bool capture)
      : kernel_events_(kernel_events), capture_(capture) {}

  void AddSegment(const ConnectionSegment& segment, int64_t monotonic_ns);
  void AddEvent(const KernelEvent& event);
  // The lines up to `until_ns`, in time order; they leave the timeline and enter the counts.
  // Callers hold back the newest lines for as long as one source may lag behind the other.
  std::vector<TraceLine> Take(int64_t until_ns);

  const TraceCounts& counts() const { return counts_; }

 private:
  // One connection (normalized 4-tuple, one life of it) as the kernel's events tell it.
  struct Record {
    bool connecting = false;
    bool opened = false;
    bool closed = false;
    bool failed = false;  // closed from SYN_SENT: a connect that failed
    bool reset = false;
  };
  void Count(const TraceLine& line);
  std::string SegmentMeaning(const ConnectionSegment& segment, int64_t monotonic_ns) const;
  Record& CurrentRecord(const std::string& a, const std::string& b);
  bool Foreign(const KernelEvent& event) const;

  bool kernel_events_;
  bool capture_;
  std::vector<TraceLine> pending_;
  // Resets this host's TCP sent in the last second, to match the RSTs on the wire with.
  std::deque<TraceLine> recent_resets_;
  std::map<int, int64_t> first_syn_ns_;  // by connection number
  std::map<std::pair<std::string, std::string>, Record> records_;
  std::set<std::pair<std::string, std::string>> on_the_wire_;  // normalized 4-tuples
  TraceCounts counts_;
};

// What an RST the kernel sent for `reason` (enum sk_rst_reason, Linux 6.10+) tells the reader,
// in one line. Pure.
std::string ResetReasonMeaning(const std::string& reason);

// "127.0.0.1:40000" or "[::1]:40000" for a captured segment's source or destination.
std::string EndpointText(const std::string& ip, uint16_t port);

}  // namespace socklab::client

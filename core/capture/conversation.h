#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/capture/tcp_segment.h"

namespace socklab {

// A captured segment placed in its connection, numbered the way Wireshark and tcpdump show
// them. Plain data; thread affinity: none.
struct ConnectionSegment {
  TcpSegment tcp;
  int connection = 0;  // 1, 2, ... in the order connections first appear
  // The client is the side that sent the connection's first SYN without ACK (in a simultaneous
  // open, the first of the two); without a SYN captured, the side with the higher port.
  bool from_client = true;
  // Relative to each direction's first sequence number (its SYN: a SYN is seq 0, the first
  // data byte seq 1); the acknowledgement relative to the other direction's. ack 0 when the
  // segment has no ACK flag or the other direction was not seen.
  uint32_t rel_seq = 0;
  uint32_t rel_ack = 0;
  // The receive window the sender announced, in bytes: the header's field shifted by the
  // sender's window scale once both SYNs agreed on scaling (RFC 7323 2.2; never on a SYN).
  // Without both SYNs captured the field as it is.
  uint32_t window = 0;
  // It repeats sequence space (a SYN, FIN or data) this direction already sent: the kernel's
  // retransmission timer resent it.
  bool retransmission = false;
};

// Follows TCP connections one segment at a time, in capture order, for a capture that is read
// while it runs. A new SYN on a 4-tuple whose connection already ended (FIN or RST seen) starts a
// new connection. Memory grows with the number of connections seen. Thread affinity: one thread
// at a time.
class ConnectionTracker {
 public:
  ConnectionTracker();
  ~ConnectionTracker();
  ConnectionTracker(const ConnectionTracker&) = delete;
  ConnectionTracker& operator=(const ConnectionTracker&) = delete;

  // Places the next captured segment in its connection.
  ConnectionSegment Add(const TcpSegment& segment);

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// Follows the TCP connections in `segments` (capture order), as ConnectionTracker does. Pure.
std::vector<ConnectionSegment> FollowConnections(const std::vector<TcpSegment>& segments);

// "client -> server" or "server -> client".
std::string DirectionText(const ConnectionSegment& segment);

// One segment's header as a line: "SYN/ACK seq 0 ack 1 win 65483 len 0  mss 65495, sackOK, ts,
// wscale 7" (the window in bytes, scaled). Pure.
std::string SegmentHeaderText(const ConnectionSegment& segment);

}  // namespace socklab

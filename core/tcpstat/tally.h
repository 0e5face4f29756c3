#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/types/span.h"
#include "core/tcpstat/tcp_socket.h"
#include "core/tcpstat/tcp_state.h"
#include "nlohmann/json.hpp"

namespace socklab::tcpstat {

// Sockets per state, plus the accept queues of the listeners counted. A value; thread
// affinity: none.
struct StateTally {
  std::array<uint32_t, kMaxTcpState + 1> counts{};  // indexed by state code
  uint32_t total = 0;
  // Sums over the LISTEN sockets counted (Count(kListen) of them; each has its own queue, e.g.
  // the members of an SO_REUSEPORT group): accept queue length (rx_queue) and the maximum
  // (accept_backlog, where the source reported one).
  uint64_t listen_queue = 0;
  uint64_t listen_backlog = 0;

  uint32_t Count(TcpState state) const { return counts[static_cast<int>(state)]; }
  void Add(const TcpSocket& socket);

  // Equal socket counts per state (the listen queue sums are not compared: they move with
  // every accept()).
  friend bool operator==(const StateTally& a, const StateTally& b) {
    return a.counts == b.counts && a.total == b.total;
  }
};

StateTally TallyStates(absl::Span<const TcpSocket> sockets);

// {"ESTABLISHED": 3, "SYN_SENT": 0, ..., "CLOSING": 0, "total": 3} with every reported state
// (kReportedTcpStates) so that samples of a series have the same keys.
nlohmann::json TallyToJson(const StateTally& tally);

// "ESTABLISHED 3, TIME_WAIT 120" (non-zero states only; "no sockets" when empty).
std::string TallyToString(const StateTally& tally);

}  // namespace socklab::tcpstat

#pragma once

#include <cstdint>
#include <string>

#include "client/trace/trace_options.h"
#include "client/trace/trace_timeline.h"
#include "nlohmann/json.hpp"

namespace socklab::client {

// How `socklab trace` prints: one text line (plus a meaning line) per segment or event, or one
// JSON object per line. Pure functions; thread affinity: none.

// What the trace could record, for its first line and its summary.
struct TraceSetup {
  std::string kernel_release;
  std::string capture_missing;  // why no segments ("" when captured)
  std::string events_missing;   // why no kernel events ("" when recorded)
};

// "trace  port 7300 on any (namespace blue), until Ctrl-C; segments: libpcap; kernel events:
// tracefs; pcap trace.pcap; Linux 6.18"
std::string ConfigText(const TraceOptions& options, const TraceSetup& setup);
nlohmann::json ConfigJson(const TraceOptions& options, const TraceSetup& setup);

// "  +0.013003s  #3 127.0.0.1:40000 > 127.0.0.1:7300  SYN seq 0 ack 0 win 65495 len 0  mss ..."
// with "\n" and an indented "meaning: ..." line when the line has a meaning. `start_ns` is the
// trace's start on CLOCK_MONOTONIC.
std::string LineText(const TraceLine& line, int64_t start_ns);
nlohmann::json LineJson(const TraceLine& line, int64_t start_ns);

// The summary after the trace stops: connections opened and closed, failed connects, resets by
// reason, retransmissions, and what the capture and the kernel lost.
struct TraceLosses {
  uint64_t frames_dropped = 0;
  uint64_t events_overrun = 0;
};
std::string SummaryText(const TraceCounts& counts, const TraceSetup& setup,
                        const TraceLosses& losses, double seconds);
nlohmann::json SummaryJson(const TraceCounts& counts, const TraceSetup& setup,
                           const TraceLosses& losses, double seconds);

}  // namespace socklab::client

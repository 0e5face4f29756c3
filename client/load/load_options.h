#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "core/loop/event_loop.h"
#include "core/net/address.h"

namespace socklab::client {

enum class CloseMode { kFin, kRst };

// Everything the load engine is asked to do, as plain values. Filled by
// client/load/load_command.cc from the flags (the value flags through the table of
// client/load/load_flags.h, which also holds their ranges) and directly by tests; what only the
// front end uses (output files, progress lines, --states) stays there. Counts are 64-bit so that
// Validate() sees what the user typed before anything is narrowed. Thread affinity: none; the
// engine copies what it needs.
struct LoadOptions {
  SocketAddress target;
  // How the target was picked among several addresses (localhost, a name), for the report.
  std::string target_note;
  std::string command_line;  // for the report header; empty when unknown (tests)
  uint64_t connections = 10;
  uint64_t threads = 0;  // 0: one per CPU, at most one per connection
  loop::BackendChoice backend = loop::BackendChoice::kAuto;
  std::string backend_text = "auto";
  uint64_t pipeline = 1;    // messages in flight per connection
  double rate = 0;          // total messages/s; 0 = closed loop
  uint64_t churn = 0;       // reconnect after this many messages per connection; 0 = never
  double connect_rate = 0;  // new connections/s, all threads together; 0 = no cap
  CloseMode close = CloseMode::kFin;
  // TCP_NODELAY on every connection (the default): a message leaves at once instead of waiting
  // for the ACK of the previous segment, which a peer's delayed ACK holds for 40 ms. --nagle
  // turns it off, to measure what an application that keeps Nagle sees.
  bool nodelay = true;
  uint32_t size_min = 64;
  uint32_t size_max = 64;
  absl::Duration duration = absl::Seconds(10);  // ZeroDuration() with messages: until done
  uint64_t messages = 0;                        // total round trips; 0 = run for duration
  absl::Duration warmup = absl::ZeroDuration();
  absl::Duration connect_timeout = absl::Seconds(2);
  absl::Duration read_timeout = absl::Seconds(5);
  // Local addresses to connect from, used round-robin by connection (from --bind or
  // --source-ips); empty = let the kernel choose.
  std::vector<SocketAddress> sources;
  std::string sources_text;
  uint64_t max_errors = 0;  // 0 = never abort on errors
  // Open loop (--min-rate-ratio): the run fails (kExitRateNotReached, load_report.h) when the share
  // of the schedule sent (AchievedRatio) is below this; 0 = no check.
  double min_rate_ratio = 0;

  // One agent of several (--shard, --run-id, --start-at; see client/load/shard.h). connections,
  // rate and messages above are already this shard's part; the totals are kept for the report
  // and for `socklab merge`'s checks.
  std::string run_id;
  int shard_index = 0;
  int shard_count = 1;  // 1: the whole load
  uint64_t total_connections = 0;
  double total_rate = 0;
  uint64_t total_messages = 0;
  // The measured window starts at this wall-clock time (the run itself starts --warmup earlier);
  // InfinitePast: at once.
  absl::Time start_at = absl::InfinitePast();
  // Test-only: every round-trip latency of the window, one number (ns) a line, to this file.
  std::string raw_latencies_path;

  // Bad combinations are UsageErrors ("<problem>; <fix>").
  absl::Status Validate() const;
};

// Limits Validate() enforces.
inline constexpr uint32_t kMaxMessageSize = 16 * 1024 * 1024;
inline constexpr uint64_t kMaxConnections = 1'000'000;
inline constexpr size_t kMaxSourceAddresses = 65'536;

// "64", "4k", "100-1400", "1k-64k": one size or a uniform MIN-MAX range (ParseByteSize forms).
absl::StatusOr<std::pair<uint32_t, uint32_t>> ParseSizeRange(absl::string_view text);

// "127.0.0.2-127.0.0.40" (or one address, or an IPv6 range differing in the last 32 bits):
// every address in the range, port 0.
absl::StatusOr<std::vector<SocketAddress>> ParseSourceRange(absl::string_view text);

// "127.0.0.2" or "127.0.0.2:40000" / "[::1]:40000".
absl::StatusOr<SocketAddress> ParseBindAddress(absl::string_view text);

}  // namespace socklab::client

#include "client/load/shard.h"

#include <cmath>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "core/base/status.h"

namespace socklab::client {

absl::StatusOr<Shard> ParseShard(absl::string_view text) {
  const size_t slash = text.find('/');
  Shard shard;
  if (slash == absl::string_view::npos || !absl::SimpleAtoi(text.substr(0, slash), &shard.index) ||
      !absl::SimpleAtoi(text.substr(slash + 1), &shard.count) || shard.count < 1 ||
      shard.count > 10000 || shard.index < 0 || shard.index >= shard.count) {
    return UsageError(absl::StrCat("--shard '", text, "' is not I/N"),
                      "give this agent's index from 0 and the number of agents, e.g. --shard 0/3 "
                      "(Kubernetes: --shard $JOB_COMPLETION_INDEX/3)");
  }
  return shard;
}

uint64_t ShareOf(uint64_t total, const Shard& shard) {
  const uint64_t n = static_cast<uint64_t>(shard.count);
  return total / n + (static_cast<uint64_t>(shard.index) < total % n ? 1 : 0);
}

double RateShareOf(double total, const Shard& shard) {
  if (total == std::floor(total) && total < 1e15) {
    return static_cast<double>(ShareOf(static_cast<uint64_t>(total), shard));
  }
  return total / shard.count;
}

absl::StatusOr<absl::Time> ParseStartAt(absl::string_view text) {
  absl::Time time;
  std::string error;
  if (absl::ParseTime(absl::RFC3339_full, text, &time, &error)) {
    return time;
  }
  double seconds = 0;
  if (absl::SimpleAtod(text, &seconds) && seconds > 0 && std::isfinite(seconds)) {
    return absl::FromUnixNanos(static_cast<int64_t>(std::llround(seconds * 1e9)));
  }
  return UsageError(absl::StrCat("--start-at '", text, "' is no time"),
                    "give RFC 3339 (2026-12-06T10:00:00Z) or unix seconds (date +%s)");
}

std::string FormatStartAt(absl::Time time) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", time, absl::UTCTimeZone());
}

}  // namespace socklab::client

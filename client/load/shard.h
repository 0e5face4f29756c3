#pragma once

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace socklab::client {

// One agent's part of a load several agents send together (--shard I/N, --run-id, --start-at);
// their results add up in `socklab merge`.
//
// Shards are numbered from 0, as Kubernetes numbers an Indexed Job's pods
// (JOB_COMPLETION_INDEX), so --shard "$JOB_COMPLETION_INDEX/N" works as is.
struct Shard {
  int index = 0;
  int count = 1;  // 1: the whole load
};

// "2/5": shard 2 of 5 (0 <= I < N <= 10000). Otherwise a UsageError.
absl::StatusOr<Shard> ParseShard(absl::string_view text);

// Shard `shard`'s part of `total` things: total / N each, and one more to each of the first
// total % N shards, so the parts of all N shards sum to `total` exactly.
uint64_t ShareOf(uint64_t total, const Shard& shard);
// The same for a rate: an integral rate is split as ShareOf does; a fractional one (0.5/s) is
// divided evenly.
double RateShareOf(double total, const Shard& shard);

// --start-at: "2026-12-06T10:00:00Z" (RFC 3339, any offset) or unix seconds ("1796551200",
// "1796551200.5"). A UsageError when unparseable.
absl::StatusOr<absl::Time> ParseStartAt(absl::string_view text);

// RFC 3339 in UTC with milliseconds, as results state the start.
std::string FormatStartAt(absl::Time time);

}  // namespace socklab::client

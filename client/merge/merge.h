#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "client/load/load_result.h"
#include "nlohmann/json_fwd.hpp"

namespace socklab::client {

// One agent's result as `socklab merge` read it (client/merge/result_json.h).
struct MergeInput {
  std::string name;  // the file it came from
  LoadResult result;
};

// The agents' results added into one, and the agents themselves (by shard).
struct MergedRun {
  LoadResult total;
  std::vector<MergeInput> agents;
  std::vector<std::string> notes;  // e.g. the shards that are missing
};

// Adds the results of the agents of one sharded run (`socklab load --shard I/N --run-id ID`):
//   - histograms bucket by bucket (HdrHistogram encodings, exact), whole-run and per interval;
//     percentiles are recomputed from the sums, never averaged; min and max are exact;
//   - counters and error cells summed (a cell's first occurrence is the earliest of all agents,
//     by wall clock); client CPU and kernel counter deltas summed (each agent's machine);
//   - the per-second series aligned by wall clock: each agent's second ending at
//     start_unix + t_s goes to the whole second after the earliest agent's start it is nearest
//     to (agents started together by --start-at land in the same bins as long as their clocks
//     agree within half a second);
//   - the measured window spans the earliest start to the latest end of the agents' windows.
// Refused (UsageError, naming the files and the difference): results of different run ids,
// shard counts or load configurations (target, sizes, totals of -c, -R, -n, mode, timing), and
// two results of the same shard. Pure; thread affinity: none.
absl::StatusOr<MergedRun> MergeResults(std::vector<MergeInput> inputs);

// "agents      3 of 3 shards" and one line per agent: shard, backend, messages, msg/s, p50, p99,
// max, errors.
std::string MergeAgentsToText(const MergedRun& merged);
// [{"file", "shard", "backend", "started_at", "elapsed_s", "messages_completed",
//   "messages_per_s", "latency_ns": {...}, "errors"}, ...].
nlohmann::json MergeAgentsToJson(const MergedRun& merged);

}  // namespace socklab::client

#pragma once

#include "absl/status/statusor.h"
#include "client/load/load_result.h"
#include "nlohmann/json_fwd.hpp"

namespace socklab::client {

// A `socklab load --json` result read back into the LoadResult it was rendered from
// (client/load/load_report.cc's LoadResultToJson), so results of several agents can be added
// and rendered again by load's own text and JSON reports.
//
// Histograms come from their HdrHistogram encodings ("histograms", and each second's
// "rtt_histogram" / "connect_histogram"), with the exact min, max, mean and stdev the JSON
// states beside them. Times: start_ns is 0 and the error cells' first_seen_ns are nanoseconds
// from it; start_unix_ns places the run in wall-clock time.
//
// Errors: a JSON without the agent fields (written before socklab had them, or not by
// `socklab load`) is an InvalidArgument naming what is missing. Pure; thread affinity: none.
absl::StatusOr<LoadResult> LoadResultFromJson(const nlohmann::json& json);

}  // namespace socklab::client

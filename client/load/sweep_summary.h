#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "client/load/load_result.h"
#include "nlohmann/json_fwd.hpp"

namespace socklab::client {

// What `--sweep` asked for: the parameter and its values, in run order.
struct SweepSpec {
  std::string parameter;  // "connections" or "rate"
  std::vector<double> values;
};

// The most values one --sweep may ask for (each is a whole run).
inline constexpr int kMaxSweepValues = 100;

// "connections=1,10,100", "rate=1000,5k,20k" (a list; counts and rates as -c and -R take them),
// or the range form "rate=10k..200k/10": N values from FIRST to LAST (both included) spaced
// geometrically, each step the same ratio (LAST/FIRST)^(1/(N-1)), rounded to 3 significant
// digits (connections: to whole numbers, repeats dropped). Geometric, not even, because the knee
// is found by comparing each value with the previous one (p99 growth over kKneeP99Growth): equal
// ratios give every step the same weight, where even steps would make the first one 3x and the
// last 1.1x. A bad spec is a UsageError naming the part that is wrong and the forms.
absl::StatusOr<SweepSpec> ParseSweep(absl::string_view text);

// The range form's values: `count` (>= 2) from `first` to `last` (0 < first < last), geometric,
// rounded to 3 significant digits, whole numbers when `integers`, repeats dropped.
std::vector<double> GeometricSteps(double first, double last, int count, bool integers);

// One value of `socklab load --sweep NAME=V1,V2,...` and what its run measured.
struct SweepPoint {
  double value = 0;
  double messages_per_s = 0;
  int64_t p50_ns = 0;
  int64_t p99_ns = 0;
  int64_t p99_9_ns = 0;
  uint64_t errors = 0;
  double achieved_ratio = 1;  // open loop: of the schedule sent (1 in closed loop)
  bool reached = true;        // open loop: the rate asked for was met (RateReached)
};

SweepPoint SweepPointOf(double value, const LoadResult& result);

// p99 growing by more than this from one value to the next marks the knee.
inline constexpr double kKneeP99Growth = 3.0;

// The knee: the first point where the rate asked for was not met, or whose p99 is more than
// kKneeP99Growth times the previous point's; -1 when no point is. `why` (optional) says which.
int FindKnee(const std::vector<SweepPoint>& points, std::string* why);

// The summary table ("sweep  connections  msg/s  p50  p99  p99.9  errors  sent/scheduled") and
// the knee line.
std::string SweepToText(const std::string& parameter, const std::vector<SweepPoint>& points);
// {"parameter": "connections", "points": [{"value":..,"messages_per_s":..,...}],
//  "knee": {"index":..,"value":..,"why":".."} or null}
nlohmann::json SweepToJson(const std::string& parameter, const std::vector<SweepPoint>& points);

}  // namespace socklab::client

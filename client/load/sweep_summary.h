#pragma once

#include <string>
#include <vector>

#include "client/load/load_result.h"
#include "nlohmann/json_fwd.hpp"

namespace socklab::client {

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

#pragma once

#include <string>
#include <vector>

#include "client/load/load_result.h"
#include "nlohmann/json_fwd.hpp"

namespace socklab::client {

// One figure over the runs of `socklab load --repeat N`: the median (the lower one for an even
// N) and the spread.
struct RepeatFigure {
  std::string name;  // as the JSON names it: "messages_per_s", "p50_ns", ...
  double median = 0;
  double min = 0;
  double max = 0;
};

// What a repeated run compares, in order: each figure's JSON key ("messages_per_s"), the label
// the text and HTML reports show ("msg/s"), and whether it is a latency in ns.
struct RepeatFigureKind {
  const char* key;
  const char* label;
  bool latency;
};
std::vector<RepeatFigureKind> RepeatFigureKinds();

// The figures a repeated run compares: throughput and latency p50, p99, p99.9, max, each over
// the runs' own values (the median of the p99s, not the p99 of all messages).
std::vector<RepeatFigure> RepeatFigures(const std::vector<LoadResult>& runs);

// The index of the run whose throughput is the median: the run the full report shows.
size_t MedianRunIndex(const std::vector<LoadResult>& runs);

// "repeat      3 runs: median [min - max]" then one line per figure.
std::string RepeatSummaryToText(const std::vector<RepeatFigure>& figures, size_t runs);
// {"runs": N, "figures": {"messages_per_s": {"median":..,"min":..,"max":..}, ...},
//  "per_run": [{"messages_per_s":..,"p50_ns":..}, ...]}
nlohmann::json RepeatSummaryToJson(const std::vector<LoadResult>& runs);

}  // namespace socklab::client

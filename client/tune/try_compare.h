#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "client/tune/try_run.h"
#include "client/tune/try_settings.h"
#include "nlohmann/json.hpp"

namespace socklab::client {

// One side's runs of `socklab tune --try`, read from the load's --json results: rates and
// latencies are the median over the runs, errors and kernel counters their sum, states the peak
// of any sample. Plain value; thread affinity: none.
struct SideSummary {
  int runs = 0;
  double messages_per_s = 0;
  double connections_per_s = 0;  // connections opened / measured seconds
  double p50_ms = 0;             // message round trip
  double p99_ms = 0;
  double connect_p99_ms = 0;
  uint64_t errors_total = 0;
  std::map<std::string, uint64_t> errors;       // "connect EADDRNOTAVAIL" -> count
  std::map<std::string, uint64_t> peak_states;  // "TIME_WAIT" -> most seen in one sample
  std::map<std::string, int64_t> kernel;        // "TcpExt.ListenOverflows" -> delta
};

// Summarizes the results of `runs` (those with a load result).
SideSummary Summarize(const std::vector<const nlohmann::json*>& runs);

// One line that compares what was measured in B with A: error counts that differ ("0 connect
// EADDRNOTAVAIL instead of 4,112"), kernel drop/overflow counters that differ, and the rates
// (more than 10% apart) and p99 (more than 2x apart); prefixed by the tried settings ("with
// tcp_tw_reuse=1: ...").
std::string Verdict(const std::vector<TrySetting>& settings, const SideSummary& a,
                    const SideSummary& b);

// The side-by-side table (settings, rates, latencies, errors, peak states, kernel counters) and
// the verdict, at most `width` columns (0: no limit).
std::string ComparisonToText(const std::vector<TrySetting>& settings,
                             const std::vector<std::string>& load_args, const std::string& order,
                             const SideSummary& a, const SideSummary& b, size_t width);

// Everything: settings, the baseline both runs started from (HostBaseline), the load flags, each
// run's full load result, both summaries, the verdict.
nlohmann::json ComparisonToJson(const std::vector<TrySetting>& settings,
                                const std::vector<TrySetting>& baseline,
                                const std::vector<std::string>& load_args,
                                const std::vector<TryRun>& runs, const SideSummary& a,
                                const SideSummary& b);

// 4112 -> "4,112".
std::string GroupThousands(uint64_t value);

}  // namespace socklab::client

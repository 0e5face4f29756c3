#pragma once

#include <string>

#include "core/stats/load_result.h"
#include "nlohmann/json_fwd.hpp"

namespace socklab {

// Text and JSON renderings of a load run, from the one LoadResult. Pure functions; thread
// affinity: none.

// The configuration block ("target 127.0.0.1:7007  backend io_uring ..."), printed first.
std::string LoadConfigToText(const LoadConfig& config);
// The summary: throughput, latency percentiles, connect latency, errors with first occurrence
// and hints, kernel counter deltas.
std::string LoadSummaryToText(const LoadResult& result);
// One progress line for stderr: "[  3.0s] 41234 msg/s  p99 120us  open 64  errors 0".
std::string LoadProgressLine(const LoadSecond& second);

// "850ns", "120us", "1.25ms", "2.50s": compact latency text.
std::string FormatLatency(int64_t ns);

// Every field (see load_report.cc for the schema: config, machine, throughput, latency_ns,
// latency_uncorrected_ns, connect_latency_ns, errors, kernel, series, ...).
nlohmann::json LoadResultToJson(const LoadResult& result);
nlohmann::json HistogramToJson(const Histogram& histogram);

}  // namespace socklab

#pragma once

#include <string>

#include "client/load/load_result.h"
#include "nlohmann/json_fwd.hpp"

namespace socklab::client {

// Text and JSON renderings of a load run, from the one LoadResult. Pure functions; thread
// affinity: none.

// The configuration block ("target 127.0.0.1:7007  backend io_uring ..."), printed first.
std::string LoadConfigToText(const LoadConfig& config);
// The summary: throughput, latency percentiles, connect latency, errors with first occurrence
// and hints, kernel counter deltas.
std::string LoadSummaryToText(const LoadResult& result);
// One progress line for stderr: "[  3.0s] 41234 msg/s  p99 120us  open 64  errors 0", followed
// with --states by the second's non-zero states ("ESTABLISHED 128 TIME_WAIT 40").
std::string LoadProgressLine(const LoadSecond& second);
// With --states: the per-second table (t, msg/s, errors and one column per state that was
// non-zero in some second; "n/a" where a sample failed) and the tally at the end. Empty when no
// second was sampled.
std::string LoadStatesToText(const LoadResult& result);

// Open loop: the share of the schedule's messages that were sent (1 in closed loop), and whether
// it reached kReachedRatio (the first connects and the last interval cost a little of any
// schedule: below 95% the rate asked for was not reached).
inline constexpr double kReachedRatio = 0.95;
double AchievedRatio(const LoadResult& result);
bool RateReached(const LoadResult& result);

// --min-rate-ratio given and missed: the share of the schedule sent is below it.
bool MinRateRatioMissed(const LoadResult& result);
// The exit code of a run that completed but missed --min-rate-ratio: apart from 1 (errors,
// nothing measured) so a script can tell "the rate was not kept" from "the run failed".
inline constexpr int kExitRateNotReached = 3;

// Connections opened per second of the measured window (the churn rate).
double ConnectionsPerSecond(const LoadResult& result);

// The per-second series as CSV: a header row, then one row per second with the JSON series'
// fields (t_s, interval_s, warmup, messages, bytes, errors, connects, open connections, latency
// and connect latency percentiles in ns), then one errors_PHASE_LABEL column per error cell seen
// in any second ("errors_connect_ECONNREFUSED") and, with --states, one states_NAME column per
// state (empty where that second's sample failed: unknown, not zero). The seconds' encoded
// histograms stay in the JSON and the --hlog log: they are for socklab merge, not a spreadsheet.
std::string LoadSeriesToCsv(const LoadResult& result);

// "850ns", "120us", "1.25ms", "2.50s": compact latency text.
std::string FormatLatency(int64_t ns);

// Every field (see load_report.cc for the schema: config, machine, throughput, latency_ns,
// latency_uncorrected_ns, connect_latency_ns, errors, kernel, series, ...).
nlohmann::json LoadResultToJson(const LoadResult& result);
// The HdrHistogram interval log of the run (core/stats/hdr_log.h): one Tag=rtt and one
// Tag=connect line per second that recorded any, timestamps from the run's start; the run id
// and shard in its leading comment.
std::string LoadResultToHlog(const LoadResult& result);

nlohmann::json HistogramToJson(const Histogram& histogram);
// How the JSON's "histograms" and the series' "*_histogram" strings are encoded.
inline constexpr char kHistogramEncodingName[] =
    "HdrHistogram V2 compressed, base64; 2 significant digits, lowest 1 ns";
// The percentile distribution as [[value_ns, percentile (0-100), total_count], ...], the rows
// of the .hgrm output.
nlohmann::json SpectrumToJson(const Histogram& histogram);

}  // namespace socklab::client

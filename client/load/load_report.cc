#include "client/load/load_report.h"

#include <algorithm>
#include <cinttypes>
#include <variant>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "client/load/load_flags.h"
#include "core/base/units.h"
#include "core/stats/hdr_codec.h"
#include "core/stats/hdr_log.h"
#include "nlohmann/json.hpp"

namespace socklab::client {
namespace {

double PerSecond(uint64_t n, double seconds) { return seconds > 0 ? n / seconds : 0.0; }

std::string Bytes(uint64_t n) { return FormatBytes(static_cast<double>(n)); }

void AppendLatencyLine(std::string* out, absl::string_view name, const Histogram& h) {
  absl::StrAppendFormat(
      out, "%-13s p50 %s  p90 %s  p99 %s  p99.9 %s  p99.99 %s  max %s  mean %s  stdev %s  (n=%d)\n",
      name, FormatLatency(h.ValueAtPercentile(50)), FormatLatency(h.ValueAtPercentile(90)),
      FormatLatency(h.ValueAtPercentile(99)), FormatLatency(h.ValueAtPercentile(99.9)),
      FormatLatency(h.ValueAtPercentile(99.99)), FormatLatency(h.max()),
      FormatLatency(static_cast<int64_t>(h.mean())), FormatLatency(static_cast<int64_t>(h.stdev())),
      h.count());
}

// One line per error cell: phase, its label (as ToText and the JSON name it), count, first
// occurrence.
void AppendErrorLines(std::string* out, const ErrorCounts& errors, int64_t start_ns) {
  errors.ForEach([&](Phase phase, ErrorClass error_class, uint64_t count, int first_errno,
                     int64_t first_seen_ns) {
    const std::string label = ErrorCellLabel(error_class, first_errno);
    absl::StrAppendFormat(out, "  %-8s %-14s %10d  first at %.3fs\n", PhaseName(phase), label,
                          count, (first_seen_ns - start_ns) / 1e9);
  });
}

// "ESTABLISHED 6 TIME_WAIT 3": the non-zero states of one sample.
std::string NonZeroStates(const LoadSecond& p, absl::string_view separator) {
  std::string text;
  for (const auto& [name, count] : p.states) {
    if (count > 0) {
      absl::StrAppend(&text, text.empty() ? "" : separator, name, " ", count);
    }
  }
  return text;
}

// The socket error cells, then the data mismatches as the text's "data mismatch" line (no errno,
// no first time).
nlohmann::json ErrorsToJson(const ErrorCounts& errors, uint64_t data_errors, int64_t start_ns) {
  nlohmann::json cells = errors.ToJson();
  for (nlohmann::json& cell : cells) {
    cell["first_seen_s"] = (cell["first_seen_ns"].get<int64_t>() - start_ns) / 1e9;
  }
  if (data_errors > 0) {
    cells.push_back({{"phase", "data"},
                     {"class", "mismatch"},
                     {"errno", "mismatch"},
                     {"count", data_errors},
                     {"first_seen_ns", nullptr},
                     {"first_seen_s", nullptr}});
  }
  return cells;
}

// Connections per loop thread a run may start at once before its connect latency is mostly the
// client's own start-up (each thread starts them in batches of 16 between reaping completions).
constexpr int kQuietStartPerThread = 64;

// Empty, or why the kernel's deltas include more than this run: it opened more connections than
// the run attempted.
std::string OtherTrafficNote(const LoadResult& r) {
  const uint64_t attempts = r.connect_attempts + r.warmup_connect_attempts;
  for (const CounterDelta& delta : r.kernel) {
    if (delta.name == "Tcp.ActiveOpens" && delta.delta > static_cast<int64_t>(attempts)) {
      return absl::StrCat("(Tcp.ActiveOpens +", delta.delta, " > this run's ", attempts,
                          " connection attempts: other programs' traffic is in these counts)");
    }
  }
  return "";
}

// "0.5", "300", "300000": a rate as the user wrote it (%.0f showed -R 0.5 as 0).
std::string FormatRate(double rate) { return absl::StrFormat("%.10g", rate); }

// ", pipeline 1", ", warmup 2s, connect timeout 2s": the flags the table states on `line`.
void AppendLabelledFlags(std::string* out, const LoadConfig& c, ConfigLine line) {
  for (const LoadFlag& flag : LoadFlagTable()) {
    if (flag.line == line && !(flag.text_omits_zero && flag.ConfigValue(c) == 0)) {
      absl::StrAppend(out, ", ", flag.text_label, " ", flag.ConfigText(c));
    }
  }
}

std::string SizeText(const LoadConfig& c) {
  if (c.size_min == c.size_max) {
    return absl::StrCat(c.size_min, " B");
  }
  return absl::StrCat(c.size_min, "-", c.size_max, " B");
}

// The agent's identity, its place in wall-clock time and its histograms in HdrHistogram's form
// (whole run, and per second in the series): what `socklab merge` adds up exactly.
void AddAgentJson(const LoadResult& r, nlohmann::json* json) {
  const LoadConfig& c = r.config;
  (*json)["run_id"] = c.run_id;
  (*json)["config"]["shard"] = {
      {"index", c.shard_index},     {"count", c.shard_count},
      {"start_at", c.start_at},     {"total_connections", c.total_connections},
      {"total_rate", c.total_rate}, {"total_messages", c.total_messages}};
  (*json)["start_unix_ns"] = r.start_unix_ns;
  (*json)["measure_start_unix_ns"] = r.measure_start_unix_ns;
  (*json)["histograms"] = {
      {"encoding", kHistogramEncodingName},
      {"rtt", EncodeHistogram(r.rtt)},
      {"rtt_uncorrected", c.rate > 0 ? EncodeHistogram(r.rtt_uncorrected) : ""},
      {"send_lag", c.rate > 0 ? EncodeHistogram(r.send_lag) : ""},
      {"connect", EncodeHistogram(r.connect)}};
  nlohmann::json& series = (*json)["series"];
  for (size_t i = 0; i < r.series.size() && i < series.size(); ++i) {
    series[i]["rtt_histogram"] = r.series[i].rtt_histogram;
    series[i]["connect_histogram"] = r.series[i].connect_histogram;
  }
}

}  // namespace

double AchievedRatio(const LoadResult& r) {
  return r.messages_scheduled > 0
             ? static_cast<double>(r.messages_sent) / static_cast<double>(r.messages_scheduled)
             : 1.0;
}

bool RateReached(const LoadResult& r) { return AchievedRatio(r) >= kReachedRatio; }

bool MinRateRatioMissed(const LoadResult& r) {
  return r.config.min_rate_ratio > 0 && r.config.rate > 0 &&
         AchievedRatio(r) < r.config.min_rate_ratio;
}

double ConnectionsPerSecond(const LoadResult& r) {
  return PerSecond(r.connections_opened, r.elapsed_s);
}

std::string LoadSeriesToCsv(const LoadResult& r) {
  // The variable columns: every error cell and state any second has, in order of appearance.
  std::vector<std::string> error_labels;
  std::vector<std::string> state_names;
  for (const LoadSecond& p : r.series) {
    for (const auto& [label, count] : p.errors_by_class) {
      if (std::find(error_labels.begin(), error_labels.end(), label) == error_labels.end()) {
        error_labels.push_back(label);
      }
    }
    for (const auto& [name, count] : p.states) {
      if (std::find(state_names.begin(), state_names.end(), name) == state_names.end()) {
        state_names.push_back(name);
      }
    }
  }
  std::string out =
      "t_s,interval_s,warmup,messages,bytes_sent,bytes_received,errors,connects,"
      "open_connections,p50_ns,p99_ns,p99_9_ns,max_ns,connect_p50_ns,connect_p99_ns,"
      "connect_max_ns";
  for (const std::string& label : error_labels) {
    std::string column = absl::StrCat("errors_", label);
    std::replace(column.begin(), column.end(), ' ', '_');
    absl::StrAppend(&out, ",", column);
  }
  for (const std::string& name : state_names) {
    absl::StrAppend(&out, ",states_", name);
  }
  absl::StrAppend(&out, "\n");
  for (const LoadSecond& p : r.series) {
    absl::StrAppendFormat(&out, "%.3f,%.3f,%d,%d,%d,%d,%d,%d,%d,%d,%d,%d,%d,%d,%d,%d", p.t_s,
                          p.interval_s, p.warmup ? 1 : 0, p.messages, p.bytes_sent,
                          p.bytes_received, p.errors, p.connects, p.open_connections, p.p50_ns,
                          p.p99_ns, p.p99_9_ns, p.max_ns, p.connect_p50_ns, p.connect_p99_ns,
                          p.connect_max_ns);
    for (const std::string& label : error_labels) {
      uint64_t count = 0;
      for (const auto& [cell, n] : p.errors_by_class) {
        count = cell == label ? n : count;
      }
      absl::StrAppend(&out, ",", count);
    }
    for (const std::string& name : state_names) {
      if (!p.states_error.empty() || p.states.empty()) {
        absl::StrAppend(&out, ",");  // unknown, not zero
        continue;
      }
      int64_t count = 0;
      for (const auto& [state, n] : p.states) {
        count = state == name ? n : count;
      }
      absl::StrAppend(&out, ",", count);
    }
    absl::StrAppend(&out, "\n");
  }
  return out;
}

std::string FormatLatency(int64_t ns) {
  if (ns < 1'000) {
    return absl::StrCat(ns, "ns");
  }
  if (ns < 1'000'000) {
    return absl::StrFormat("%.0fus", ns / 1e3);
  }
  if (ns < 1'000'000'000) {
    return absl::StrFormat("%.2fms", ns / 1e6);
  }
  return absl::StrFormat("%.2fs", ns / 1e9);
}

std::string LoadConfigToText(const LoadConfig& c) {
  std::string out;
  absl::StrAppend(&out, "socklab     ", c.version.empty() ? "" : c.version + " ", "load");
  if (!c.started_at.empty()) {
    absl::StrAppend(&out, ", started ", c.started_at);
  }
  absl::StrAppend(&out, "\n");
  if (!c.command_line.empty()) {
    absl::StrAppend(&out, "command     ", c.command_line, "\n");
  }
  absl::StrAppend(&out, "target      ", c.target,
                  c.target_note.empty() ? "" : absl::StrCat(" (", c.target_note, ")"), "\n");
  absl::StrAppend(&out, "backend     ", c.backend);
  if (!c.backend_fallback_reason.empty()) {
    absl::StrAppend(&out, " (auto fell back: ", c.backend_fallback_reason, ")");
  } else if (c.backend_requested == "auto") {
    absl::StrAppend(&out, " (auto)");
  }
  absl::StrAppend(&out, "\n");
  absl::StrAppend(&out, "machine     ", MachineInfoToText(c.machine), "\n");
  absl::StrAppend(&out, "load        ", c.connections, " connections on ", c.threads,
                  c.threads == 1 ? " thread, " : " threads, ");
  if (c.rate > 0) {
    absl::StrAppend(&out, "open loop at ", FormatRate(c.rate), " msg/s");
  } else {
    absl::StrAppend(&out, "closed loop");
  }
  AppendLabelledFlags(&out, c, ConfigLine::kLoad);
  absl::StrAppend(&out, ", size ", SizeText(c), c.nodelay ? "" : ", Nagle on (--nagle)", "\n");
  absl::StrAppend(&out, "run         ");
  if (c.messages > 0) {
    absl::StrAppend(&out, c.messages, " messages");
    if (c.duration_s > 0) {
      absl::StrAppendFormat(&out, " or %gs", c.duration_s);  // whichever comes first
    }
  } else {
    absl::StrAppendFormat(&out, "%gs", c.duration_s);
  }
  AppendLabelledFlags(&out, c, ConfigLine::kRun);
  absl::StrAppend(&out, "\n");
  if (c.churn > 0 || c.connect_rate > 0 || c.close_mode != "fin") {
    absl::StrAppend(&out, "connections ");
    if (c.churn > 0) {
      absl::StrAppend(&out, "reconnect every ", c.churn, " messages, ");
    }
    if (c.connect_rate > 0) {
      absl::StrAppend(&out, "at most ", FormatRate(c.connect_rate), " connects/s, ");
    }
    absl::StrAppend(&out, "close with ", c.close_mode, "\n");
  }
  if (!c.bind.empty() || !c.source_ips.empty()) {
    absl::StrAppend(&out, "source      ", c.bind.empty() ? c.source_ips : c.bind, "\n");
  }
  for (const std::string& note : c.limit_notes) {
    absl::StrAppend(&out, "limits      ", note, "\n");
  }
  if (c.shard_count > 1 || !c.run_id.empty() || !c.start_at.empty()) {
    absl::StrAppend(&out, "agent       ");
    if (c.shard_count > 1) {
      absl::StrAppend(&out, "shard ", c.shard_index, "/", c.shard_count, " (of ",
                      c.total_connections, " connections");
      if (c.total_rate > 0) {
        absl::StrAppend(&out, ", ", FormatRate(c.total_rate), " msg/s");
      }
      if (c.total_messages > 0) {
        absl::StrAppend(&out, ", ", c.total_messages, " messages");
      }
      absl::StrAppend(&out, " in all), ");
    }
    absl::StrAppend(&out, "run id ", c.run_id.empty() ? "none" : c.run_id);
    if (!c.start_at.empty()) {
      absl::StrAppend(&out, ", measured from ", c.start_at);
    }
    absl::StrAppend(&out, "\n");
  }
  return out;
}

std::string LoadSummaryToText(const LoadResult& r) {
  std::string out;
  const double s = r.elapsed_s;
  absl::StrAppendFormat(&out, "\nduration    %.2fs measured\n", s);
  // A churn run measures connections as much as messages: their rate and connect latency first.
  if (r.config.churn > 0) {
    absl::StrAppendFormat(
        &out,
        "churn       %.0f connections/s (%d opened in the window, a new one every %d messages)",
        ConnectionsPerSecond(r), r.connections_opened, r.config.churn);
    if (r.connect.count() > 0) {
      absl::StrAppendFormat(
          &out, "; connect p50 %s  p99 %s  max %s", FormatLatency(r.connect.ValueAtPercentile(50)),
          FormatLatency(r.connect.ValueAtPercentile(99)), FormatLatency(r.connect.max()));
    }
    absl::StrAppend(&out, "\n");
  }
  absl::StrAppendFormat(&out,
                        "messages    %d completed (%.0f msg/s), %d sent, %d failed, %d data "
                        "errors, in flight at end: %d\n",
                        r.messages_completed, PerSecond(r.messages_completed, s), r.messages_sent,
                        r.messages_failed, r.data_errors, r.messages_in_flight_at_end);
  absl::StrAppendFormat(&out, "bytes       sent %s (%s/s), received %s (%s/s)\n",
                        Bytes(r.bytes_sent), FormatBytes(PerSecond(r.bytes_sent, s)),
                        Bytes(r.bytes_received), FormatBytes(PerSecond(r.bytes_received, s)));
  absl::StrAppendFormat(&out, "connections %d opened (%d attempts), peak %d open",
                        r.connections_opened, r.connect_attempts, r.peak_open_connections);
  if (r.warmup_connect_attempts > 0) {
    absl::StrAppendFormat(&out, "; during the warmup %d opened (%d attempts)",
                          r.warmup_connections_opened, r.warmup_connect_attempts);
  }
  absl::StrAppend(&out, "\n");
  if (r.config.rate > 0) {
    AppendLatencyLine(&out, "latency", r.rtt);
    AppendLatencyLine(&out, "uncorrected", r.rtt_uncorrected);
    absl::StrAppend(&out,
                    "            (latency is from each message's scheduled send time; "
                    "'uncorrected' hides stalls, as coordinated omission does)\n");
    AppendLatencyLine(&out, "send lag", r.send_lag);
    absl::StrAppend(&out,
                    "            (from the scheduled time to the send: the client's own lateness "
                    "or a full pipeline, included in 'latency')\n");
    const double achieved = AchievedRatio(r);
    absl::StrAppendFormat(&out, "schedule    %d messages scheduled at %s msg/s, %d sent (%.1f%%)",
                          r.messages_scheduled, FormatRate(r.config.rate), r.messages_sent,
                          100 * achieved);
    if (!RateReached(r)) {
      absl::StrAppendFormat(&out,
                            ": the rate asked for was NOT reached (%.0f msg/s sent); add "
                            "connections (-c), --pipeline or threads, or check the client's "
                            "CPU",
                            PerSecond(r.messages_sent, s));
    }
    absl::StrAppend(&out, "\n");
    if (r.config.min_rate_ratio > 0) {
      absl::StrAppendFormat(
          &out, "rate check  %s: %.1f%% of the schedule sent, %s --min-rate-ratio %.10g%s\n",
          MinRateRatioMissed(r) ? "FAILED" : "passed", 100 * achieved,
          MinRateRatioMissed(r) ? "below" : "at or above", r.config.min_rate_ratio,
          MinRateRatioMissed(r) ? absl::StrCat(" (exit ", kExitRateNotReached, ")") : "");
    }
  } else {
    AppendLatencyLine(&out, "latency", r.rtt);
  }
  if (r.connect.count() > 0) {
    AppendLatencyLine(&out, "connect", r.connect);
    const int per_thread = r.config.threads > 0 ? r.config.connections / r.config.threads : 0;
    if (r.config.connect_rate == 0 && per_thread > kQuietStartPerThread) {
      absl::StrAppend(&out, "            (", per_thread,
                      " connections per thread start together: their connect latency includes "
                      "the burst's queueing, in the target's accept queue and in this client's "
                      "loop; --connect-rate paces it)\n");
    }
  } else if (r.warmup_connections_opened > 0) {
    absl::StrAppend(&out, "connect       none in the measured window (",
                    r.warmup_connections_opened, " opened during the warmup)\n");
  } else {
    absl::StrAppend(&out, "connect       none succeeded\n");
  }
  if (r.errors.Total() + r.data_errors == 0) {
    absl::StrAppend(&out, "errors      none\n");
  } else {
    absl::StrAppend(&out, "errors      ", r.errors.Total() + r.data_errors, "\n");
    AppendErrorLines(&out, r.errors, r.start_ns);
    if (r.data_errors > 0) {
      absl::StrAppendFormat(&out, "  %-8s %-14s %10d\n", "data", "mismatch", r.data_errors);
    }
  }
  if (r.warmup_errors.Total() + r.warmup_data_errors > 0) {
    absl::StrAppend(&out, "warmup      ", r.warmup_errors.Total() + r.warmup_data_errors,
                    " errors during the warmup (not counted above)\n");
    AppendErrorLines(&out, r.warmup_errors, r.start_ns);
    if (r.warmup_data_errors > 0) {
      absl::StrAppendFormat(&out, "  %-8s %-14s %10d\n", "data", "mismatch", r.warmup_data_errors);
    }
  }
  for (const std::string& hint : r.hints) {
    absl::StrAppend(&out, "  hint: ", hint, "\n");
  }
  if (r.wall_s > 0) {
    const double cpu = r.client_cpu_user_s + r.client_cpu_system_s;
    const int busy_cpus = std::max(1, std::min(r.config.threads, r.config.machine.cpus));
    absl::StrAppendFormat(&out,
                          "client cpu  %.2fs (user %.2fs, system %.2fs) in %.2fs: %.0f%% of one "
                          "CPU, %d loop thread%s on %d CPUs",
                          cpu, r.client_cpu_user_s, r.client_cpu_system_s, r.wall_s,
                          100 * cpu / r.wall_s, r.config.threads, r.config.threads == 1 ? "" : "s",
                          r.config.machine.cpus);
    if (cpu >= 0.9 * busy_cpus * r.wall_s) {
      absl::StrAppend(&out,
                      "; the client was busy all the time: it, not the target, may have set "
                      "the pace");
    }
    absl::StrAppend(&out, "\n");
  }
  if (r.kernel_counters_available) {
    // The counters are the network namespace's, every process's: say so, and say when they
    // show traffic that cannot be this run's.
    absl::StrAppend(&out, "kernel      ",
                    r.kernel_namespaces > 1
                        ? absl::StrCat("summed over ", r.kernel_namespaces,
                                       " agents' machines (all processes in each one's network "
                                       "namespace): ")
                        : "machine-wide (all processes in this network namespace): ",
                    r.kernel.empty() ? "none of the TCP, IP or UDP counters moved"
                                     : CounterDeltasToText(r.kernel),
                    "\n");
    if (const std::string other = OtherTrafficNote(r); !other.empty()) {
      absl::StrAppend(&out, "            ", other, "\n");
    }
  }
  if (!r.abort_reason.empty()) {
    absl::StrAppend(&out, "aborted     ", r.abort_reason, "\n");
  }
  return out;
}

std::string LoadProgressLine(const LoadSecond& p) {
  std::string line = absl::StrFormat("[%6.1fs]%s %8.0f msg/s  p99 %-8s open %-6d errors %d", p.t_s,
                                     p.warmup ? " warmup" : "", PerSecond(p.messages, p.interval_s),
                                     FormatLatency(p.p99_ns), p.open_connections, p.errors);
  if (!p.states_error.empty()) {
    absl::StrAppend(&line, "  states n/a");
  } else if (!p.states.empty()) {
    const std::string states = NonZeroStates(p, " ");
    absl::StrAppend(&line, "  ", states.empty() ? "no sockets" : states);
  }
  return line;
}

std::string LoadStatesToText(const LoadResult& r) {
  // The columns: every state that was non-zero in some second, in the samples' order.
  std::vector<std::string> columns;
  bool sampled = false;
  for (const LoadSecond& p : r.series) {
    sampled = sampled || !p.states.empty() || !p.states_error.empty();
    for (const auto& [name, count] : p.states) {
      if (count > 0 && std::find(columns.begin(), columns.end(), name) == columns.end()) {
        columns.push_back(name);
      }
    }
  }
  if (!sampled) {
    return "";
  }
  std::string out =
      "states      the target port's sockets (both ends) each second; * warmup, n/a: the "
      "sample failed\n";
  absl::StrAppendFormat(&out, "  %9s %10s %7s", "t", "msg/s", "errors");
  for (const std::string& name : columns) {
    absl::StrAppendFormat(&out, "  %*s", std::max<int>(6, name.size()), name);
  }
  absl::StrAppend(&out, "\n");
  for (const LoadSecond& p : r.series) {
    absl::StrAppendFormat(&out, "  %7.1fs%s %10.0f %7d", p.t_s, p.warmup ? "*" : " ",
                          PerSecond(p.messages, p.interval_s), p.errors);
    for (const std::string& name : columns) {
      const int width = std::max<int>(6, name.size());
      if (!p.states_error.empty()) {
        absl::StrAppendFormat(&out, "  %*s", width, "n/a");
        continue;
      }
      int64_t count = 0;
      for (const auto& [state, n] : p.states) {
        if (state == name) {
          count = n;
        }
      }
      absl::StrAppendFormat(&out, "  %*d", width, count);
    }
    absl::StrAppend(&out, "\n");
  }
  if (!r.series.empty()) {
    const LoadSecond& last = r.series.back();
    std::string tally;
    if (!last.states_error.empty()) {
      tally = absl::StrCat("unavailable (", last.states_error, ")");
    } else if (!last.states.empty()) {
      tally = NonZeroStates(last, ", ");
      if (tally.empty()) {
        tally = "no sockets";
      }
    } else {
      tally = "not sampled";
    }
    absl::StrAppend(&out, "  at the end: ", tally, "\n");
  }
  return out;
}

std::string LoadResultToHlog(const LoadResult& r) {
  HdrLog log;
  const LoadConfig& c = r.config;
  log.comments.push_back(absl::StrCat(
      "socklab ", c.version, " load ", c.target, ", run id ", c.run_id.empty() ? "none" : c.run_id,
      ", shard ", c.shard_index, "/", c.shard_count, "; values in ns, Interval_Max in ms"));
  log.start_time_s = r.start_unix_ns / 1e9;
  log.base_time_s = log.start_time_s;
  for (const LoadSecond& second : r.series) {
    for (const auto& [tag, encoded] : {std::pair{"rtt", &second.rtt_histogram},
                                       std::pair{"connect", &second.connect_histogram}}) {
      if (encoded->empty()) {
        continue;
      }
      absl::StatusOr<Histogram> histogram = DecodeHistogram(*encoded);
      if (histogram.ok()) {  // always: the engine encoded it
        log.intervals.push_back(
            {tag, second.t_s - second.interval_s, second.interval_s, std::move(*histogram)});
      }
    }
  }
  return FormatHdrLog(log);
}

nlohmann::json HistogramToJson(const Histogram& h) {
  return {{"count", h.count()},
          {"min", h.min()},
          {"mean", h.mean()},
          {"stdev", h.stdev()},
          {"p50", h.ValueAtPercentile(50)},
          {"p90", h.ValueAtPercentile(90)},
          {"p99", h.ValueAtPercentile(99)},
          {"p99_9", h.ValueAtPercentile(99.9)},
          {"p99_99", h.ValueAtPercentile(99.99)},
          {"max", h.max()}};
}

nlohmann::json SpectrumToJson(const Histogram& h) {
  nlohmann::json points = nlohmann::json::array();
  for (const Histogram::SpectrumPoint& point : h.PercentileSpectrum()) {
    points.push_back({point.value_ns, point.percentile, point.total_count});
  }
  return points;
}

nlohmann::json LoadResultToJson(const LoadResult& r) {
  const LoadConfig& c = r.config;
  nlohmann::json json;
  json["config"] = {{"version", c.version},
                    {"command_line", c.command_line},
                    {"started_at", c.started_at},
                    {"target", c.target},
                    {"target_note", c.target_note},
                    {"backend", c.backend},
                    {"backend_requested", c.backend_requested},
                    {"backend_fallback_reason", c.backend_fallback_reason},
                    {"mode", c.rate > 0 ? "open" : "closed"},
                    {"close", c.close_mode},
                    {"nodelay", c.nodelay},
                    {"size_min", c.size_min},
                    {"size_max", c.size_max},
                    {"bind", c.bind},
                    {"source_ips", c.source_ips},
                    {"limit_notes", c.limit_notes}};
  for (const LoadFlag& flag : LoadFlagTable()) {
    std::visit([&](auto field) { json["config"][flag.json_key] = c.*field; }, flag.config);
  }
  json["machine"] = MachineInfoToJson(c.machine);
  const double s = r.elapsed_s;
  json["elapsed_s"] = s;
  json["messages"] = {{"sent", r.messages_sent},
                      {"completed", r.messages_completed},
                      {"failed", r.messages_failed},
                      {"data_errors", r.data_errors},
                      {"in_flight_at_end", r.messages_in_flight_at_end}};
  json["bytes"] = {{"sent", r.bytes_sent}, {"received", r.bytes_received}};
  json["throughput"] = {{"messages_per_s", PerSecond(r.messages_completed, s)},
                        {"sent_bytes_per_s", PerSecond(r.bytes_sent, s)},
                        {"received_bytes_per_s", PerSecond(r.bytes_received, s)}};
  json["connections"] = {{"opened", r.connections_opened},
                         {"attempts", r.connect_attempts},
                         {"warmup_opened", r.warmup_connections_opened},
                         {"warmup_attempts", r.warmup_connect_attempts},
                         {"peak_open", r.peak_open_connections},
                         {"opened_per_s", ConnectionsPerSecond(r)}};
  // Churn runs: the connection rate and connect latency, as the text puts them first.
  json["churn"] = c.churn > 0 ? nlohmann::json{{"reconnect_every", c.churn},
                                               {"connections_per_s", ConnectionsPerSecond(r)},
                                               {"connect_p50_ns", r.connect.ValueAtPercentile(50)},
                                               {"connect_p99_ns", r.connect.ValueAtPercentile(99)},
                                               {"connect_max_ns", r.connect.max()}}
                              : nlohmann::json(nullptr);
  json["latency_ns"] = HistogramToJson(r.rtt);
  json["latency_uncorrected_ns"] =
      c.rate > 0 ? HistogramToJson(r.rtt_uncorrected) : nlohmann::json(nullptr);
  json["connect_latency_ns"] = HistogramToJson(r.connect);
  // The whole run's percentile distribution (the .hgrm rows), for a percentile spectrum plot.
  json["latency_spectrum"] = {
      {"corrected", SpectrumToJson(r.rtt)},
      {"uncorrected", c.rate > 0 ? SpectrumToJson(r.rtt_uncorrected) : nlohmann::json(nullptr)}};
  json["open_loop"] =
      c.rate > 0 ? nlohmann::json{{"scheduled", r.messages_scheduled},
                                  {"sent", r.messages_sent},
                                  {"achieved_ratio", AchievedRatio(r)},
                                  {"reached", RateReached(r)},
                                  {"min_rate_ratio", c.min_rate_ratio > 0
                                                         ? nlohmann::json(c.min_rate_ratio)
                                                         : nlohmann::json(nullptr)},
                                  {"min_rate_ratio_met",
                                   c.min_rate_ratio > 0 ? nlohmann::json(!MinRateRatioMissed(r))
                                                        : nlohmann::json(nullptr)},
                                  {"send_lag_ns", HistogramToJson(r.send_lag)}}
                 : nlohmann::json(nullptr);
  // As the text counts them: socket errors and data errors together, each with its cell.
  json["errors"] = {
      {"total", r.errors.Total() + r.data_errors},
      {"by_class", ErrorsToJson(r.errors, r.data_errors, r.start_ns)},
      {"data_errors", r.data_errors},
      {"warmup_total", r.warmup_errors.Total() + r.warmup_data_errors},
      {"warmup_by_class", ErrorsToJson(r.warmup_errors, r.warmup_data_errors, r.start_ns)},
      {"warmup_data_errors", r.warmup_data_errors},
      {"hints", r.hints}};
  json["client_cpu"] = {
      {"user_s", r.client_cpu_user_s}, {"system_s", r.client_cpu_system_s}, {"wall_s", r.wall_s}};
  json["kernel"] =
      r.kernel_counters_available ? CounterDeltasToJson(r.kernel) : nlohmann::json(nullptr);
  nlohmann::json series = nlohmann::json::array();
  for (const LoadSecond& p : r.series) {
    nlohmann::json point = {{"t_s", p.t_s},
                            {"interval_s", p.interval_s},
                            {"warmup", p.warmup},
                            {"messages", p.messages},
                            {"bytes_sent", p.bytes_sent},
                            {"bytes_received", p.bytes_received},
                            {"errors", p.errors},
                            {"connects", p.connects},
                            {"open_connections", p.open_connections},
                            {"p50_ns", p.p50_ns},
                            {"p99_ns", p.p99_ns},
                            {"p99_9_ns", p.p99_9_ns},
                            {"max_ns", p.max_ns},
                            {"connect_p50_ns", p.connect_p50_ns},
                            {"connect_p99_ns", p.connect_p99_ns},
                            {"connect_max_ns", p.connect_max_ns}};
    nlohmann::json errors_by_class = nlohmann::json::object();
    for (const auto& [label, count] : p.errors_by_class) {
      errors_by_class[label] = count;
    }
    point["errors_by_class"] = errors_by_class;
    if (!p.states_error.empty()) {
      // Unknown, not zero.
      point["states"] = nullptr;
      point["states_error"] = p.states_error;
    } else if (!p.states.empty()) {
      nlohmann::json states = nlohmann::json::object();
      for (const auto& [name, count] : p.states) {
        states[name] = count;
      }
      point["states"] = states;
    }
    series.push_back(point);
  }
  json["series"] = series;
  json["aborted"] = !r.abort_reason.empty();
  json["abort_reason"] = r.abort_reason;
  AddAgentJson(r, &json);
  return json;
}

}  // namespace socklab::client

#include "client/merge/result_json.h"

#include <cmath>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "core/base/errno_name.h"
#include "core/net/error_class.h"
#include "core/stats/hdr_codec.h"
#include "nlohmann/json.hpp"

namespace socklab::client {
namespace {

absl::Status Missing(absl::string_view what) {
  return absl::InvalidArgumentError(
      absl::StrCat("no ", what, ": not a result of socklab load --json (0.2 or later)"));
}

template <typename T>
T Get(const nlohmann::json& object, const char* key, T fallback) {
  if (!object.is_object() || !object.contains(key) || object[key].is_null()) {
    return fallback;
  }
  return object[key].get<T>();
}

// A histogram from its encoding, with the exact figures of its summary object (HistogramToJson).
absl::StatusOr<Histogram> HistogramFrom(const nlohmann::json& encoded,
                                        const nlohmann::json& summary, const char* name) {
  if (!encoded.is_string() || encoded.get<std::string>().empty()) {
    return Histogram();
  }
  absl::StatusOr<Histogram> histogram = DecodeHistogram(encoded.get<std::string>());
  if (!histogram.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("histograms.", name, ": ", histogram.status().message()));
  }
  if (summary.is_object() && Get<uint64_t>(summary, "count", 0) == histogram->count()) {
    histogram->RestoreExact(Get<int64_t>(summary, "min", 0), Get<int64_t>(summary, "max", 0),
                            Get<double>(summary, "mean", 0), Get<double>(summary, "stdev", 0));
  }
  return histogram;
}

// Phase and class back from their JSON names.
bool CellOf(const nlohmann::json& cell, Phase* phase, ErrorClass* error_class, int* err) {
  const std::string phase_name = Get<std::string>(cell, "phase", "");
  const std::string class_key = Get<std::string>(cell, "class", "");
  bool found = false;
  for (int p = 0; p < kPhaseCount && !found; ++p) {
    if (PhaseName(static_cast<Phase>(p)) == phase_name) {
      *phase = static_cast<Phase>(p);
      found = true;
    }
  }
  if (!found) {
    return false;
  }
  for (int c = 0; c < kErrorClassCount; ++c) {
    if (ClassKey(static_cast<ErrorClass>(c)) == class_key) {
      *error_class = static_cast<ErrorClass>(c);
      const std::string label = Get<std::string>(cell, "errno", "");
      *err = 0;
      for (int e = 1; e < 200; ++e) {
        if (ErrnoName(e) == label) {
          *err = e;
          break;
        }
      }
      return true;
    }
  }
  return false;
}

// The socket error cells of "by_class" (the data mismatch line is counted apart).
ErrorCounts ErrorsFrom(const nlohmann::json& cells) {
  ErrorCounts errors;
  if (!cells.is_array()) {
    return errors;
  }
  for (const nlohmann::json& cell : cells) {
    Phase phase;
    ErrorClass error_class;
    int err = 0;
    if (CellOf(cell, &phase, &error_class, &err)) {
      const double first_s = Get<double>(cell, "first_seen_s", 0);
      errors.AddCell(phase, error_class, Get<uint64_t>(cell, "count", 0), err,
                     static_cast<int64_t>(std::llround(first_s * 1e9)));
    }
  }
  return errors;
}

LoadConfig ConfigFrom(const nlohmann::json& c, const nlohmann::json& machine) {
  LoadConfig config;
  config.version = Get<std::string>(c, "version", "");
  config.command_line = Get<std::string>(c, "command_line", "");
  config.started_at = Get<std::string>(c, "started_at", "");
  config.target = Get<std::string>(c, "target", "");
  config.target_note = Get<std::string>(c, "target_note", "");
  config.backend = Get<std::string>(c, "backend", "");
  config.backend_requested = Get<std::string>(c, "backend_requested", "");
  config.backend_fallback_reason = Get<std::string>(c, "backend_fallback_reason", "");
  config.connections = Get<int>(c, "connections", 0);
  config.threads = Get<int>(c, "threads", 0);
  config.pipeline = Get<int>(c, "pipeline", 1);
  config.rate = Get<double>(c, "rate", 0);
  config.churn = Get<uint64_t>(c, "churn", 0);
  config.connect_rate = Get<double>(c, "connect_rate", 0);
  config.close_mode = Get<std::string>(c, "close", "fin");
  config.nodelay = Get<bool>(c, "nodelay", true);
  config.size_min = Get<uint64_t>(c, "size_min", 0);
  config.size_max = Get<uint64_t>(c, "size_max", 0);
  config.duration_s = Get<double>(c, "duration_s", 0);
  config.messages = Get<uint64_t>(c, "messages", 0);
  config.warmup_s = Get<double>(c, "warmup_s", 0);
  config.connect_timeout_s = Get<double>(c, "connect_timeout_s", 0);
  config.read_timeout_s = Get<double>(c, "read_timeout_s", 0);
  config.bind = Get<std::string>(c, "bind", "");
  config.source_ips = Get<std::string>(c, "source_ips", "");
  config.max_errors = Get<uint64_t>(c, "max_errors", 0);
  config.limit_notes = Get<std::vector<std::string>>(c, "limit_notes", {});
  const nlohmann::json shard = Get<nlohmann::json>(c, "shard", nlohmann::json::object());
  config.shard_index = Get<int>(shard, "index", 0);
  config.shard_count = Get<int>(shard, "count", 1);
  config.start_at = Get<std::string>(shard, "start_at", "");
  config.total_connections = Get<int>(shard, "total_connections", config.connections);
  config.total_rate = Get<double>(shard, "total_rate", config.rate);
  config.total_messages = Get<uint64_t>(shard, "total_messages", config.messages);
  config.machine.kernel_release = Get<std::string>(machine, "kernel_release", "");
  config.machine.cpus = Get<int>(machine, "cpus", 0);
  config.machine.nofile_soft = Get<uint64_t>(machine, "nofile_soft", 0);
  config.machine.nofile_hard = Get<uint64_t>(machine, "nofile_hard", 0);
  config.machine.somaxconn = Get<int64_t>(machine, "somaxconn", -1);
  const auto range = Get<std::vector<int64_t>>(machine, "ip_local_port_range", {-1, -1});
  if (range.size() == 2) {
    config.machine.port_range_low = range[0];
    config.machine.port_range_high = range[1];
  }
  config.machine.io_uring_disabled = Get<int64_t>(machine, "io_uring_disabled", -1);
  return config;
}

}  // namespace

absl::StatusOr<LoadResult> LoadResultFromJson(const nlohmann::json& j) {
  if (!j.is_object() || !j.contains("config")) {
    return Missing("\"config\"");
  }
  if (!j.contains("histograms") || !j.contains("start_unix_ns") || !j.contains("run_id")) {
    return Missing("\"histograms\", \"start_unix_ns\" or \"run_id\"");
  }
  LoadResult r;
  r.config = ConfigFrom(j["config"], Get<nlohmann::json>(j, "machine", nlohmann::json::object()));
  r.config.run_id = Get<std::string>(j, "run_id", "");
  r.elapsed_s = Get<double>(j, "elapsed_s", 0);
  const nlohmann::json& m = j["messages"];
  r.messages_sent = Get<uint64_t>(m, "sent", 0);
  r.messages_completed = Get<uint64_t>(m, "completed", 0);
  r.messages_failed = Get<uint64_t>(m, "failed", 0);
  r.data_errors = Get<uint64_t>(m, "data_errors", 0);
  r.messages_in_flight_at_end = Get<uint64_t>(m, "in_flight_at_end", 0);
  r.bytes_sent = Get<uint64_t>(j["bytes"], "sent", 0);
  r.bytes_received = Get<uint64_t>(j["bytes"], "received", 0);
  const nlohmann::json& conns = j["connections"];
  r.connections_opened = Get<uint64_t>(conns, "opened", 0);
  r.connect_attempts = Get<uint64_t>(conns, "attempts", 0);
  r.warmup_connections_opened = Get<uint64_t>(conns, "warmup_opened", 0);
  r.warmup_connect_attempts = Get<uint64_t>(conns, "warmup_attempts", 0);
  r.peak_open_connections = Get<int64_t>(conns, "peak_open", 0);
  const nlohmann::json& h = j["histograms"];
  const nlohmann::json open_loop = Get<nlohmann::json>(j, "open_loop", nlohmann::json());
  struct Wanted {
    const char* name;
    Histogram* into;
    nlohmann::json summary;
  };
  for (Wanted& w : std::vector<Wanted>{
           {"rtt", &r.rtt, j["latency_ns"]},
           {"rtt_uncorrected", &r.rtt_uncorrected, j["latency_uncorrected_ns"]},
           {"send_lag", &r.send_lag, Get<nlohmann::json>(open_loop, "send_lag_ns", {})},
           {"connect", &r.connect, j["connect_latency_ns"]}}) {
    absl::StatusOr<Histogram> histogram =
        HistogramFrom(Get<nlohmann::json>(h, w.name, ""), w.summary, w.name);
    if (!histogram.ok()) {
      return histogram.status();
    }
    *w.into = std::move(*histogram);
  }
  r.messages_scheduled = Get<uint64_t>(open_loop, "scheduled", 0);
  const nlohmann::json& e = j["errors"];
  r.errors = ErrorsFrom(Get<nlohmann::json>(e, "by_class", {}));
  r.warmup_errors = ErrorsFrom(Get<nlohmann::json>(e, "warmup_by_class", {}));
  r.warmup_data_errors = Get<uint64_t>(e, "warmup_data_errors", 0);
  r.hints = Get<std::vector<std::string>>(e, "hints", {});
  r.client_cpu_user_s = Get<double>(j["client_cpu"], "user_s", 0);
  r.client_cpu_system_s = Get<double>(j["client_cpu"], "system_s", 0);
  r.wall_s = Get<double>(j["client_cpu"], "wall_s", 0);
  if (j.contains("kernel") && j["kernel"].is_object()) {
    r.kernel_counters_available = true;
    for (const auto& [name, delta] : j["kernel"].items()) {
      r.kernel.push_back({name, delta.get<int64_t>()});
    }
  }
  r.start_unix_ns = Get<int64_t>(j, "start_unix_ns", 0);
  r.measure_start_unix_ns = Get<int64_t>(j, "measure_start_unix_ns", 0);
  const nlohmann::json series = Get<nlohmann::json>(j, "series", nlohmann::json::array());
  for (const nlohmann::json& p : series) {
    LoadSecond s;
    s.t_s = Get<double>(p, "t_s", 0);
    s.interval_s = Get<double>(p, "interval_s", 1);
    s.warmup = Get<bool>(p, "warmup", false);
    s.messages = Get<uint64_t>(p, "messages", 0);
    s.bytes_sent = Get<uint64_t>(p, "bytes_sent", 0);
    s.bytes_received = Get<uint64_t>(p, "bytes_received", 0);
    s.errors = Get<uint64_t>(p, "errors", 0);
    s.connects = Get<uint64_t>(p, "connects", 0);
    s.open_connections = Get<int64_t>(p, "open_connections", 0);
    s.p50_ns = Get<int64_t>(p, "p50_ns", 0);
    s.p99_ns = Get<int64_t>(p, "p99_ns", 0);
    s.p99_9_ns = Get<int64_t>(p, "p99_9_ns", 0);
    s.max_ns = Get<int64_t>(p, "max_ns", 0);
    s.connect_p50_ns = Get<int64_t>(p, "connect_p50_ns", 0);
    s.connect_p99_ns = Get<int64_t>(p, "connect_p99_ns", 0);
    s.connect_max_ns = Get<int64_t>(p, "connect_max_ns", 0);
    s.rtt_histogram = Get<std::string>(p, "rtt_histogram", "");
    s.connect_histogram = Get<std::string>(p, "connect_histogram", "");
    const nlohmann::json errors_by_class =
        Get<nlohmann::json>(p, "errors_by_class", nlohmann::json::object());
    for (const auto& [label, count] : errors_by_class.items()) {
      s.errors_by_class.emplace_back(label, count.get<uint64_t>());
    }
    if (p.contains("states") && p["states"].is_object()) {
      for (const auto& [name, count] : p["states"].items()) {
        s.states.emplace_back(name, count.get<int64_t>());
      }
    }
    s.states_error = Get<std::string>(p, "states_error", "");
    r.series.push_back(std::move(s));
  }
  r.abort_reason = Get<std::string>(j, "abort_reason", "");
  return r;
}

}  // namespace socklab::client

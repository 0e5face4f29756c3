#include "client/merge/merge.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "client/load/load_report.h"
#include "core/base/status.h"
#include "core/stats/hdr_codec.h"
#include "nlohmann/json.hpp"

namespace socklab::client {
namespace {

// The configuration every agent of one run shares, field by field, as text to compare.
std::vector<std::pair<std::string, std::string>> SharedConfig(const LoadConfig& c) {
  auto number = [](double v) { return absl::StrFormat("%.10g", v); };
  return {{"target", c.target},
          {"shard count", absl::StrCat(c.shard_count)},
          {"total connections (-c)", absl::StrCat(c.total_connections)},
          {"total rate (-R)", number(c.total_rate)},
          {"total messages (-n)", absl::StrCat(c.total_messages)},
          {"pipeline", absl::StrCat(c.pipeline)},
          {"size", absl::StrCat(c.size_min, "-", c.size_max)},
          {"churn", absl::StrCat(c.churn)},
          {"connect rate (per agent)", number(c.connect_rate)},
          {"close", c.close_mode},
          {"nodelay", c.nodelay ? "on" : "off"},
          {"duration", number(c.duration_s)},
          {"warmup", number(c.warmup_s)},
          {"connect timeout", number(c.connect_timeout_s)},
          {"read timeout", number(c.read_timeout_s)},
          {"start at", c.start_at}};
}

int64_t Nearest(double x) { return static_cast<int64_t>(std::llround(x)); }

// Adds `from`'s cells into `into`, their first times moved by `shift_ns`.
void AddErrors(const ErrorCounts& from, int64_t shift_ns, ErrorCounts* into) {
  from.ForEach([&](Phase phase, ErrorClass error_class, uint64_t count, int first_errno,
                   int64_t first_seen_ns) {
    into->AddCell(phase, error_class, count, first_errno, first_seen_ns + shift_ns);
  });
}

void AddEncoded(const std::string& encoded, Histogram* into) {
  if (encoded.empty()) {
    return;
  }
  if (absl::StatusOr<Histogram> h = DecodeHistogram(encoded); h.ok()) {
    into->Merge(*h);
  }
}

template <typename T>
void AddByName(const std::vector<std::pair<std::string, T>>& from,
               std::vector<std::pair<std::string, T>>* into) {
  for (const auto& [name, count] : from) {
    auto it =
        std::find_if(into->begin(), into->end(), [&](const auto& p) { return p.first == name; });
    if (it == into->end()) {
      into->emplace_back(name, count);
    } else {
      it->second += count;
    }
  }
}

std::vector<LoadSecond> MergeSeries(const std::vector<MergeInput>& agents, int64_t origin_ns) {
  struct Bin {
    LoadSecond second;
    Histogram rtt;
    Histogram connect;
    bool all_warmup = true;
  };
  std::map<int64_t, Bin> bins;
  for (const MergeInput& agent : agents) {
    const double shift_s = (agent.result.start_unix_ns - origin_ns) / 1e9;
    for (const LoadSecond& p : agent.result.series) {
      const double end_s = shift_s + p.t_s;
      Bin& bin = bins[Nearest(end_s)];
      LoadSecond& s = bin.second;
      s.t_s = std::max(s.t_s, end_s);
      s.messages += p.messages;
      s.bytes_sent += p.bytes_sent;
      s.bytes_received += p.bytes_received;
      s.errors += p.errors;
      s.connects += p.connects;
      s.open_connections += p.open_connections;
      bin.all_warmup = bin.all_warmup && p.warmup;
      AddEncoded(p.rtt_histogram, &bin.rtt);
      AddEncoded(p.connect_histogram, &bin.connect);
      AddByName(p.errors_by_class, &s.errors_by_class);
      AddByName(p.states, &s.states);
      if (s.states_error.empty()) {
        s.states_error = p.states_error;
      }
    }
  }
  std::vector<LoadSecond> series;
  double previous_end = 0;
  for (auto& [index, bin] : bins) {
    LoadSecond& s = bin.second;
    s.interval_s = std::max(s.t_s - previous_end, 0.0);
    previous_end = s.t_s;
    s.warmup = bin.all_warmup;
    s.p50_ns = bin.rtt.ValueAtPercentile(50);
    s.p99_ns = bin.rtt.ValueAtPercentile(99);
    s.p99_9_ns = bin.rtt.ValueAtPercentile(99.9);
    s.max_ns = bin.rtt.max();
    s.connect_p50_ns = bin.connect.ValueAtPercentile(50);
    s.connect_p99_ns = bin.connect.ValueAtPercentile(99);
    s.connect_max_ns = bin.connect.max();
    if (bin.rtt.count() > 0) {
      s.rtt_histogram = EncodeHistogram(bin.rtt);
    }
    if (bin.connect.count() > 0) {
      s.connect_histogram = EncodeHistogram(bin.connect);
    }
    series.push_back(std::move(s));
  }
  return series;
}

// Joins the distinct non-empty values in order.
std::string Distinct(const std::vector<MergeInput>& agents,
                     const std::function<std::string(const LoadConfig&)>& field) {
  std::vector<std::string> seen;
  for (const MergeInput& agent : agents) {
    std::string value = field(agent.result.config);
    if (!value.empty() && std::find(seen.begin(), seen.end(), value) == seen.end()) {
      seen.push_back(std::move(value));
    }
  }
  return absl::StrJoin(seen, ", ");
}

}  // namespace

absl::StatusOr<MergedRun> MergeResults(std::vector<MergeInput> inputs) {
  if (inputs.empty()) {
    return UsageError("no results to merge", "give the --json files of the agents");
  }
  std::sort(inputs.begin(), inputs.end(), [](const MergeInput& a, const MergeInput& b) {
    return a.result.config.shard_index < b.result.config.shard_index;
  });
  const MergeInput& first = inputs.front();
  const LoadConfig& base = first.result.config;
  std::map<int, std::string> shards;  // index -> file
  for (const MergeInput& input : inputs) {
    const LoadConfig& c = input.result.config;
    if (c.run_id != base.run_id) {
      return UsageError(
          absl::StrCat(input.name, " is of run id '", c.run_id, "', ", first.name, " of '",
                       base.run_id, "'"),
          "merge the results of one run only (socklab load --run-id ID on every agent)");
    }
    const auto theirs = SharedConfig(c);
    const auto ours = SharedConfig(base);
    for (size_t i = 0; i < ours.size(); ++i) {
      if (theirs[i].second != ours[i].second) {
        return UsageError(
            absl::StrCat(input.name, " and ", first.name, " differ in ", ours[i].first, " (",
                         theirs[i].second, " vs ", ours[i].second, ")"),
            "merge only agents of one load, started with the same flags");
      }
    }
    if (auto [it, fresh] = shards.emplace(c.shard_index, input.name); !fresh) {
      return UsageError(absl::StrCat(input.name, " and ", it->second, " are both shard ",
                                     c.shard_index, "/", c.shard_count),
                        "give each agent's result once");
    }
  }
  MergedRun merged;
  if (static_cast<int>(inputs.size()) < base.shard_count) {
    std::vector<int> missing;
    for (int i = 0; i < base.shard_count; ++i) {
      if (!shards.contains(i)) {
        missing.push_back(i);
      }
    }
    merged.notes.push_back(absl::StrCat("shards ", absl::StrJoin(missing, ", "), " of ",
                                        base.shard_count,
                                        " are missing: the totals are of the agents given"));
  }

  LoadResult& t = merged.total;
  int64_t origin = inputs.front().result.start_unix_ns;
  int64_t measure_start = inputs.front().result.measure_start_unix_ns;
  int64_t measure_end = 0;
  for (const MergeInput& input : inputs) {
    const LoadResult& r = input.result;
    origin = std::min(origin, r.start_unix_ns);
    measure_start = std::min(measure_start, r.measure_start_unix_ns);
    measure_end = std::max(measure_end, r.measure_start_unix_ns + Nearest(r.elapsed_s * 1e9));
  }
  t.config = base;
  t.config.command_line = "";
  t.config.connections = 0;
  t.config.threads = 0;
  t.config.rate = 0;
  t.config.messages = 0;
  t.config.machine.cpus = 0;
  t.config.shard_index = 0;
  t.config.shard_count = 1;
  t.config.backend = Distinct(inputs, [](const LoadConfig& c) { return c.backend; });
  t.config.backend_fallback_reason =
      Distinct(inputs, [](const LoadConfig& c) { return c.backend_fallback_reason; });
  t.config.machine.kernel_release =
      Distinct(inputs, [](const LoadConfig& c) { return c.machine.kernel_release; });
  t.start_unix_ns = origin;
  t.measure_start_unix_ns = measure_start;
  t.elapsed_s = std::max<int64_t>(0, measure_end - measure_start) / 1e9;
  std::set<std::string> hints;
  std::vector<std::string> aborts;
  for (const MergeInput& input : inputs) {
    const LoadResult& r = input.result;
    const LoadConfig& c = r.config;
    t.config.connections += c.connections;
    t.config.threads += c.threads;
    t.config.rate += c.rate;
    t.config.messages += c.messages;
    t.config.machine.cpus += c.machine.cpus;
    t.messages_sent += r.messages_sent;
    t.messages_completed += r.messages_completed;
    t.messages_failed += r.messages_failed;
    t.messages_in_flight_at_end += r.messages_in_flight_at_end;
    t.messages_scheduled += r.messages_scheduled;
    t.bytes_sent += r.bytes_sent;
    t.bytes_received += r.bytes_received;
    t.data_errors += r.data_errors;
    t.warmup_data_errors += r.warmup_data_errors;
    t.connections_opened += r.connections_opened;
    t.connect_attempts += r.connect_attempts;
    t.warmup_connections_opened += r.warmup_connections_opened;
    t.warmup_connect_attempts += r.warmup_connect_attempts;
    t.peak_open_connections += r.peak_open_connections;
    t.rtt.Merge(r.rtt);
    t.rtt_uncorrected.Merge(r.rtt_uncorrected);
    t.send_lag.Merge(r.send_lag);
    t.connect.Merge(r.connect);
    const int64_t shift = r.start_unix_ns - origin;
    AddErrors(r.errors, shift, &t.errors);
    AddErrors(r.warmup_errors, shift, &t.warmup_errors);
    hints.insert(r.hints.begin(), r.hints.end());
    t.client_cpu_user_s += r.client_cpu_user_s;
    t.client_cpu_system_s += r.client_cpu_system_s;
    t.wall_s = std::max(t.wall_s, (shift / 1e9) + r.wall_s);
    if (r.kernel_counters_available) {
      t.kernel_namespaces += t.kernel_counters_available ? 1 : 0;
      t.kernel_counters_available = true;
      for (const CounterDelta& d : r.kernel) {
        auto it = std::find_if(t.kernel.begin(), t.kernel.end(),
                               [&](const CounterDelta& k) { return k.name == d.name; });
        if (it == t.kernel.end()) {
          t.kernel.push_back(d);
        } else {
          it->delta += d.delta;
        }
      }
    }
    if (!r.abort_reason.empty()) {
      aborts.push_back(absl::StrCat("shard ", c.shard_index, ": ", r.abort_reason));
    }
  }
  t.hints.assign(hints.begin(), hints.end());
  t.abort_reason = absl::StrJoin(aborts, "; ");
  t.series = MergeSeries(inputs, origin);
  merged.agents = std::move(inputs);
  return merged;
}

std::string MergeAgentsToText(const MergedRun& merged) {
  const int count = merged.agents.front().result.config.shard_count;
  std::string out = absl::StrCat("agents      ", merged.agents.size(), " of ", count,
                                 " shards, added bucket by bucket (percentiles of the sum)\n");
  for (const std::string& note : merged.notes) {
    absl::StrAppend(&out, "            note: ", note, "\n");
  }
  for (const MergeInput& agent : merged.agents) {
    const LoadResult& r = agent.result;
    absl::StrAppendFormat(
        &out,
        "  shard %d/%d %-9s %10d msgs %9.0f msg/s  p50 %-8s p99 %-8s max %-8s errors %d  %s\n",
        r.config.shard_index, r.config.shard_count, r.config.backend, r.messages_completed,
        r.elapsed_s > 0 ? r.messages_completed / r.elapsed_s : 0.0,
        FormatLatency(r.rtt.ValueAtPercentile(50)), FormatLatency(r.rtt.ValueAtPercentile(99)),
        FormatLatency(r.rtt.max()), r.errors.Total() + r.data_errors, agent.name);
  }
  return out;
}

nlohmann::json MergeAgentsToJson(const MergedRun& merged) {
  nlohmann::json agents = nlohmann::json::array();
  for (const MergeInput& agent : merged.agents) {
    const LoadResult& r = agent.result;
    agents.push_back({{"file", agent.name},
                      {"shard", r.config.shard_index},
                      {"backend", r.config.backend},
                      {"started_at", r.config.started_at},
                      {"start_unix_ns", r.start_unix_ns},
                      {"elapsed_s", r.elapsed_s},
                      {"messages_completed", r.messages_completed},
                      {"messages_per_s", r.elapsed_s > 0 ? r.messages_completed / r.elapsed_s : 0},
                      {"latency_ns", HistogramToJson(r.rtt)},
                      {"errors", r.errors.Total() + r.data_errors}});
  }
  return agents;
}

}  // namespace socklab::client

#include "client/tune/try_compare.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "client/tune/text_layout.h"

namespace socklab::client {
namespace {

// Rates and p99 of two runs of the same load on a small (2-core) machine differ by up to about
// 10% (rates) and 2x (p99 of a few hundred messages) without any change; smaller differences are
// not reported.
constexpr double kRateNoise = 0.10;
constexpr double kLatencyNoise = 2.0;

// Kernel counters that count something going wrong; the verdict compares only these.
bool IsTroubleCounter(absl::string_view name) {
  for (absl::string_view word :
       {"Overflow", "Drop", "Timeout", "Abort", "Fail", "Retrans", "Reset", "Prune", "Collapse"}) {
    if (absl::StrContains(name, word)) {
      return true;
    }
  }
  return false;
}

double Median(std::vector<double> values) {
  if (values.empty()) {
    return 0;
  }
  std::sort(values.begin(), values.end());
  size_t mid = values.size() / 2;
  return values.size() % 2 == 1 ? values[mid] : (values[mid - 1] + values[mid]) / 2;
}

double NumberAt(const nlohmann::json& json, const nlohmann::json::json_pointer& pointer) {
  return json.contains(pointer) && json[pointer].is_number() ? json[pointer].get<double>() : 0;
}

std::string FormatRate(double value) {
  if (value >= 100) {
    return GroupThousands(static_cast<uint64_t>(std::llround(value)));
  }
  return absl::StrFormat("%.1f", value);
}

std::string FormatLatency(double ms) {
  if (ms < 1) {
    return absl::StrFormat("%.0fus", ms * 1000);
  }
  return ms < 10 ? absl::StrFormat("%.2fms", ms) : absl::StrFormat("%.1fms", ms);
}

std::string Ratio(double b, double a) { return absl::StrFormat("%.3gx", b / a); }

template <typename Map>
std::set<std::string> KeysOf(const Map& a, const Map& b) {
  std::set<std::string> keys;
  for (const auto& [key, value] : a) {
    keys.insert(key);
  }
  for (const auto& [key, value] : b) {
    keys.insert(key);
  }
  return keys;
}

template <typename Map>
auto ValueOr0(const Map& map, const std::string& key) {
  auto it = map.find(key);
  return it == map.end() ? typename Map::mapped_type{} : it->second;
}

// "N what instead of M" for the (at most two) counts that differ most.
template <typename Map>
void AppendCountDifferences(const Map& a, const Map& b, bool (*wanted)(absl::string_view),
                            std::vector<std::string>* parts) {
  std::vector<std::pair<double, std::string>> differences;
  for (const std::string& key : KeysOf(a, b)) {
    if (!wanted(key)) {
      continue;
    }
    double in_a = static_cast<double>(ValueOr0(a, key));
    double in_b = static_cast<double>(ValueOr0(b, key));
    if (in_a != in_b) {
      differences.push_back(
          {std::abs(in_a - in_b),
           absl::StrCat(GroupThousands(static_cast<uint64_t>(std::max(in_b, 0.0))), " ", key,
                        " instead of ",
                        GroupThousands(static_cast<uint64_t>(std::max(in_a, 0.0))))});
    }
  }
  std::stable_sort(differences.begin(), differences.end(),
                   [](const auto& x, const auto& y) { return x.first > y.first; });
  for (size_t i = 0; i < differences.size() && i < 2; ++i) {
    parts->push_back(differences[i].second);
  }
}

bool Any(absl::string_view) { return true; }

}  // namespace

std::string GroupThousands(uint64_t value) {
  std::string digits = absl::StrCat(value);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) {
      out.push_back(',');
    }
    out.push_back(digits[i]);
  }
  return out;
}

SideSummary Summarize(const std::vector<const nlohmann::json*>& runs) {
  using Pointer = nlohmann::json::json_pointer;
  SideSummary summary;
  summary.runs = static_cast<int>(runs.size());
  std::vector<double> messages, connections, p50, p99, connect_p99;
  for (const nlohmann::json* run : runs) {
    const nlohmann::json& load = *run;
    double seconds = NumberAt(load, Pointer("/elapsed_s"));
    messages.push_back(NumberAt(load, Pointer("/throughput/messages_per_s")));
    connections.push_back(seconds > 0 ? NumberAt(load, Pointer("/connections/opened")) / seconds
                                      : 0);
    p50.push_back(NumberAt(load, Pointer("/latency_ns/p50")) / 1e6);
    p99.push_back(NumberAt(load, Pointer("/latency_ns/p99")) / 1e6);
    connect_p99.push_back(NumberAt(load, Pointer("/connect_latency_ns/p99")) / 1e6);
    summary.errors_total += static_cast<uint64_t>(NumberAt(load, Pointer("/errors/total")));
    if (load.contains(Pointer("/errors/by_class"))) {
      for (const nlohmann::json& error : load[Pointer("/errors/by_class")]) {
        std::string key = absl::StrCat(error.value("phase", "?"), " ", error.value("errno", "?"));
        summary.errors[key] += error.value("count", uint64_t{0});
      }
    }
    if (load.contains("series") && load["series"].is_array()) {
      for (const nlohmann::json& sample : load["series"]) {
        if (!sample.contains("states") || !sample["states"].is_object()) {
          continue;
        }
        for (const auto& [state, count] : sample["states"].items()) {
          if (count.is_number_unsigned() && state != "LISTEN") {
            uint64_t& peak = summary.peak_states[state];
            peak = std::max(peak, count.get<uint64_t>());
          }
        }
      }
    }
    if (load.contains("kernel") && load["kernel"].is_object()) {
      for (const auto& [name, delta] : load["kernel"].items()) {
        if (delta.is_number_integer()) {
          summary.kernel[name] += delta.get<int64_t>();
        }
      }
    }
  }
  summary.messages_per_s = Median(messages);
  summary.connections_per_s = Median(connections);
  summary.p50_ms = Median(p50);
  summary.p99_ms = Median(p99);
  summary.connect_p99_ms = Median(connect_p99);
  return summary;
}

std::string Verdict(const std::vector<TrySetting>& settings, const SideSummary& a,
                    const SideSummary& b) {
  std::vector<std::string> tried;
  for (const TrySetting& setting : settings) {
    tried.push_back(setting.ShortForm());
  }
  std::vector<std::string> parts;
  AppendCountDifferences(a.errors, b.errors, &Any, &parts);
  AppendCountDifferences(a.kernel, b.kernel, &IsTroubleCounter, &parts);
  auto rate = [&parts](absl::string_view name, double in_a, double in_b) {
    if (in_a > 0 && in_b > 0 && std::abs(in_b / in_a - 1) > kRateNoise) {
      parts.push_back(absl::StrCat(name, " ", Ratio(in_b, in_a)));
    } else if ((in_a > 0) != (in_b > 0)) {
      parts.push_back(absl::StrCat(name, " ", FormatRate(in_b), " instead of ", FormatRate(in_a)));
    }
  };
  rate("connections/s", a.connections_per_s, b.connections_per_s);
  rate("messages/s", a.messages_per_s, b.messages_per_s);
  if (a.p99_ms > 0 && b.p99_ms > 0 &&
      (b.p99_ms / a.p99_ms > kLatencyNoise || a.p99_ms / b.p99_ms > kLatencyNoise)) {
    parts.push_back(
        absl::StrCat("p99 ", FormatLatency(b.p99_ms), " instead of ", FormatLatency(a.p99_ms)));
  }
  std::string measured;
  if (parts.empty()) {
    measured = absl::StrCat(
        "no difference beyond run-to-run noise: messages/s ",
        a.messages_per_s > 0 ? Ratio(b.messages_per_s, a.messages_per_s) : "0 in both", ", p99 ",
        FormatLatency(b.p99_ms), " and ", FormatLatency(a.p99_ms), ", ",
        GroupThousands(b.errors_total), " and ", GroupThousands(a.errors_total), " errors");
  } else {
    measured = absl::StrJoin(parts, "; ");
  }
  return absl::StrCat("with ", absl::StrJoin(tried, ", "), ": ", measured);
}

std::string ComparisonToText(const std::vector<TrySetting>& settings,
                             const std::vector<std::string>& load_args, const std::string& order,
                             const SideSummary& a, const SideSummary& b, size_t width) {
  std::vector<std::vector<std::string>> rows = {{"", "A (this host)", "B (tried)"}};
  for (const TrySetting& setting : settings) {
    rows.push_back({setting.kind == TrySetting::Kind::kNofile ? "RLIMIT_NOFILE" : setting.name,
                    setting.current, setting.proposed});
  }
  rows.push_back({"messages/s", FormatRate(a.messages_per_s), FormatRate(b.messages_per_s)});
  rows.push_back(
      {"connections/s", FormatRate(a.connections_per_s), FormatRate(b.connections_per_s)});
  rows.push_back({"latency p50", FormatLatency(a.p50_ms), FormatLatency(b.p50_ms)});
  rows.push_back({"latency p99", FormatLatency(a.p99_ms), FormatLatency(b.p99_ms)});
  rows.push_back({"connect p99", FormatLatency(a.connect_p99_ms), FormatLatency(b.connect_p99_ms)});
  rows.push_back({"errors (all)", GroupThousands(a.errors_total), GroupThousands(b.errors_total)});
  for (const std::string& key : KeysOf(a.errors, b.errors)) {
    rows.push_back({absl::StrCat("errors ", key), GroupThousands(ValueOr0(a.errors, key)),
                    GroupThousands(ValueOr0(b.errors, key))});
  }
  for (const std::string& state : KeysOf(a.peak_states, b.peak_states)) {
    uint64_t in_a = ValueOr0(a.peak_states, state);
    uint64_t in_b = ValueOr0(b.peak_states, state);
    if (in_a > 0 || in_b > 0) {
      rows.push_back({absl::StrCat("peak ", state), GroupThousands(in_a), GroupThousands(in_b)});
    }
  }
  for (const std::string& name : KeysOf(a.kernel, b.kernel)) {
    auto counter = [](int64_t value) {
      return value < 0 ? absl::StrCat(value) : GroupThousands(static_cast<uint64_t>(value));
    };
    rows.push_back({absl::StrCat("kernel ", name), counter(ValueOr0(a.kernel, name)),
                    counter(ValueOr0(b.kernel, name))});
  }
  std::string header =
      absl::StrCat("socklab load ", absl::StrJoin(load_args, " "),
                   " against socklab-server, each in a fresh network namespace; runs ", order,
                   a.runs > 1 ? " (rates and latencies: median; errors and counters: sum)" : "");
  std::string text =
      absl::StrCat(WrapParagraph("socklab tune --try: ", header, 4, width), "\n\n",
                   RenderAlignedTable(rows, width), "\n",
                   WrapParagraph("verdict  ", Verdict(settings, a, b), 9, width), "\n");
  return text;
}

nlohmann::json ComparisonToJson(const std::vector<TrySetting>& settings,
                                const std::vector<TrySetting>& baseline,
                                const std::vector<std::string>& load_args,
                                const std::vector<TryRun>& runs, const SideSummary& a,
                                const SideSummary& b) {
  auto summary_json = [](const SideSummary& s) {
    return nlohmann::json{{"runs", s.runs},
                          {"messages_per_s", s.messages_per_s},
                          {"connections_per_s", s.connections_per_s},
                          {"latency_p50_ms", s.p50_ms},
                          {"latency_p99_ms", s.p99_ms},
                          {"connect_p99_ms", s.connect_p99_ms},
                          {"errors_total", s.errors_total},
                          {"errors", s.errors},
                          {"peak_states", s.peak_states},
                          {"kernel", s.kernel}};
  };
  nlohmann::json json;
  json["settings"] = nlohmann::json::array();
  for (const TrySetting& setting : settings) {
    json["settings"].push_back(
        {{"name", setting.name},
         {"kind", setting.kind == TrySetting::Kind::kNofile ? "rlimit" : "netns_sysctl"},
         {"a", setting.current},
         {"b", setting.proposed}});
  }
  json["baseline"] = nlohmann::json::object();
  for (const TrySetting& setting : baseline) {
    json["baseline"][setting.name] = setting.current;
  }
  json["load_args"] = load_args;
  json["runs"] = nlohmann::json::array();
  for (const TryRun& run : runs) {
    json["runs"].push_back({{"side", std::string(1, run.side)}, {"load", run.load}});
  }
  json["a"] = summary_json(a);
  json["b"] = summary_json(b);
  json["verdict"] = Verdict(settings, a, b);
  return json;
}

}  // namespace socklab::client

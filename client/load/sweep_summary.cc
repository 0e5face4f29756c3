#include "client/load/sweep_summary.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "client/load/load_options.h"
#include "client/load/load_report.h"
#include "core/base/status.h"
#include "core/base/units.h"
#include "nlohmann/json.hpp"

namespace socklab::client {

namespace {

constexpr absl::string_view kSweepForms =
    "write --sweep connections=1,10,100, --sweep rate=1000,5k,20k or the range form "
    "--sweep rate=10k..200k/10 (10 values, geometric)";

// 3 significant digits: 13572.1 -> 13600, 0.12345 -> 0.123.
double RoundSignificant(double value) {
  if (value <= 0) {
    return value;
  }
  const double scale = std::pow(10.0, std::floor(std::log10(value)) - 2);
  return std::round(value / scale) * scale;
}

// One value of the parameter, as -c or -R would take it.
absl::StatusOr<double> ParseSweepValue(const std::string& parameter, absl::string_view text,
                                       absl::string_view spec) {
  if (parameter == "connections") {
    absl::StatusOr<uint64_t> count = ParseCount(text);
    if (count.ok() && *count >= 1 && *count <= static_cast<uint64_t>(kMaxConnections)) {
      return static_cast<double>(*count);
    }
  } else {
    absl::StatusOr<double> rate = ParseRate(text);
    if (rate.ok() && *rate > 0) {
      return *rate;
    }
  }
  return UsageError(absl::StrCat("--sweep ", spec, ": '", text, "' is no ", parameter),
                    kSweepForms);
}

}  // namespace

std::vector<double> GeometricSteps(double first, double last, int count, bool integers) {
  std::vector<double> values;
  for (int i = 0; i < count; ++i) {
    // The ends exactly as given; the steps between them rounded for a readable table.
    double value = i == 0 ? first
                   : i == count - 1
                       ? last
                       : RoundSignificant(
                             first * std::pow(last / first, static_cast<double>(i) / (count - 1)));
    if (integers) {
      value = std::round(value);
    }
    if (values.empty() || value > values.back()) {
      values.push_back(value);
    }
  }
  return values;
}

absl::StatusOr<SweepSpec> ParseSweep(absl::string_view text) {
  const size_t equals = text.find('=');
  SweepSpec spec;
  spec.parameter = std::string(text.substr(0, equals));
  if (equals == absl::string_view::npos ||
      (spec.parameter != "connections" && spec.parameter != "rate")) {
    return UsageError(absl::StrCat("--sweep ", text, " sweeps neither connections nor rate"),
                      kSweepForms);
  }
  const absl::string_view values = text.substr(equals + 1);
  if (const size_t dots = values.find(".."); dots != absl::string_view::npos) {
    const size_t slash = values.find('/', dots);
    uint64_t count = 0;
    if (slash == absl::string_view::npos) {
      return UsageError(absl::StrCat("--sweep ", text, ": the range has no /COUNT"), kSweepForms);
    }
    absl::StatusOr<uint64_t> parsed_count = ParseCount(values.substr(slash + 1));
    if (!parsed_count.ok() || *parsed_count < 2 ||
        *parsed_count > static_cast<uint64_t>(kMaxSweepValues)) {
      return UsageError(absl::StrCat("--sweep ", text, ": '", values.substr(slash + 1),
                                     "' is no count of values from 2 to ", kMaxSweepValues),
                        kSweepForms);
    }
    count = *parsed_count;
    absl::StatusOr<double> first = ParseSweepValue(spec.parameter, values.substr(0, dots), text);
    if (!first.ok()) {
      return first.status();
    }
    absl::StatusOr<double> last =
        ParseSweepValue(spec.parameter, values.substr(dots + 2, slash - dots - 2), text);
    if (!last.ok()) {
      return last.status();
    }
    if (*last <= *first) {
      return UsageError(absl::StrCat("--sweep ", text, ": the range does not ascend"), kSweepForms);
    }
    spec.values =
        GeometricSteps(*first, *last, static_cast<int>(count), spec.parameter == "connections");
    return spec;
  }
  for (absl::string_view value : absl::StrSplit(values, ',')) {
    absl::StatusOr<double> parsed = ParseSweepValue(spec.parameter, value, text);
    if (!parsed.ok()) {
      return parsed.status();
    }
    spec.values.push_back(*parsed);
  }
  if (spec.values.size() > static_cast<size_t>(kMaxSweepValues)) {
    return UsageError(absl::StrCat("--sweep ", text, " has ", spec.values.size(), " values"),
                      absl::StrCat("give at most ", kMaxSweepValues));
  }
  return spec;
}

SweepPoint SweepPointOf(double value, const LoadResult& r) {
  SweepPoint p;
  p.value = value;
  p.messages_per_s = r.elapsed_s > 0 ? r.messages_completed / r.elapsed_s : 0;
  p.p50_ns = r.rtt.ValueAtPercentile(50);
  p.p99_ns = r.rtt.ValueAtPercentile(99);
  p.p99_9_ns = r.rtt.ValueAtPercentile(99.9);
  p.errors = r.errors.Total() + r.data_errors;
  p.achieved_ratio = AchievedRatio(r);
  p.reached = RateReached(r);
  return p;
}

int FindKnee(const std::vector<SweepPoint>& points, std::string* why) {
  for (size_t i = 0; i < points.size(); ++i) {
    if (!points[i].reached) {
      if (why != nullptr) {
        *why = absl::StrFormat("the rate asked for was not met (%.1f%% of the schedule sent)",
                               100 * points[i].achieved_ratio);
      }
      return static_cast<int>(i);
    }
    if (i > 0 && points[i - 1].p99_ns > 0 &&
        points[i].p99_ns > kKneeP99Growth * static_cast<double>(points[i - 1].p99_ns)) {
      if (why != nullptr) {
        *why = absl::StrFormat("p99 %s is %.1fx the previous value's %s",
                               FormatLatency(points[i].p99_ns),
                               static_cast<double>(points[i].p99_ns) / points[i - 1].p99_ns,
                               FormatLatency(points[i - 1].p99_ns));
      }
      return static_cast<int>(i);
    }
  }
  return -1;
}

std::string SweepToText(const std::string& parameter, const std::vector<SweepPoint>& points) {
  std::string out = absl::StrFormat("\nsweep       %12s %10s %9s %9s %9s %7s %6s\n", parameter,
                                    "msg/s", "p50", "p99", "p99.9", "errors", "sent");
  for (const SweepPoint& p : points) {
    absl::StrAppendFormat(&out, "            %12.10g %10.0f %9s %9s %9s %7d %5.1f%%\n", p.value,
                          p.messages_per_s, FormatLatency(p.p50_ns), FormatLatency(p.p99_ns),
                          FormatLatency(p.p99_9_ns), p.errors, 100 * p.achieved_ratio);
  }
  std::string why;
  const int knee = FindKnee(points, &why);
  if (knee < 0) {
    absl::StrAppend(&out,
                    "knee        none in the values swept (no unmet rate, no p99 growth over ",
                    kKneeP99Growth, "x)\n");
  } else {
    absl::StrAppendFormat(&out, "knee        %s=%.10g: %s\n", parameter, points[knee].value, why);
  }
  return out;
}

nlohmann::json SweepToJson(const std::string& parameter, const std::vector<SweepPoint>& points) {
  nlohmann::json list = nlohmann::json::array();
  for (const SweepPoint& p : points) {
    list.push_back({{"value", p.value},
                    {"messages_per_s", p.messages_per_s},
                    {"p50_ns", p.p50_ns},
                    {"p99_ns", p.p99_ns},
                    {"p99_9_ns", p.p99_9_ns},
                    {"errors", p.errors},
                    {"achieved_ratio", p.achieved_ratio},
                    {"reached", p.reached}});
  }
  std::string why;
  const int knee = FindKnee(points, &why);
  return {{"parameter", parameter},
          {"points", list},
          {"knee", knee < 0 ? nlohmann::json(nullptr)
                            : nlohmann::json{
                                  {"index", knee}, {"value", points[knee].value}, {"why", why}}}};
}

}  // namespace socklab::client

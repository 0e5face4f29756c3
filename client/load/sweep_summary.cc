#include "client/load/sweep_summary.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "client/load/load_report.h"
#include "nlohmann/json.hpp"

namespace socklab::client {

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

#include "client/load/repeat_summary.h"

#include <algorithm>
#include <numeric>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "client/load/load_report.h"
#include "nlohmann/json.hpp"

namespace socklab::client {
namespace {

struct FigureOf {
  const char* name;   // the JSON key
  const char* label;  // the text report's
  double (*value)(const LoadResult&);
  bool latency;
};

constexpr FigureOf kFigures[] = {
    {"messages_per_s", "msg/s",
     [](const LoadResult& r) {
       return r.elapsed_s > 0 ? static_cast<double>(r.messages_completed) / r.elapsed_s : 0.0;
     },
     false},
    {"p50_ns", "p50", [](const LoadResult& r) { return double(r.rtt.ValueAtPercentile(50)); },
     true},
    {"p99_ns", "p99", [](const LoadResult& r) { return double(r.rtt.ValueAtPercentile(99)); },
     true},
    {"p99_9_ns", "p99.9", [](const LoadResult& r) { return double(r.rtt.ValueAtPercentile(99.9)); },
     true},
    {"max_ns", "max", [](const LoadResult& r) { return double(r.rtt.max()); }, true},
};

// The lower median of `values` (sorted copy).
double Median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values.empty() ? 0 : values[(values.size() - 1) / 2];
}

}  // namespace

std::vector<RepeatFigureKind> RepeatFigureKinds() {
  std::vector<RepeatFigureKind> kinds;
  for (const FigureOf& f : kFigures) {
    kinds.push_back({f.name, f.label, f.latency});
  }
  return kinds;
}

std::vector<RepeatFigure> RepeatFigures(const std::vector<LoadResult>& runs) {
  std::vector<RepeatFigure> figures;
  for (const FigureOf& f : kFigures) {
    std::vector<double> values;
    for (const LoadResult& r : runs) {
      values.push_back(f.value(r));
    }
    RepeatFigure figure;
    figure.name = f.name;
    if (!values.empty()) {
      figure.median = Median(values);
      figure.min = *std::min_element(values.begin(), values.end());
      figure.max = *std::max_element(values.begin(), values.end());
    }
    figures.push_back(figure);
  }
  return figures;
}

size_t MedianRunIndex(const std::vector<LoadResult>& runs) {
  std::vector<size_t> order(runs.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return kFigures[0].value(runs[a]) < kFigures[0].value(runs[b]);
  });
  return order.empty() ? 0 : order[(order.size() - 1) / 2];
}

std::string RepeatSummaryToText(const std::vector<RepeatFigure>& figures, size_t runs) {
  std::string out = absl::StrCat("\nrepeat      ", runs,
                                 " runs, each figure's median [min - max] over the runs; the "
                                 "report above is the run with the median throughput\n");
  for (size_t i = 0; i < figures.size(); ++i) {
    const RepeatFigure& f = figures[i];
    if (kFigures[i].latency) {
      absl::StrAppendFormat(&out, "  %-15s %s [%s - %s]\n", kFigures[i].label,
                            FormatLatency(static_cast<int64_t>(f.median)),
                            FormatLatency(static_cast<int64_t>(f.min)),
                            FormatLatency(static_cast<int64_t>(f.max)));
    } else {
      absl::StrAppendFormat(&out, "  %-15s %.0f [%.0f - %.0f]\n", kFigures[i].label, f.median,
                            f.min, f.max);
    }
  }
  return out;
}

nlohmann::json RepeatSummaryToJson(const std::vector<LoadResult>& runs) {
  nlohmann::json figures = nlohmann::json::object();
  for (const RepeatFigure& f : RepeatFigures(runs)) {
    figures[f.name] = {{"median", f.median}, {"min", f.min}, {"max", f.max}};
  }
  nlohmann::json per_run = nlohmann::json::array();
  for (const LoadResult& r : runs) {
    nlohmann::json run = nlohmann::json::object();
    for (const FigureOf& f : kFigures) {
      run[f.name] = f.value(r);
    }
    per_run.push_back(run);
  }
  return {{"runs", runs.size()},
          {"median_run", MedianRunIndex(runs)},
          {"figures", figures},
          {"per_run", per_run}};
}

}  // namespace socklab::client

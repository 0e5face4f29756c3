#include "core/metrics/exposition.h"

#include <algorithm>
#include <charconv>
#include <cmath>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "core/base/check.h"

namespace socklab::metrics {
namespace {

bool IsNameStart(char c, bool colon_allowed) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
         (colon_allowed && c == ':');
}

// Metric names: [a-zA-Z_:][a-zA-Z0-9_:]*; label names: [a-zA-Z_][a-zA-Z0-9_]* (no colon).
bool IsValidName(absl::string_view name, bool colon_allowed) {
  if (name.empty() || !IsNameStart(name[0], colon_allowed)) {
    return false;
  }
  return std::all_of(name.begin() + 1, name.end(), [colon_allowed](char c) {
    return IsNameStart(c, colon_allowed) || (c >= '0' && c <= '9');
  });
}

// Label values escape backslash, double quote and newline; HELP text backslash and newline.
std::string Escape(absl::string_view text, bool quote) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (quote && c == '"') {
      out += "\\\"";
    } else {
      out += c;
    }
  }
  return out;
}

absl::string_view TypeName(MetricType type) {
  switch (type) {
    case MetricType::kCounter:
      return "counter";
    case MetricType::kGauge:
      return "gauge";
    case MetricType::kHistogram:
      return "histogram";
  }
  return "untyped";
}

}  // namespace

std::string FormatValue(double value) {
  if (std::isnan(value)) {
    return "NaN";
  }
  if (std::isinf(value)) {
    return value > 0 ? "+Inf" : "-Inf";
  }
  char buffer[32];
  const std::to_chars_result result = std::to_chars(buffer, buffer + sizeof(buffer), value);
  return std::string(buffer, result.ptr);
}

void Exposition::Begin(absl::string_view name, MetricType type, absl::string_view help) {
  SOCKLAB_CHECK(IsValidName(name, /*colon_allowed=*/true), std::string(name).c_str());
  SOCKLAB_CHECK(type != MetricType::kCounter || absl::EndsWith(name, "_total"),
                "a counter's name ends in _total");
  SOCKLAB_CHECK(std::find(begun_.begin(), begun_.end(), name) == begun_.end(),
                "a family's lines are written together, once");
  begun_.emplace_back(name);
  family_ = std::string(name);
  type_ = type;
  // Format 0.0.4 names a counter's family exactly as its samples, "_total" included
  // (OpenMetrics would drop the suffix from the TYPE line; Prometheus 2 reads both).
  absl::StrAppend(&text_, "# HELP ", name, " ", Escape(help, /*quote=*/false), "\n", "# TYPE ",
                  name, " ", TypeName(type), "\n");
}

void Exposition::AppendSample(absl::string_view suffix, const Labels& labels,
                              absl::string_view extra_name, absl::string_view extra_value,
                              absl::string_view value) {
  absl::StrAppend(&text_, family_, suffix);
  if (!labels.empty() || !extra_name.empty()) {
    text_ += '{';
    bool first = true;
    auto append = [&](absl::string_view name, absl::string_view label_value) {
      SOCKLAB_CHECK(IsValidName(name, /*colon_allowed=*/false), std::string(name).c_str());
      absl::StrAppend(&text_, first ? "" : ",", name, "=\"", Escape(label_value, /*quote=*/true),
                      "\"");
      first = false;
    };
    for (const auto& [name, label_value] : labels) {
      append(name, label_value);
    }
    if (!extra_name.empty()) {
      append(extra_name, extra_value);
    }
    text_ += '}';
  }
  absl::StrAppend(&text_, " ", value, "\n");
}

void Exposition::Sample(uint64_t value, const Labels& labels) {
  SOCKLAB_CHECK(!family_.empty() && type_ != MetricType::kHistogram, "Sample() needs Begin()");
  AppendSample("", labels, "", "", absl::StrCat(value));
}

void Exposition::Sample(int64_t value, const Labels& labels) {
  SOCKLAB_CHECK(!family_.empty() && type_ != MetricType::kHistogram, "Sample() needs Begin()");
  AppendSample("", labels, "", "", absl::StrCat(value));
}

void Exposition::Sample(double value, const Labels& labels) {
  SOCKLAB_CHECK(!family_.empty() && type_ != MetricType::kHistogram, "Sample() needs Begin()");
  AppendSample("", labels, "", "", FormatValue(value));
}

void Exposition::Histogram(const std::vector<double>& upper_bounds,
                           const std::vector<uint64_t>& cumulative, uint64_t count, double sum,
                           const Labels& labels) {
  SOCKLAB_CHECK(!family_.empty() && type_ == MetricType::kHistogram, "Histogram() needs Begin()");
  SOCKLAB_CHECK(upper_bounds.size() == cumulative.size(), "one cumulative count per bound");
  for (size_t i = 0; i < upper_bounds.size(); ++i) {
    SOCKLAB_CHECK(
        i == 0 || (upper_bounds[i] > upper_bounds[i - 1] && cumulative[i] >= cumulative[i - 1]),
        "buckets ascend");
    AppendSample("_bucket", labels, "le", FormatValue(upper_bounds[i]),
                 absl::StrCat(cumulative[i]));
  }
  AppendSample("_bucket", labels, "le", "+Inf", absl::StrCat(count));
  AppendSample("_sum", labels, "", "", FormatValue(sum));
  AppendSample("_count", labels, "", "", absl::StrCat(count));
}

void Exposition::Comment(absl::string_view text) {
  absl::StrAppend(&text_, "# ", Escape(text, /*quote=*/false), "\n");
}

}  // namespace socklab::metrics

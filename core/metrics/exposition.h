#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"

namespace socklab::metrics {

// The Prometheus text exposition format (version 0.0.4, what every Prometheus server and
// node_exporter speak): "# HELP name text", "# TYPE name counter|gauge|histogram", then the
// family's samples "name{label=\"value\",...} value", one per line, each family's lines together.

// The Content-Type a scrape answers with.
inline constexpr absl::string_view kContentType = "text/plain; version=0.0.4; charset=utf-8";

enum class MetricType { kCounter, kGauge, kHistogram };

// Label name -> value, in the order they are written.
using Labels = std::vector<std::pair<std::string, std::string>>;

// Builds one scrape's text. Names and label names are the program's own constants: an invalid
// one, a counter not ending in "_total", a family begun twice or a sample outside any family is a
// programmer error and aborts. Label values and help texts are escaped as the format requires
// (backslash, double quote in label values, newline). Thread affinity: one thread at a time.
class Exposition {
 public:
  // Starts family `name`: its HELP and TYPE lines.
  void Begin(absl::string_view name, MetricType type, absl::string_view help);

  // A sample of the current counter or gauge family. Counts are written as exact integers.
  void Sample(uint64_t value, const Labels& labels = {});
  void Sample(int64_t value, const Labels& labels = {});
  void Sample(double value, const Labels& labels = {});

  // The samples of the current histogram family: one "_bucket" line per upper bound (ascending,
  // in the family's base unit) with the cumulative count of observations <= it, the "+Inf"
  // bucket (= count), then "_sum" and "_count". `cumulative` has one entry per bound.
  void Histogram(const std::vector<double>& upper_bounds, const std::vector<uint64_t>& cumulative,
                 uint64_t count, double sum, const Labels& labels = {});

  // Any line starting with "# " that is neither HELP nor TYPE: a note scrapers ignore (e.g. why
  // a family is missing from this scrape).
  void Comment(absl::string_view text);

  const std::string& text() const { return text_; }

 private:
  void AppendSample(absl::string_view suffix, const Labels& labels, absl::string_view extra_name,
                    absl::string_view extra_value, absl::string_view value);

  std::string text_;
  std::string family_;  // the current family, empty before the first Begin()
  MetricType type_ = MetricType::kGauge;
  std::vector<std::string> begun_;
};

// "0.001", "1e-05", "+Inf", "NaN": the shortest text that reads back as the same double, as Go's
// strconv.FormatFloat(v, 'g', -1, 64) writes it (Prometheus' own clients).
std::string FormatValue(double value);

}  // namespace socklab::metrics

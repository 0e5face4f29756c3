#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "core/stats/histogram.h"

namespace socklab {

// HdrHistogram's interval log (the .hlog that HistogramLogWriter writes and HistogramLogReader,
// HistogramLogProcessor and HistogramLogAnalyzer read), version 1.3:
//
//   #[socklab ...]                                   free comment lines
//   #[Histogram log format version 1.3]
//   #[StartTime: 1796551200.000 (seconds since epoch), 2026-12-06T10:00:00Z]
//   #[BaseTime: 1796551200.000 (seconds since epoch)]
//   "StartTimestamp","Interval_Length","Interval_Max","Interval_Compressed_Histogram"
//   Tag=rtt,0.000,1.000,0.412,HISTFAAAA...
//
// Timestamps are seconds from BaseTime, the max is in milliseconds (HdrHistogram's default
// unit ratio of 1e6 for nanosecond values) and the histogram is EncodeHistogram's text.
// Pure functions; thread affinity: none.

struct HdrLogInterval {
  std::string tag;     // "rtt", "connect"; empty: untagged
  double start_s = 0;  // from the log's BaseTime
  double length_s = 0;
  Histogram histogram;
};

struct HdrLog {
  std::vector<std::string> comments;  // the text of each "#[...]" line that is not a field
  double start_time_s = 0;            // unix seconds
  double base_time_s = 0;             // unix seconds; timestamps are relative to it
  std::vector<HdrLogInterval> intervals;
};

// The whole log; `comments` become the leading "#[...]" lines.
std::string FormatHdrLog(const HdrLog& log);

// Reads a log FormatHdrLog or HdrHistogram wrote (histograms of socklab's layout, see
// DecodeHistogram). Errors name the line.
absl::StatusOr<HdrLog> ParseHdrLog(absl::string_view text);

}  // namespace socklab

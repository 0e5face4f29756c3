#include "core/stats/hdr_log.h"

#include <cmath>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"
#include "core/stats/hdr_codec.h"

namespace socklab {
namespace {

constexpr char kVersionLine[] = "#[Histogram log format version 1.3]";
constexpr char kLegend[] =
    "\"StartTimestamp\",\"Interval_Length\",\"Interval_Max\",\"Interval_Compressed_Histogram\"";
// HdrHistogram's maxValueUnitRatio default: nanoseconds shown as milliseconds.
constexpr double kMaxUnitRatio = 1e6;

// The number after `prefix` in a "#[Prefix: 123.456 ...]" line.
bool NumberAfter(absl::string_view line, absl::string_view prefix, double* value) {
  if (!absl::ConsumePrefix(&line, prefix)) {
    return false;
  }
  line = absl::StripLeadingAsciiWhitespace(line);
  return absl::SimpleAtod(line.substr(0, line.find_first_of(" ]")), value);
}

}  // namespace

std::string FormatHdrLog(const HdrLog& log) {
  std::string out;
  for (const std::string& comment : log.comments) {
    absl::StrAppend(&out, "#[", comment, "]\n");
  }
  const absl::Time start = absl::FromUnixMillis(std::llround(log.start_time_s * 1e3));
  absl::StrAppend(&out, kVersionLine, "\n");
  absl::StrAppendFormat(&out, "#[StartTime: %.3f (seconds since epoch), %s]\n", log.start_time_s,
                        absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", start, absl::UTCTimeZone()));
  absl::StrAppendFormat(&out, "#[BaseTime: %.3f (seconds since epoch)]\n", log.base_time_s);
  absl::StrAppend(&out, kLegend, "\n");
  for (const HdrLogInterval& interval : log.intervals) {
    if (!interval.tag.empty()) {
      absl::StrAppend(&out, "Tag=", interval.tag, ",");
    }
    absl::StrAppendFormat(&out, "%.3f,%.3f,%.3f,%s\n", interval.start_s, interval.length_s,
                          interval.histogram.max() / kMaxUnitRatio,
                          EncodeHistogram(interval.histogram));
  }
  return out;
}

absl::StatusOr<HdrLog> ParseHdrLog(absl::string_view text) {
  HdrLog log;
  int number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++number;
    line = absl::StripTrailingAsciiWhitespace(line);
    if (line.empty() || line.front() == '"') {
      continue;
    }
    if (line.front() == '#') {
      double value = 0;
      if (NumberAfter(line, "#[StartTime:", &value)) {
        log.start_time_s = value;
      } else if (NumberAfter(line, "#[BaseTime:", &value)) {
        log.base_time_s = value;
      } else if (line != kVersionLine && absl::StartsWith(line, "#[") &&
                 absl::EndsWith(line, "]")) {
        log.comments.emplace_back(line.substr(2, line.size() - 3));
      }
      continue;
    }
    HdrLogInterval interval;
    if (absl::ConsumePrefix(&line, "Tag=")) {
      const size_t comma = line.find(',');
      interval.tag = std::string(line.substr(0, comma));
      line.remove_prefix(comma == absl::string_view::npos ? line.size() : comma + 1);
    }
    std::vector<absl::string_view> fields = absl::StrSplit(line, ',');
    double max_ms = 0;
    if (fields.size() != 4 || !absl::SimpleAtod(fields[0], &interval.start_s) ||
        !absl::SimpleAtod(fields[1], &interval.length_s) || !absl::SimpleAtod(fields[2], &max_ms)) {
      return absl::InvalidArgumentError(
          absl::StrCat("interval log line ", number, ": not [Tag=T,]START,LENGTH,MAX,HISTOGRAM"));
    }
    absl::StatusOr<Histogram> histogram = DecodeHistogram(fields[3]);
    if (!histogram.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("interval log line ", number, ": ", histogram.status().message()));
    }
    interval.histogram = std::move(*histogram);
    log.intervals.push_back(std::move(interval));
  }
  return log;
}

}  // namespace socklab

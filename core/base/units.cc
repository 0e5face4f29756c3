#include "core/base/units.h"

#include <charconv>
#include <cmath>
#include <limits>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "core/base/status.h"

namespace socklab {
namespace {

struct Suffix {
  absl::string_view text;
  uint64_t multiplier;
};

// Splits "64KiB" into 64 and "KiB"; the number must be a whole non-negative integer.
absl::StatusOr<uint64_t> ParseWithSuffixes(absl::string_view text,
                                           std::initializer_list<Suffix> suffixes,
                                           absl::string_view what, absl::string_view forms) {
  absl::string_view trimmed = absl::StripAsciiWhitespace(text);
  uint64_t number = 0;
  auto [end, ec] = std::from_chars(trimmed.data(), trimmed.data() + trimmed.size(), number);
  if (ec != std::errc() || end == trimmed.data()) {
    return UsageError(absl::StrCat("bad ", what, " '", text, "'"), absl::StrCat("use ", forms));
  }
  absl::string_view suffix(end, trimmed.data() + trimmed.size() - end);
  for (const Suffix& s : suffixes) {
    if (suffix == s.text) {
      if (number > std::numeric_limits<uint64_t>::max() / s.multiplier) {
        return UsageError(absl::StrCat(what, " '", text, "' is too large"),
                          absl::StrCat("use ", forms));
      }
      return number * s.multiplier;
    }
  }
  return UsageError(absl::StrCat("bad ", what, " '", text, "': unknown suffix '", suffix, "'"),
                    absl::StrCat("use ", forms));
}

}  // namespace

absl::StatusOr<absl::Duration> ParseDuration(absl::string_view text) {
  std::string trimmed(absl::StripAsciiWhitespace(text));
  if (trimmed == "0") {
    return absl::ZeroDuration();
  }
  absl::Duration duration;
  if (!absl::ParseDuration(trimmed, &duration) || duration == absl::InfiniteDuration() ||
      duration < absl::ZeroDuration()) {
    return UsageError(absl::StrCat("bad duration '", text, "'"),
                      "use a number with a unit: 250us, 500ms, 10s, 2m, 1h");
  }
  return duration;
}

absl::StatusOr<uint64_t> ParseCount(absl::string_view text) {
  return ParseWithSuffixes(text,
                           {{"", 1},
                            {"k", 1'000},
                            {"K", 1'000},
                            {"m", 1'000'000},
                            {"M", 1'000'000},
                            {"g", 1'000'000'000},
                            {"G", 1'000'000'000}},
                           "count", "a whole number, optionally with k, M or G: 500, 10k, 1M");
}

absl::StatusOr<double> ParseRate(absl::string_view text) {
  constexpr absl::string_view kForms =
      "a number per second, optionally with k or M: 0.5, 2000, 1.5k";
  absl::string_view trimmed = absl::StripAsciiWhitespace(text);
  double number = 0;
  auto [end, ec] = std::from_chars(trimmed.data(), trimmed.data() + trimmed.size(), number,
                                   std::chars_format::fixed);
  if (ec != std::errc() || end == trimmed.data() || !std::isfinite(number) || number < 0) {
    return UsageError(absl::StrCat("bad rate '", text, "'"), absl::StrCat("use ", kForms));
  }
  absl::string_view suffix(end, trimmed.data() + trimmed.size() - end);
  double multiplier = 0;
  if (suffix.empty()) {
    multiplier = 1;
  } else if (suffix == "k" || suffix == "K") {
    multiplier = 1e3;
  } else if (suffix == "m" || suffix == "M") {
    multiplier = 1e6;
  } else {
    return UsageError(absl::StrCat("bad rate '", text, "': unknown suffix '", suffix, "'"),
                      absl::StrCat("use ", kForms));
  }
  return number * multiplier;
}

absl::StatusOr<uint64_t> ParseByteSize(absl::string_view text) {
  constexpr uint64_t kKiB = 1024;
  return ParseWithSuffixes(text,
                           {{"", 1},
                            {"B", 1},
                            {"k", kKiB},
                            {"K", kKiB},
                            {"KiB", kKiB},
                            {"m", kKiB * kKiB},
                            {"M", kKiB * kKiB},
                            {"MiB", kKiB * kKiB},
                            {"g", kKiB * kKiB * kKiB},
                            {"G", kKiB * kKiB * kKiB},
                            {"GiB", kKiB * kKiB * kKiB}},
                           "byte size",
                           "bytes, optionally with K, M or G (powers of 1024): 64, 4K, 1M");
}

std::string FormatBytes(double bytes) {
  constexpr const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int unit = 0;
  while (bytes >= 1024.0 && unit < 4) {
    bytes /= 1024.0;
    ++unit;
  }
  return unit == 0 ? absl::StrFormat("%.0f B", bytes)
                   : absl::StrFormat("%.1f %s", bytes, kUnits[unit]);
}

std::string FormatElapsed(double seconds) {
  if (seconds < 0.001) {
    return absl::StrFormat("%.3f ms", seconds * 1e3);
  }
  if (seconds < 1) {
    return absl::StrFormat("%.1f ms", seconds * 1e3);
  }
  return absl::StrFormat("%.2f s", seconds);
}

std::string FormatSeconds(double seconds) {
  if (seconds < 0) {
    return "unknown";
  }
  if (seconds >= 7200) {
    return absl::StrFormat("%g s (%.1f h)", seconds, seconds / 3600);
  }
  if (seconds >= 600) {
    return absl::StrFormat("%g s (%.1f min)", seconds, seconds / 60);
  }
  return absl::StrFormat("%g s", seconds);
}

}  // namespace socklab

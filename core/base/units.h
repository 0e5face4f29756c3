#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace socklab {

// User-facing quantities, parsed the same way by every flag. Errors are UsageErrors naming the
// bad text and the accepted forms.

// "500ms", "10s", "2m", "1h30m", "250us". A bare "0" means zero; other bare numbers are refused
// because "5" could mean seconds or milliseconds.
absl::StatusOr<absl::Duration> ParseDuration(absl::string_view text);

// Counts: "1000", "10k" (10,000), "1M" (1,000,000), "2G"; decimal multipliers, as in load-test
// tools ("10k requests").
absl::StatusOr<uint64_t> ParseCount(absl::string_view text);

// Rates per second: "2000", "0.5", "1.5k" (1,500), "2M"; a non-negative decimal number with the
// same decimal multipliers as counts. A rate of 1 per 2 s is as real a workload as 2000/s.
absl::StatusOr<double> ParseRate(absl::string_view text);

// Byte sizes: "4096", "64k"/"64KiB" (65,536), "4M"/"4MiB", "1G"/"1GiB"; binary multipliers, as
// socket buffer sizes are.
absl::StatusOr<uint64_t> ParseByteSize(absl::string_view text);

// "1.5 MiB", "200 B": for reports.
std::string FormatBytes(double bytes);

// Durations for reports, in two forms: one for what was measured, one for what is configured.
// A measured span: "0.012 ms" below 1 ms, "1.2 ms" below 1 s, "3.45 s" from there.
std::string FormatElapsed(double seconds);
// A configured time (a kernel timeout, a limit): "127 s", "924.6 s (15.4 min)" from 10 min,
// "7200 s (2.0 h)" from 2 h; "unknown" for negative values.
std::string FormatSeconds(double seconds);

}  // namespace socklab

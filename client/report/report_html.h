#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace socklab::client {

// One run to report: what `socklab load --json` wrote, and the name it is shown under (the
// file's name).
struct ReportRun {
  std::string name;
  nlohmann::json json;
};

// Reads and checks one `socklab load --json` file. A missing or unreadable file, text that is
// not JSON, or JSON that is not a load result is a UsageError (exit 2) naming the path.
absl::StatusOr<ReportRun> ReadReportRun(const std::string& path);

// Whether `json` has what a report draws from (config, latency_ns, series); the problem if not.
absl::Status CheckLoadJson(const nlohmann::json& json);

// The self-contained HTML report of `runs` (at least one, each passing CheckLoadJson): charts
// as inline SVG (no script, font, stylesheet or image is fetched when it is opened), then the
// figures, configuration, machine, errors, hints and kernel counters. With several runs the
// series are overlaid (one colour per run) and the figures are side by side with ratios to the
// first run. Pure; thread affinity: none.
std::string RenderReportHtml(const std::vector<ReportRun>& runs);

}  // namespace socklab::client

#include "client/states/states_options.h"

#include "core/base/status.h"

namespace socklab::client {

absl::Status StatesOptions::Validate() const {
  if (interval < absl::ZeroDuration()) {
    return UsageError("--interval must be positive", "give e.g. -i 1s or -i 500ms");
  }
  if (interval != absl::ZeroDuration() && interval < absl::Milliseconds(10)) {
    return UsageError("--interval below 10ms",
                      "each sample reads the whole socket table; use -i 10ms or more");
  }
  if (filter.states.empty()) {
    return UsageError("--state names no state", "give e.g. --state established,time_wait");
  }
  if (format == StatesFormat::kPrometheus && (IsSeries() || list)) {
    return UsageError("--prometheus prints one scrape of the tally",
                      "drop -i/--count/--watch/--list, and let Prometheus (or a cron job writing "
                      "node_exporter's textfile directory) take the series");
  }
  if (watch) {
    if (format != StatesFormat::kTable) {
      return UsageError("--watch draws a live screen and takes no --format",
                        "use -i/--interval with --format csv|json for machine-readable series");
    }
    if (list) {
      return UsageError("--watch and --list cannot be combined",
                        "use --list -i 1s for a repeated socket list");
    }
    if (count != 0) {
      return UsageError("--watch runs until q or Ctrl-C and takes no --count",
                        "use -i/--interval with --count for a fixed number of samples");
    }
  }
  return absl::OkStatus();
}

absl::Duration StatesOptions::EffectiveInterval() const {
  if (interval > absl::ZeroDuration()) {
    return interval;
  }
  return absl::Seconds(1);
}

bool StatesOptions::IsSeries() const {
  return watch || interval > absl::ZeroDuration() || count > 1;
}

}  // namespace socklab::client

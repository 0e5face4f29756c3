#pragma once

#include <cstdint>
#include <optional>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "core/tcpstat/filter.h"
#include "core/tcpstat/reader.h"
#include "core/tcpstat/tcp_state.h"

namespace socklab::client {

// kPrometheus: one scrape of the tally in the Prometheus text format (one sample only).
enum class StatesFormat { kTable, kCsv, kJson, kPrometheus };

// Everything `socklab states` was asked to do, filled from flags by states_command.cc (tests
// build it directly). A value; thread affinity: none.
struct StatesOptions {
  // What to read.
  tcpstat::Filter filter;
  tcpstat::Source source = tcpstat::Source::kProc;
  // How often: one sample unless an interval, a count or --watch asks for a series.
  absl::Duration interval = absl::ZeroDuration();  // 0 = one-shot (1s for --count / --watch)
  uint64_t count = 0;                              // samples in a series; 0 = until Ctrl-C
  bool watch = false;                              // full-screen live view (a terminal only)
  bool list = false;                               // one line per socket, like `ss -tan`
  StatesFormat format = StatesFormat::kTable;
  bool verbose = false;  // sampling cost per sample on stderr

  // Usage errors (exit 2) for combinations that cannot work.
  absl::Status Validate() const;

  // The interval a series actually uses (the default 1s when only --count or --watch was given).
  absl::Duration EffectiveInterval() const;
  // True when more than one sample will be taken.
  bool IsSeries() const;
};

}  // namespace socklab::client

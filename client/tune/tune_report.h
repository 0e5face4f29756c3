#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "client/tune/plan.h"
#include "core/limits/derivations.h"
#include "core/limits/kernel_limits.h"
#include "core/sysinfo/machine.h"
#include "nlohmann/json_fwd.hpp"

namespace socklab::client {

// One row of the parameter table.
struct ParamRow {
  std::string name;     // "net.core.somaxconn", "RLIMIT_NOFILE"
  std::string value;    // as the kernel shows it ("32768 60999"), or "unreadable"
  std::string meaning;  // what it means on this machine, in numbers
  std::string status;   // "ok", "low", "note", "limits your plan", "may limit your plan", ...
};

// Everything `socklab tune` reports, built once and rendered as text or JSON.
struct TuneReport {
  MachineInfo machine;
  KernelLimits limits;
  std::vector<ParamRow> parameters;
  std::vector<Derivation> derivations;
  bool has_plan = false;
  Plan plan;
};

// Builds the report; `plan` may be null. Pure. Thread affinity: none.
TuneReport MakeTuneReport(const MachineInfo& machine, const KernelLimits& limits, const Plan* plan);

// The report as text. `width` > 0: every table column stays aligned and long cells and
// paragraphs wrap to fit that many columns (TerminalWidth); 0: one line per row, however long.
std::string TuneReportToText(const TuneReport& report, size_t width = 0);
// A derivation whose value is unlimited (+infinity, e.g. churn under a tcp_max_tw_buckets cap)
// has "value": null and "text": "unlimited"; unknown ones have a negative value.
nlohmann::json TuneReportToJson(const TuneReport& report);

}  // namespace socklab::client

#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "client/tune/plan.h"

namespace socklab::client {

// Everything `socklab tune` was asked, copied once from the flags. Thread affinity: none.
struct TuneOptions {
  std::string root = "/";  // read /proc/sys below this directory (fixture trees in tests)
  bool json = false;
  bool plan = false;
  // Plan inputs (only with --plan).
  uint64_t connections = 0;
  double conn_rate = 0;  // new connections/s
  std::string target;
  uint64_t source_ips = 1;
  uint64_t backlog = 0;
  std::string sysctl_file;  // write the suggested settings here (never applied)
  // Which plan flags the user gave, so that using one without --plan is an error.
  bool any_plan_flag = false;
  // --try: settings to compare in two network namespaces ("net.ipv4.tcp_tw_reuse=1").
  std::vector<std::string> tries;
  bool from_plan = false;  // --from-plan: try the settings the plan suggests
  uint64_t repeat = 1;     // runs per side, interleaved A B A B
  // What follows "--": "load" and its flags (no target; each namespace has its own server).
  std::vector<std::string> command;

  bool trying() const { return !tries.empty() || from_plan; }

  // UsageError (exit 2) for flags that contradict each other or values out of range.
  absl::Status Validate() const;
  // The --try part of Validate: the command after "--", --repeat and flags --try cannot use.
  absl::Status ValidateTry() const;
  // The plan inputs as the library takes them; call after Validate().
  absl::StatusOr<PlanOptions> ToPlanOptions() const;
};

}  // namespace socklab::client

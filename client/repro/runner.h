#pragma once

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "client/repro/registry.h"
#include "client/repro/scenario.h"

namespace socklab::repro {

// What `socklab repro` was asked to do (filled by the front end from flags, or by tests).
struct ReproOptions {
  std::vector<std::string> names;  // scenarios to run, in order
  bool all = false;                // every scenario
  bool list = false;               // print the names and stop
  bool json = false;
  bool verbose = false;  // with --all: the full report of every scenario, not only the table

  // Unknown names are a UsageError listing the valid ones; so is asking for nothing.
  absl::Status Validate() const;
  // The scenarios selected (all, or by name, in the order given).
  std::vector<const Scenario*> Selected() const;
};

// Runs one scenario in a forked child (inside a fresh network namespace when it needs one), reads
// the kernel counters before and after inside that child, and returns what happened. Never
// throws, never returns "reproduced" for a scenario that could not run: no root or no namespace
// gives kSkipped with the reason; a crash or timeout gives kError. Must be called from a
// single-threaded process (it forks). Blocking: up to the scenario's timeout.
ScenarioResult RunScenario(const Scenario& scenario);

// The process exit code for a set of results: 0 all reproduced, 1 any not reproduced or error,
// 3 nothing failed but something was skipped.
int ExitCodeForResults(const std::vector<ScenarioResult>& results);

}  // namespace socklab::repro

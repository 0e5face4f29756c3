#pragma once

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
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
  std::string find;      // --find TEXT: list the scenarios for a symptom instead of running
  // --pcap PATH: each scenario's capture as a pcap file; PATH may be an existing directory
  // (required with several scenarios), which gets one NAME.pcap each.
  std::string pcap;

  // Unknown names are a UsageError listing the valid ones; so is asking for nothing.
  absl::Status Validate() const;
  // The scenarios selected (all, or by name, in the order given).
  std::vector<const Scenario*> Selected() const;
  // Where `--pcap` writes the capture of scenario `name`; "" without --pcap.
  std::string PcapPathFor(absl::string_view name) const;
};

// Runs one scenario in a forked child (inside a fresh network namespace when it needs one), reads
// the kernel counters before and after inside that child, and returns what happened. Never
// throws, never returns "reproduced" for a scenario that could not run: no root or no namespace
// gives kSkipped with the reason; a crash or timeout gives kError. Must be called from a
// single-threaded process (it forks). Blocking: up to the scenario's timeout.
// The child captures the scenario's packets (ScenarioResult::wire) and, when `pcap_path` is not
// empty, writes them there as a pcap file.
ScenarioResult RunScenario(const Scenario& scenario, const std::string& pcap_path = "");

// The line a report prints for one of a scenario's kernel knobs, with its value on this host:
// 'net.core.wmem_max = "212992" on this host: the cap on SO_SNDBUF: sysctl -w ...'. When the
// host already has the value the advice's "sysctl -w NAME=VALUE" sets, the line says so instead of
// repeating the command. Pure.
std::string KnobLine(const KernelKnob& knob, const absl::StatusOr<std::string>& host_value);

// The process exit code for a set of results: 0 all reproduced, 1 any not reproduced or error,
// 3 nothing failed but something was skipped.
int ExitCodeForResults(const std::vector<ScenarioResult>& results);

}  // namespace socklab::repro

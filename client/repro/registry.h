#pragma once

#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "client/repro/recorder.h"
#include "client/repro/scenario.h"

namespace socklab::repro {

// A scenario: its description and the body that makes the error happen. The body runs in a
// forked child (see runner.h) and records everything in the Recorder.
struct Scenario {
  ScenarioInfo info;
  void (*body)(Recorder& rec) = nullptr;
};

// Every scenario, in the order `--list` and `--all` show them. Built once; thread-safe reads.
const std::vector<Scenario>& AllScenarios();
// nullptr when no scenario has that name.
const Scenario* FindScenario(absl::string_view name);
std::vector<std::string> ScenarioNames();

// The errnos a scenario's `expected` line names ("ECONNRESET on read" -> {ECONNRESET}), in
// order, each once. Their strerror texts are what a user's log shows.
std::vector<int> ExpectedErrnos(const ScenarioInfo& info);

}  // namespace socklab::repro

#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "client/repro/registry.h"
#include "client/repro/scenario.h"
#include "core/sysinfo/machine.h"
#include "nlohmann/json.hpp"

namespace socklab::repro {

// Rendering of scenario results: the long text report for one scenario, the `--all` table, and
// JSON (which is also how a scenario's child process hands its result to the parent). Pure
// functions; thread affinity: none.

nlohmann::json ResultToJson(const ScenarioResult& result);
absl::StatusOr<ScenarioResult> ResultFromJson(const nlohmann::json& json);

// The full explanation: steps, states, counters, Java, cause, fixes, verdict.
std::string RenderScenarioText(const ScenarioInfo& info, const ScenarioResult& result);
// One row per result: scenario, expected, observed, time, ok.
std::string RenderTable(const std::vector<ScenarioResult>& results);
// {"machine": ..., "scenarios": [{info + result}], "summary": {...}}
nlohmann::json RenderRunJson(const MachineInfo& machine,
                             const std::vector<ScenarioResult>& results);

// `--list`: "name  expected  strerror texts  title", columns aligned.
std::string RenderList();
// `--list --json`: {"scenarios": [ScenarioInfoJson...]}.
nlohmann::json RenderListJson();
// What a scenario is, as JSON: name, title, expected_text, errors ([{errno, text}]), java, cause,
// fix_code, see_also, needs_netns, needs_root.
nlohmann::json ScenarioInfoJson(const ScenarioInfo& info);
// "reset-unread (the peer closes with unread data...); broken-pipe (...)".
std::string SeeAlsoText(const ScenarioInfo& info);

// The observed side of a result in one cell: "ECONNREFUSED", "EADDRINUSE, EADDRINUSE".
std::string ObservedSummary(const ScenarioResult& result);

}  // namespace socklab::repro

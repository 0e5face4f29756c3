#include "client/repro/repro_command.h"

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "client/repro/registry.h"
#include "client/repro/report.h"
#include "client/repro/runner.h"
#include "core/sysinfo/machine.h"

namespace socklab::client {
namespace {

int Run(const repro::ReproOptions& options) {
  if (absl::Status valid = options.Validate(); !valid.ok()) {
    return cli::ReportFailure("socklab repro", valid);
  }
  if (options.list) {
    std::fputs(repro::RenderList().c_str(), stdout);
    return 0;
  }
  MachineInfo machine = ReadMachineInfo();
  if (!options.json) {
    std::printf("socklab repro: %s; plain blocking syscalls (strace -f shows the same errno)\n\n",
                MachineInfoToText(machine).c_str());
    std::fflush(stdout);
  }
  std::vector<repro::ScenarioResult> results;
  const bool details = !options.all || options.verbose;
  for (const repro::Scenario* scenario : options.Selected()) {
    results.push_back(repro::RunScenario(*scenario));
    if (!options.json && details) {
      std::printf("%s\n", repro::RenderScenarioText(scenario->info, results.back()).c_str());
      std::fflush(stdout);
    }
  }
  if (options.json) {
    std::printf("%s\n", repro::RenderRunJson(machine, results).dump(2).c_str());
  } else if (results.size() > 1 || options.all) {
    std::fputs(repro::RenderTable(results).c_str(), stdout);
  }
  return repro::ExitCodeForResults(results);
}

}  // namespace

cli::Command AddReproCommand(CLI::App& app) {
  auto options = std::make_shared<repro::ReproOptions>();
  CLI::App* sub =
      app.add_subcommand("repro", "Reproduce a socket error on real kernel sockets and explain it");
  sub->add_option("names", options->names, "Scenarios to run (see --list)");
  sub->add_flag("--list", options->list, "List the scenarios and exit");
  sub->add_flag("--all", options->all, "Run every scenario and print a table");
  sub->add_flag("--json", options->json, "Machine-readable output");
  sub->add_flag("-v,--verbose", options->verbose, "With --all: the full report of each scenario");
  sub->footer(
      "Exit codes: 0 every scenario reproduced, 1 one did not (or broke), 2 bad usage, 3 some "
      "were skipped (no root / no network namespaces).");
  return {sub, [options] { return Run(*options); }};
}

}  // namespace socklab::client

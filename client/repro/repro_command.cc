#include "client/repro/repro_command.h"

#include <algorithm>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "client/repro/find.h"
#include "client/repro/registry.h"
#include "client/repro/report.h"
#include "client/repro/runner.h"
#include "core/sysinfo/machine.h"
#include "nlohmann/json.hpp"

namespace socklab::client {
namespace {

// --find: the scenarios for a symptom, best first; exit 1 when none matches.
int Find(const repro::ReproOptions& options) {
  std::vector<repro::FindMatch> matches = repro::FindScenarios(options.find);
  if (matches.empty()) {
    return cli::ReportError(
        "socklab repro",
        absl::StrCat("no scenario matches '", options.find,
                     "'; try an errno name (ECONNRESET), its text (\"Connection reset by peer\") "
                     "or the Java exception; socklab repro --list shows them all"),
        1, options.json);
  }
  if (options.json) {
    nlohmann::json out = {{"query", options.find}, {"matches", nlohmann::json::array()}};
    for (const repro::FindMatch& m : matches) {
      nlohmann::json one = repro::ScenarioInfoJson(m.scenario->info);
      one["matched"] = m.matched;
      one["score"] = m.score;
      out["matches"].push_back(std::move(one));
    }
    std::printf("%s\n", out.dump(2).c_str());
    return 0;
  }
  size_t w_name = 0;
  for (const repro::FindMatch& m : matches) {
    w_name = std::max(w_name, m.scenario->info.name.size());
  }
  std::printf("socklab repro --find \"%s\": %zu scenario%s\n", options.find.c_str(), matches.size(),
              matches.size() == 1 ? "" : "s");
  for (const repro::FindMatch& m : matches) {
    // A Java text can run to several exceptions: the start says which one matched.
    constexpr size_t kMatchedShown = 90;
    std::string matched = m.matched.size() > kMatchedShown
                              ? absl::StrCat(m.matched.substr(0, kMatchedShown - 3), "...")
                              : m.matched;
    std::printf("  %-*s  %s\n  %-*s  matched %s\n", static_cast<int>(w_name),
                m.scenario->info.name.c_str(), m.scenario->info.title.c_str(),
                static_cast<int>(w_name), "", matched.c_str());
    if (!m.scenario->info.see_also.empty()) {
      std::printf("  %-*s  see also %s\n", static_cast<int>(w_name), "",
                  absl::StrJoin(m.scenario->info.see_also, ", ").c_str());
    }
  }
  std::printf("run one: socklab repro %s\n", matches.front().scenario->info.name.c_str());
  return 0;
}

int Run(const repro::ReproOptions& options) {
  if (absl::Status valid = options.Validate(); !valid.ok()) {
    return cli::ReportFailure("socklab repro", valid, options.json);
  }
  if (!options.find.empty()) {
    return Find(options);
  }
  if (options.list) {
    if (options.json) {
      std::printf("%s\n", repro::RenderListJson().dump(2).c_str());
    } else {
      std::fputs(repro::RenderList().c_str(), stdout);
    }
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
    results.push_back(repro::RunScenario(*scenario, options.PcapPathFor(scenario->info.name)));
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
  sub->add_flag("--list", options->list,
                "List the scenarios (with the errno texts a log shows) and exit");
  sub->add_option("--find", options->find,
                  "Find the scenario for a symptom: an errno name, its text (\"Too many open "
                  "files\") or a Java exception; tolerant of case and typos")
      ->type_name("TEXT");
  sub->add_flag("--all", options->all, "Run every scenario and print a table");
  sub->add_option("--pcap", options->pcap,
                  "Write each scenario's packet capture as a pcap file (Wireshark, tshark -r); "
                  "with several scenarios PATH is a directory that gets NAME.pcap each")
      ->type_name("PATH");
  sub->add_flag("--json", options->json, "Machine-readable output (with the captured segments)");
  sub->add_flag("-v,--verbose", options->verbose, "With --all: the full report of each scenario");
  sub->footer(
      "Exit codes: 0 every scenario reproduced, 1 one did not (or broke), 2 bad usage, 3 some "
      "were skipped (no root / no network namespaces).");
  return {sub, [options] { return Run(*options); }};
}

}  // namespace socklab::client

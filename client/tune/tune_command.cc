#include "client/tune/tune_command.h"

#include <errno.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "client/tune/text_layout.h"
#include "client/tune/try_command.h"
#include "client/tune/tune_options.h"
#include "client/tune/tune_report.h"
#include "core/base/status.h"
#include "nlohmann/json.hpp"

namespace socklab::client {
namespace {

std::string CommandLine(const TuneOptions& o) {
  std::string line = "socklab tune --plan";
  if (o.connections > 0) {
    absl::StrAppend(&line, " --connections ", o.connections);
  }
  if (o.conn_rate > 0) {
    absl::StrAppend(&line, " --conn-rate ", o.conn_rate);
  }
  absl::StrAppend(&line, " --target ", o.target);
  if (o.source_ips != 1) {
    absl::StrAppend(&line, " --source-ips ", o.source_ips);
  }
  if (o.backlog > 0) {
    absl::StrAppend(&line, " --backlog ", o.backlog);
  }
  return line;
}

// Writes the snippet to a regular file. Refuses /proc and /sys: writing there would change the
// running system, which --sysctl-file promises never to do.
absl::Status WriteSysctlFile(const std::string& path, const std::string& text) {
  std::error_code ec;
  std::filesystem::path absolute = std::filesystem::weakly_canonical(path, ec);
  std::string resolved = ec ? path : absolute.string();
  if (absl::StartsWith(resolved, "/proc/") || absl::StartsWith(resolved, "/sys/")) {
    return UsageError(
        absl::StrCat("--sysctl-file ", path, " is inside /proc or /sys"),
        "name a regular file, e.g. ./90-socklab.conf; socklab never applies settings");
  }
  std::ofstream out(path, std::ios::trunc);
  if (!out) {
    return ErrnoError(errno == 0 ? EIO : errno, absl::StrCat("open ", path),
                      "check the directory exists and is writable");
  }
  out << text;
  out.close();
  if (!out) {
    return ErrnoError(errno == 0 ? EIO : errno, absl::StrCat("write ", path));
  }
  return absl::OkStatus();
}

int RunTune(const TuneOptions& options) {
  if (absl::Status valid = options.Validate(); !valid.ok()) {
    return cli::ReportFailure("socklab tune", valid, options.json);
  }
  ProcFs proc(options.root);
  KernelLimits limits = ReadKernelLimits(proc);
  if (options.trying()) {
    return RunTry(options, limits);
  }
  MachineInfo machine = ReadMachineInfo(proc);
  if (!machine.root.empty()) {
    // The tree's own RLIMIT_NOFILE (its proc/self/limits), as the limits table shows it.
    machine.nofile_soft = limits.nofile_soft > 0 ? static_cast<uint64_t>(limits.nofile_soft) : 0;
    machine.nofile_hard = limits.nofile_hard > 0 ? static_cast<uint64_t>(limits.nofile_hard) : 0;
  }
  Plan plan;
  if (options.plan) {
    absl::StatusOr<PlanOptions> plan_options = options.ToPlanOptions();
    if (!plan_options.ok()) {
      return cli::ReportFailure("socklab tune", plan_options.status(), options.json);
    }
    plan = MakePlan(*plan_options, limits);
  }
  // The file first: its failure is then the only thing on stdout with --json.
  if (!options.sysctl_file.empty()) {
    if (absl::Status written =
            WriteSysctlFile(options.sysctl_file, SysctlSnippet(plan, CommandLine(options)));
        !written.ok()) {
      return cli::ReportFailure("socklab tune", written, options.json);
    }
    std::fprintf(stderr, "socklab tune: wrote %zu suggested settings to %s (not applied)\n",
                 plan.SuggestedSysctls().size(), options.sysctl_file.c_str());
  }
  TuneReport report = MakeTuneReport(machine, limits, options.plan ? &plan : nullptr);
  if (options.json) {
    std::string text = TuneReportToJson(report).dump(2);
    std::fprintf(stdout, "%s\n", text.c_str());
  } else {
    std::string text = TuneReportToText(report, TerminalWidth(STDOUT_FILENO));
    std::fputs(text.c_str(), stdout);
  }
  std::fflush(stdout);
  return 0;
}

}  // namespace

cli::Command AddTuneCommand(CLI::App& app) {
  auto options = std::make_shared<TuneOptions>();
  CLI::App* sub = app.add_subcommand(
      "tune", "What this machine's kernel limits allow, and what to change for a planned workload");
  sub->add_option("--root", options->root,
                  "Read proc/sys below this directory instead of / (fixture trees)");
  sub->add_flag("--json", options->json, "Print the report as JSON");
  sub->add_flag("--plan", options->plan,
                "Check a workload (--connections, --conn-rate, --target) against the limits");
  auto plan_flag = [options](CLI::Option* option) {
    option->each([options](const std::string&) { options->any_plan_flag = true; });
  };
  plan_flag(cli::AddCountFlag(*sub, "-c,--connections", &options->connections,
                              "Connections held open at once (10k, 1M)"));
  plan_flag(cli::AddRateFlag(*sub, "--conn-rate,--connect-rate", &options->conn_rate,
                             "New connections per second, each replacing a closed one"));
  plan_flag(sub->add_option("--target", options->target, "Destination ADDR:PORT"));
  plan_flag(cli::AddCountFlag(*sub, "--source-ips", &options->source_ips,
                              "Client source addresses the connections are spread over"));
  plan_flag(cli::AddCountFlag(*sub, "--backlog", &options->backlog,
                              "The server's listen() backlog (default: somaxconn)"));
  sub->add_option("--sysctl-file", options->sysctl_file,
                  "Write the suggested settings as a sysctl.d snippet to PATH (never applied)");
  sub->add_option("--try", options->tries,
                  "Compare a setting in two network namespaces: NAME=VALUE (a per-namespace net.* "
                  "sysctl, or nofile=N for the processes started); repeatable; needs -- load ...")
      ->type_name("NAME=VALUE")
      // One value per --try, so the "--" that follows starts the command instead of ending a
      // list of values.
      ->allow_extra_args(false);
  sub->add_flag("--from-plan", options->from_plan,
                "Try the settings --plan suggests for --connections/--conn-rate/--target");
  cli::AddCountFlag(*sub, "--repeat", &options->repeat,
                    "Runs per side with --try, interleaved A B A B (default 1)");
  sub->add_option("command", options->command,
                  "With --try: -- load FLAGS (no target: each namespace runs its own server)");
  return {sub, [options] { return RunTune(*options); }};
}

}  // namespace socklab::client

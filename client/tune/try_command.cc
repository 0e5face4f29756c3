#include "client/tune/try_command.h"

#include <unistd.h>

#include <cstdio>
#include <filesystem>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "client/tune/text_layout.h"
#include "client/tune/try_compare.h"
#include "client/tune/try_run.h"
#include "client/tune/try_settings.h"
#include "core/base/status.h"
#include "core/base/units.h"
#include "core/cli/flags.h"
#include "core/net/netns.h"

namespace socklab::client {
namespace {

constexpr absl::string_view kProgram = "socklab tune";

// The value of a load flag ("-d 5s", "--duration 5s", "--duration=5s"), or "" when absent.
std::string FlagValue(const std::vector<std::string>& args, absl::string_view short_name,
                      absl::string_view long_name) {
  std::string value;
  for (size_t i = 0; i < args.size(); ++i) {
    absl::string_view arg = args[i];
    if ((arg == short_name || arg == long_name) && i + 1 < args.size()) {
      value = args[i + 1];
    } else if (absl::ConsumePrefix(&arg, long_name) && absl::ConsumePrefix(&arg, "=")) {
      value = std::string(arg);
    }
  }
  return value;
}

// How long one load may take before it is killed: its duration and warmup (load's default
// duration is 10 s; with only -n the run ends by count, so it gets ten minutes) plus a minute
// for connect and read timeouts and the final samples.
absl::Duration RunTimeout(const std::vector<std::string>& load_args) {
  absl::Duration run = absl::Seconds(10);
  std::string duration = FlagValue(load_args, "-d", "--duration");
  if (duration.empty() && !FlagValue(load_args, "-n", "--messages").empty()) {
    run = absl::Minutes(10);
  } else if (absl::StatusOr<absl::Duration> d = ParseDuration(duration); d.ok()) {
    run = *d;
  }
  if (absl::StatusOr<absl::Duration> w = ParseDuration(FlagValue(load_args, "", "--warmup"));
      w.ok()) {
    run += *w;
  }
  return run + absl::Minutes(1);
}

absl::StatusOr<std::vector<TrySetting>> Settings(const TuneOptions& options,
                                                 const KernelLimits& limits) {
  std::vector<std::string> arguments = options.tries;
  if (options.from_plan) {
    absl::StatusOr<PlanOptions> plan_options = options.ToPlanOptions();
    if (!plan_options.ok()) {
      return plan_options.status();
    }
    std::vector<std::string> skipped;
    arguments = TryArgumentsFromPlan(MakePlan(*plan_options, limits), &skipped);
    for (const std::string& line : skipped) {
      std::fprintf(stderr, "%s: not tried: %s\n", std::string(kProgram).c_str(), line.c_str());
    }
    if (arguments.empty()) {
      return UsageError("--from-plan: the plan suggests no setting that can be tried here",
                        "run socklab tune --plan with the same flags to see why");
    }
  }
  std::vector<TrySetting> settings;
  for (const std::string& argument : arguments) {
    absl::StatusOr<TrySetting> setting = ParseTrySetting(argument);
    if (!setting.ok()) {
      return setting.status();
    }
    settings.push_back(*std::move(setting));
  }
  if (absl::Status read = ReadCurrentValues(ProcFs("/"), &settings); !read.ok()) {
    return read;
  }
  return settings;
}

}  // namespace

int RunTry(const TuneOptions& options, const KernelLimits& limits) {
  absl::StatusOr<std::vector<TrySetting>> settings = Settings(options, limits);
  if (!settings.ok()) {
    return cli::ReportFailure(kProgram, settings.status(), options.json);
  }
  if (absl::Status available = CheckNetnsAvailable(); !available.ok()) {
    return cli::ReportFailure(kProgram, available, options.json);
  }
  if (absl::Status checked = CheckSettingsInNamespace(*settings); !checked.ok()) {
    return cli::ReportFailure(kProgram, checked, options.json);
  }
  std::error_code ec;
  std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", ec);
  TryRunOptions run_options;
  run_options.socklab_path = self.string();
  run_options.server_path = (self.parent_path() / "socklab-server").string();
  if (ec || access(run_options.server_path.c_str(), X_OK) != 0) {
    return cli::ReportFailure(
        kProgram,
        absl::FailedPreconditionError(absl::StrCat(
            run_options.server_path, " is missing; build socklab-server next to socklab")),
        options.json);
  }
  run_options.load_args.assign(options.command.begin() + 1, options.command.end());
  run_options.timeout = RunTimeout(run_options.load_args);

  const std::vector<TrySetting> baseline = HostBaseline(ProcFs("/"), *settings);
  // Progress only for a person watching: a pipe or a test reads the result alone.
  const bool progress = isatty(STDERR_FILENO) == 1;
  std::vector<TryRun> runs;
  std::vector<std::string> order;
  const uint64_t total = options.repeat * 2;
  for (uint64_t i = 0; i < total; ++i) {
    const char side = i % 2 == 0 ? 'A' : 'B';
    if (progress) {
      std::fprintf(stderr, "%s: run %llu/%llu (%c) ...\n", std::string(kProgram).c_str(),
                   static_cast<unsigned long long>(i + 1), static_cast<unsigned long long>(total),
                   side);
    }
    TryRun run = RunSide(side, baseline, *settings, run_options);
    if (i == 0) {
      for (const std::string& name : run.not_copied) {
        std::fprintf(stderr,
                     "%s: note: a new namespace refused this host's %s; both runs keep "
                     "the namespace's default\n",
                     std::string(kProgram).c_str(), name.c_str());
      }
    }
    if (run.load_exit == 2 && run.load.is_null()) {
      // The load refused its flags: the same in both namespaces, so say it once.
      std::string line = run.load_err.substr(0, run.load_err.find('\n'));
      return cli::ReportError(kProgram, absl::StrCat("the load after '--' was refused: ", line), 2,
                              options.json);
    }
    if (!run.error.empty() || run.load.is_null()) {
      return cli::ReportFailure(kProgram,
                                absl::InternalError(absl::StrCat(
                                    "run ", i + 1, " (", std::string(1, side),
                                    "): ", run.error.empty() ? "no load result" : run.error)),
                                options.json);
    }
    order.push_back(std::string(1, side));
    runs.push_back(std::move(run));
  }
  std::vector<const nlohmann::json*> a_runs, b_runs;
  for (const TryRun& run : runs) {
    (run.side == 'A' ? a_runs : b_runs).push_back(&run.load);
  }
  SideSummary a = Summarize(a_runs);
  SideSummary b = Summarize(b_runs);
  if (options.json) {
    std::string text =
        ComparisonToJson(*settings, baseline, run_options.load_args, runs, a, b).dump(2);
    std::fprintf(stdout, "%s\n", text.c_str());
  } else {
    std::string text = ComparisonToText(*settings, run_options.load_args, absl::StrJoin(order, " "),
                                        a, b, TerminalWidth(STDOUT_FILENO));
    std::fputs(text.c_str(), stdout);
  }
  std::fflush(stdout);
  return 0;
}

}  // namespace socklab::client

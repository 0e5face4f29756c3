#include "client/tune/tune_options.h"

#include <filesystem>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "core/base/status.h"
#include "core/net/address.h"

namespace socklab::client {

absl::Status TuneOptions::Validate() const {
  std::error_code ec;
  if (root.empty() || !std::filesystem::is_directory(root, ec)) {
    return UsageError(absl::StrCat("--root '", root, "' is not a directory"),
                      "point it at / or at a tree holding proc/sys/...");
  }
  if (absl::Status valid = ValidateTry(); !valid.ok()) {
    return valid;
  }
  if (!plan && !from_plan) {
    if (any_plan_flag || !sysctl_file.empty()) {
      return UsageError(
          "--connections, --conn-rate, --target, --source-ips, --backlog and --sysctl-file "
          "describe a plan",
          "add --plan");
    }
    return absl::OkStatus();
  }
  absl::StatusOr<PlanOptions> plan_options = ToPlanOptions();
  if (!plan_options.ok()) {
    return plan_options.status();
  }
  return plan_options->Validate();
}

absl::Status TuneOptions::ValidateTry() const {
  if (!trying()) {
    if (!command.empty()) {
      return UsageError(
          absl::StrCat("'", command.front(), "' after tune: only --try runs a command"),
          "add --try NAME=VALUE or --from-plan, e.g. socklab tune --try "
          "net.ipv4.tcp_tw_reuse=1 -- load -c 200 --churn 1 -d 10s");
    }
    return absl::OkStatus();
  }
  if (command.empty() || command.front() != "load") {
    return UsageError("--try compares runs of socklab load: it needs '-- load FLAGS...'",
                      "e.g. socklab tune --try net.ipv4.tcp_tw_reuse=1 -- load -c 200 --churn 1 "
                      "-d 10s");
  }
  if (command.size() > 1 && !absl::StartsWith(command[1], "-")) {
    return UsageError(absl::StrCat("'", command[1],
                                   "' after '-- load': each namespace runs its "
                                   "own socklab-server, so the load takes no target"),
                      "drop it and keep the load's flags");
  }
  for (size_t i = 1; i < command.size(); ++i) {
    if (command[i] == "--json" || absl::StartsWith(command[i], "--json=")) {
      return UsageError("--json after '-- load': tune --try reads the load's JSON itself",
                        "put --json before '--' for the whole comparison as JSON");
    }
  }
  if (repeat == 0 || repeat > 100) {
    return UsageError(absl::StrCat("--repeat ", repeat, " is out of range"),
                      "give 1 to 100 runs per side");
  }
  if (plan) {
    return UsageError("--plan and --try are two reports",
                      "use --from-plan to try what the plan "
                      "suggests, or run them one at a time");
  }
  if (from_plan && !tries.empty()) {
    return UsageError("--from-plan and --try both name the settings", "use one of them");
  }
  if (!from_plan && any_plan_flag) {
    return UsageError(
        "--connections, --conn-rate, --target, --source-ips and --backlog describe "
        "a plan",
        "add --from-plan to try its suggestions");
  }
  if (root != "/") {
    return UsageError("--root with --try: the runs take this host's values", "drop --root");
  }
  if (!sysctl_file.empty()) {
    return UsageError("--sysctl-file with --try", "write the file with --plan first, then try it");
  }
  return absl::OkStatus();
}

absl::StatusOr<PlanOptions> TuneOptions::ToPlanOptions() const {
  PlanOptions options;
  options.connections = connections;
  options.conn_rate = conn_rate;
  options.source_ips = source_ips;
  options.backlog = backlog;
  if (target.empty()) {
    return UsageError("--plan needs --target ADDR:PORT", "e.g. --target 127.0.0.1:7007");
  }
  absl::StatusOr<SocketAddress> address = SocketAddress::Parse(target);
  if (!address.ok()) {
    // Parse's message already carries the accepted forms.
    return absl::InvalidArgumentError(absl::StrCat("--target: ", address.status().message()));
  }
  if (address->port() == 0) {
    return UsageError(absl::StrCat("--target '", target, "' has no port"),
                      "use ADDR:PORT, e.g. 127.0.0.1:7007");
  }
  options.target = *address;
  return options;
}

}  // namespace socklab::client

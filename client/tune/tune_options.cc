#include "client/tune/tune_options.h"

#include <filesystem>

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
  if (!plan) {
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

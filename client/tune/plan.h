#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "core/limits/derivations.h"
#include "core/limits/kernel_limits.h"
#include "core/net/address.h"
#include "core/net/error_class.h"

namespace socklab::client {

// A planned workload, as `socklab tune --plan` takes it: `connections` held open to `target`
// while `conn_rate` new connections per second replace ones the client closes (the client
// closing first, as `socklab load --churn` does, leaves the TIME_WAIT on the client).
// Plain value, copied into the Plan; thread affinity: none.
struct PlanOptions {
  uint64_t connections = 0;  // held open at once
  double conn_rate = 0;      // new connections/s; 0: open `connections` once, unpaced
  SocketAddress target;      // destination address:port
  uint64_t source_ips = 1;   // client source addresses spread over
  uint64_t backlog = 0;      // the server's listen() backlog; 0: the server asks for somaxconn
  // FDs the client process needs besides its connections (stdio, epoll/io_uring, timers).
  uint64_t reserved_fds = kFdsBesidesConnections;

  // UsageError for a plan that cannot be checked: no target, nothing to open, absurd values.
  absl::Status Validate() const;
};

enum class CheckStatus : uint8_t {
  kOk,      // fits
  kWarn,    // fits only under assumptions (worst cases, bursts); read the note
  kBreaks,  // the workload exceeds it
  // A limit of the server's host (a target on another machine): this machine cannot check it;
  // `fix` says what to look at there. Never a sysctl line for this machine.
  kOnServer,
};
// "ok", "warn", "breaks", "on server"
absl::string_view CheckStatusName(CheckStatus status);

// One limit held against the workload. Plain value owned by its Plan; thread affinity: none.
struct PlanCheck {
  std::string key;      // "ephemeral_ports", "nofile", ...
  std::string limit;    // the parameters involved: "net.ipv4.ip_local_port_range"
  double need = 0;      // what the workload needs, in `unit`
  double have = -1;     // what the machine gives; negative: unknown
  std::string unit;     // "ports", "fds", ...
  std::string formula;  // how `need` and `have` were computed, with the numbers
  CheckStatus status = CheckStatus::kOk;
  // The error the workload meets when it breaks: {kConnect, kAddrNotAvail} is connect
  // EADDRNOTAVAIL. No class: exceeding this limit fails no call (see `symptom`).
  Phase error_phase = Phase::kConnect;
  std::optional<ErrorClass> error_class;
  std::string symptom;                    // what the user sees, in words
  std::string fix;                        // the exact fix, in words and commands
  std::vector<std::string> sysctl_lines;  // "net.ipv4.ip_local_port_range = 1024 65535"
  std::vector<std::string> shell_lines;   // "ulimit -n 65536" (not sysctls)

  double ratio() const { return have > 0 ? need / have : (need > 0 && have == 0 ? 1e18 : 0); }
  // "connect EADDRNOTAVAIL": PhaseName and ClassLabel of the error; "none" without one.
  std::string ErrorText() const;
};

// The verdict on one workload. Owns its options and checks (no references into the KernelLimits
// it was made from). Thread affinity: none; not synchronized, so share it read-only.
struct Plan {
  PlanOptions options;
  bool loopback_target = false;  // the server runs on this host (fds, file-max count twice)
  std::string assumptions;       // one paragraph stating the model
  // Every check, most exceeded first (need/have descending). When the workload is scaled up
  // from zero in proportion, the first kBreaks check is the limit it hits first.
  std::vector<PlanCheck> checks;

  // The first check that breaks, or nullptr when the plan fits. Points into `checks`: valid while
  // this Plan lives and `checks` is not modified.
  const PlanCheck* FirstBreak() const;
  // The sysctl lines of every breaking check (and of warn checks), without duplicates.
  std::vector<std::string> SuggestedSysctls() const;
};

// Holds `options` (must be valid) against `limits`. Pure: reads nothing, changes nothing.
// Thread affinity: none.
Plan MakePlan(const PlanOptions& options, const KernelLimits& limits);

// The sysctl.d snippet for `plan`: a comment header naming the workload and how to apply it,
// one "name = value" line per suggested setting, and the non-sysctl fixes (ulimit) as comments.
std::string SysctlSnippet(const Plan& plan, absl::string_view command_line);

}  // namespace socklab::client

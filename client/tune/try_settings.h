#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "client/tune/plan.h"
#include "core/sysinfo/proc_fs.h"

namespace socklab::client {

// What `socklab tune --try` compares: each setting with the value in force on this host (run A)
// and the proposed one (run B). Plain values; thread affinity: none.
struct TrySetting {
  enum class Kind : uint8_t {
    kNetnsSysctl,  // a net.* sysctl with a copy in every network namespace: written there
    kNofile,       // RLIMIT_NOFILE: applied to the server and load processes it starts
  };
  Kind kind = Kind::kNetnsSysctl;
  std::string name;      // "net.ipv4.tcp_tw_reuse", or "nofile"
  std::string current;   // this host's value, as /proc/sys prints it (tabs become spaces)
  std::string proposed;  // as given
  // "tcp_tw_reuse=1": the name without its net.ipv4./net.core. prefix, for the verdict line.
  std::string ShortForm() const;
};

// Parses one --try argument, "NAME=VALUE" ("net.ipv4.ip_local_port_range=1024 65535",
// "nofile=65536"), and classifies NAME. Parameters that are not per network namespace
// (fs.file-max, fs.nr_open, net.ipv4.tcp_mem, net.core.rmem_max, kernel.*, ...) are refused with
// a UsageError naming why and what to do instead: trying them would change the host. Does not
// read the host's value (see ReadCurrentValues).
absl::StatusOr<TrySetting> ParseTrySetting(absl::string_view text);

// The settings the plan suggests ("name = value" sysctl lines and "ulimit -n N"), as --try
// arguments would give them. `skipped` receives one line per suggestion that cannot be tried in
// a namespace, with the reason.
std::vector<std::string> TryArgumentsFromPlan(const Plan& plan, std::vector<std::string>* skipped);

// Fills each setting's `current` from `proc` (sysctls) and getrlimit (nofile); checks a nofile
// value against fs.nr_open and refuses a parameter given twice.
absl::Status ReadCurrentValues(const ProcFs& proc, std::vector<TrySetting>* settings);

// This host's values of the per-namespace parameters socklab tune reads (as
// core/limits/kernel_limits.cc does) that `settings` does not name, as settings whose proposed
// value is the current one. Both runs start from them, so that A is this host and B differs from
// it only in the tried settings: a new namespace would otherwise start from the kernel's defaults
// (tcp_tw_reuse=2, ip_local_port_range 32768 60999, somaxconn 4096, ...) whatever this host uses.
std::vector<TrySetting> HostBaseline(const ProcFs& proc, const std::vector<TrySetting>& settings);

// In a throwaway network namespace: each sysctl exists there and takes both values. A sysctl
// absent there is not per namespace on this kernel (a UsageError saying so); a value the kernel
// rejects is a UsageError naming it and the errno. Forks; call single-threaded.
absl::Status CheckSettingsInNamespace(const std::vector<TrySetting>& settings);

}  // namespace socklab::client

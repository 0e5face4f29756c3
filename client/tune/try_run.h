#pragma once

#include <string>
#include <vector>

#include "absl/time/time.h"
#include "client/tune/try_settings.h"
#include "nlohmann/json.hpp"

namespace socklab::client {

// One side of a `socklab tune --try` comparison, run in a network namespace of its own.
// Plain values; thread affinity: none.
struct TryRunOptions {
  std::string socklab_path;            // the socklab binary that runs `load`
  std::string server_path;             // socklab-server
  std::vector<std::string> load_args;  // the load's flags, without "load" and without a target
  absl::Duration timeout;              // the whole run is killed after this long
};

struct TryRun {
  char side = 'A';       // 'A': this host's values, 'B': the proposed ones
  nlohmann::json load;   // the load's --json result; null when there is none
  int load_exit = -1;    // socklab load's exit code (2: it refused its flags)
  std::string load_err;  // what the load printed on stderr (its error line)
  std::string error;     // why the run produced no result (empty when it did)
  // Baseline parameters the namespace refused this host's value of (it keeps its default).
  std::vector<std::string> not_copied;
};

// Forks a child that creates a fresh network namespace, writes `baseline` (this host's values)
// and then the side's values of `settings` there, starts socklab-server on 127.0.0.1 (on a port
// outside the side's ephemeral range) and runs `socklab load` against it with the side's
// RLIMIT_NOFILE, then kills the server. The namespace lives only as long as that child and its
// programs (all die with their parent), so it is gone when this returns, and also when socklab is
// interrupted or killed. Nothing outside the namespace is written. Blocks; call from a
// single-threaded process (forks).
TryRun RunSide(char side, const std::vector<TrySetting>& baseline,
               const std::vector<TrySetting>& settings, const TryRunOptions& options);

}  // namespace socklab::client

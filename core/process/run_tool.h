#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace socklab {

// Runs a program (a path, or a name looked up in the directories of $PATH and then /usr/sbin and
// /sbin) with `args`, stdin from /dev/null, waits up to `timeout`, and returns its combined
// stdout+stderr; a non-zero exit is an error carrying that output, a missing program NotFound.
// On the timeout the program is killed (SIGKILL) and reaped; it also dies with the caller
// (PR_SET_PDEATHSIG). Used inside a private namespace for `nft`, `ip` and `tc`. Thread
// affinity: none (the child only calls async-signal-safe functions before exec).
absl::StatusOr<std::string> RunTool(const std::vector<std::string>& args,
                                    absl::Duration timeout = absl::Seconds(10));

}  // namespace socklab

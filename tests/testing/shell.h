#pragma once

#include <optional>
#include <string>

namespace socklab::testing {

// Runs `command` through /bin/sh, as a person would check a value (`sysctl -n NAME`,
// `ulimit -n`): its standard output without surrounding white space, or nullopt when it cannot
// start or exits non-zero. Standard error is left as it is (add 2>/dev/null to the command).
// Thread affinity: none; blocks until the command exits.
std::optional<std::string> ShellOutput(const std::string& command);

}  // namespace socklab::testing

#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace socklab::testing {

// What a command run through /bin/sh printed on its standard output, whole, and its exit code
// (-1 when it could not start or did not exit).
struct ShellRun {
  int exit_code = -1;
  std::string out;
};

// Runs `command` through /bin/sh; standard error is left as it is (add 2>&1 or 2>/dev/null to the
// command). Thread affinity: none; blocks until the command exits.
ShellRun RunShell(const std::string& command);

// As a person would check a value (`sysctl -n NAME`, `ulimit -n`): the standard output without
// surrounding white space, or nullopt when the command cannot start or exits non-zero.
std::optional<std::string> ShellOutput(const std::string& command);

// The TCP flags byte of every frame of a capture file, as tshark reads it (empty when tshark
// is not installed or cannot read the file): the witness for a capture socklab wrote.
std::vector<uint8_t> TsharkTcpFlags(const std::string& pcap_path);

}  // namespace socklab::testing

#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace socklab {

// Reads kernel settings below a root directory: "/" on a real machine, a fixture tree in tests.
// Thread affinity: none (holds only the root path; every read opens and closes its own fd).
class ProcFs {
 public:
  explicit ProcFs(std::string root = "/") : root_(std::move(root)) {}

  const std::string& root() const { return root_; }

  // Whole file below the root: ReadFile("proc/net/snmp"). Errors name the full path.
  absl::StatusOr<std::string> ReadFile(absl::string_view relative_path) const;

  // A sysctl by its dotted name: "net.ipv4.tcp_fin_timeout" -> proc/sys/net/ipv4/tcp_fin_timeout,
  // trimmed of surrounding white space.
  absl::StatusOr<std::string> ReadSysctl(absl::string_view name) const;
  // A sysctl holding one or more integers separated by white space ("32768\t60999").
  absl::StatusOr<std::vector<int64_t>> ReadSysctlInts(absl::string_view name) const;
  absl::StatusOr<int64_t> ReadSysctlInt(absl::string_view name) const;

 private:
  std::string root_;
};

}  // namespace socklab

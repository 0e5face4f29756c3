#pragma once

#include <cstdint>
#include <string>

#include "core/sysinfo/proc_fs.h"
#include "nlohmann/json_fwd.hpp"

namespace socklab {

// What every report states first about the machine it ran on. Read from a ProcFs below another
// root (tune --root), it holds only what that tree gives: the rest stays unknown, never this
// host's.
struct MachineInfo {
  std::string kernel_release;  // uname -r (kernel.osrelease in a tree); "": unknown
  int cpus = 0;                // CPUs this process may run on; 0: unknown
  uint64_t nofile_soft = 0;    // RLIMIT_NOFILE; 0: unknown
  uint64_t nofile_hard = 0;
  std::string root;        // the tree's root when not "/" (said in the text)
  int64_t somaxconn = -1;  // -1: unreadable
  int64_t port_range_low = -1;
  int64_t port_range_high = -1;
  int64_t io_uring_disabled = -1;  // kernel.io_uring_disabled (6.6+); -1: no such sysctl
};

MachineInfo ReadMachineInfo(const ProcFs& proc = ProcFs());

// "kernel 6.1.0 cpus 2 nofile 1024/1048576 somaxconn 4096 ports 32768-60999"; unknown values
// as "?", and " (read below ROOT)" for a tree.
std::string MachineInfoToText(const MachineInfo& info);
nlohmann::json MachineInfoToJson(const MachineInfo& info);

}  // namespace socklab

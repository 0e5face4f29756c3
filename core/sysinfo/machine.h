#pragma once

#include <cstdint>
#include <string>

#include "core/sysinfo/proc_fs.h"
#include "nlohmann/json_fwd.hpp"

namespace socklab {

// What every report states first about the machine it ran on.
struct MachineInfo {
  std::string kernel_release;  // uname -r
  int cpus = 0;                // CPUs this process may run on
  uint64_t nofile_soft = 0;    // RLIMIT_NOFILE
  uint64_t nofile_hard = 0;
  int64_t somaxconn = -1;      // -1: unreadable
  int64_t port_range_low = -1;
  int64_t port_range_high = -1;
  int64_t io_uring_disabled = -1;  // kernel.io_uring_disabled (6.6+); -1: no such sysctl
};

MachineInfo ReadMachineInfo(const ProcFs& proc = ProcFs());

// "kernel 6.1.0 cpus 2 nofile 1024/1048576 somaxconn 4096 ports 32768-60999"
std::string MachineInfoToText(const MachineInfo& info);
nlohmann::json MachineInfoToJson(const MachineInfo& info);

}  // namespace socklab

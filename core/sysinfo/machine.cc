#include "core/sysinfo/machine.h"

#include <sched.h>
#include <sys/resource.h>
#include <sys/utsname.h>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"

namespace socklab {

MachineInfo ReadMachineInfo(const ProcFs& proc) {
  MachineInfo info;
  utsname uts{};
  if (uname(&uts) == 0) {
    info.kernel_release = uts.release;
  }
  cpu_set_t set;
  CPU_ZERO(&set);
  info.cpus = sched_getaffinity(0, sizeof(set), &set) == 0 ? CPU_COUNT(&set) : 1;
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0) {
    info.nofile_soft = limit.rlim_cur;
    info.nofile_hard = limit.rlim_max;
  }
  info.somaxconn = proc.ReadSysctlInt("net.core.somaxconn").value_or(-1);
  if (auto range = proc.ReadSysctlInts("net.ipv4.ip_local_port_range");
      range.ok() && range->size() == 2) {
    info.port_range_low = (*range)[0];
    info.port_range_high = (*range)[1];
  }
  info.io_uring_disabled = proc.ReadSysctlInt("kernel.io_uring_disabled").value_or(-1);
  return info;
}

std::string MachineInfoToText(const MachineInfo& info) {
  return absl::StrCat("kernel ", info.kernel_release, " cpus ", info.cpus, " nofile ",
                      info.nofile_soft, "/", info.nofile_hard, " somaxconn ", info.somaxconn,
                      " ports ", info.port_range_low, "-", info.port_range_high);
}

nlohmann::json MachineInfoToJson(const MachineInfo& info) {
  return {{"kernel_release", info.kernel_release},
          {"cpus", info.cpus},
          {"nofile_soft", info.nofile_soft},
          {"nofile_hard", info.nofile_hard},
          {"somaxconn", info.somaxconn},
          {"ip_local_port_range", {info.port_range_low, info.port_range_high}},
          {"io_uring_disabled", info.io_uring_disabled}};
}

}  // namespace socklab

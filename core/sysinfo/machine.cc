#include "core/sysinfo/machine.h"

#include <sched.h>
#include <sys/resource.h>
#include <sys/utsname.h>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"

namespace socklab {

MachineInfo ReadMachineInfo(const ProcFs& proc) {
  MachineInfo info;
  const bool this_host = proc.root() == "/" || proc.root().empty();
  if (this_host) {
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
  } else {
    // A tree from another machine (or a fixture): only what the tree holds, never this host's
    // uname, CPUs or rlimits mixed in. The CPU count is not in proc/sys: unknown.
    // RLIMIT_NOFILE of a tree is its proc/self/limits, which KernelLimits parses: callers that
    // read both copy it from there.
    info.root = proc.root();
    info.kernel_release = proc.ReadSysctl("kernel.osrelease").value_or("");
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

namespace {

template <typename T>
std::string Known(T value, bool known) {
  return known ? absl::StrCat(value) : "?";
}

}  // namespace

std::string MachineInfoToText(const MachineInfo& info) {
  std::string text = absl::StrCat(
      "kernel ", info.kernel_release.empty() ? "?" : info.kernel_release, " cpus ",
      Known(info.cpus, info.cpus > 0), " nofile ", Known(info.nofile_soft, info.nofile_soft > 0),
      "/", Known(info.nofile_hard, info.nofile_hard > 0), " somaxconn ",
      Known(info.somaxconn, info.somaxconn >= 0), " ports ",
      info.port_range_low >= 0 ? absl::StrCat(info.port_range_low, "-", info.port_range_high)
                               : "?");
  if (!info.root.empty()) {
    absl::StrAppend(&text, " (read below ", info.root, ")");
  }
  return text;
}

nlohmann::json MachineInfoToJson(const MachineInfo& info) {
  nlohmann::json json = {{"kernel_release", info.kernel_release},
                         {"cpus", info.cpus},
                         {"nofile_soft", info.nofile_soft},
                         {"nofile_hard", info.nofile_hard},
                         {"somaxconn", info.somaxconn},
                         {"ip_local_port_range", {info.port_range_low, info.port_range_high}},
                         {"io_uring_disabled", info.io_uring_disabled}};
  if (!info.root.empty()) {
    json["root"] = info.root;
  }
  return json;
}

}  // namespace socklab

#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>

namespace socklab::testing {

// VmRSS of a process in KiB, from /proc/PID/status (the kernel's count, not the process's own);
// -1 when unreadable (the process is gone). `pid` is a number or "self". Thread affinity: none.
int64_t VmRssKiB(const std::string& pid = "self");
int64_t VmRssKiB(pid_t pid);

}  // namespace socklab::testing

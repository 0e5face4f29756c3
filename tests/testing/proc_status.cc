#include "tests/testing/proc_status.h"

#include <fstream>

namespace socklab::testing {

int64_t VmRssKiB(const std::string& pid) {
  std::ifstream in("/proc/" + pid + "/status");
  std::string key;
  while (in >> key) {
    if (key == "VmRSS:") {
      int64_t kib = -1;
      in >> kib;
      return kib;
    }
    std::getline(in, key);
  }
  return -1;
}

int64_t VmRssKiB(pid_t pid) { return VmRssKiB(std::to_string(pid)); }

}  // namespace socklab::testing

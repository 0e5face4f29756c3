#include "client/load/load_limits.h"

#include <sys/resource.h>

#include <algorithm>
#include <cstdint>

#include "absl/strings/str_cat.h"
#include "core/limits/limit_hints.h"

namespace socklab::client {

std::vector<std::string> CheckLoadLimits(const LoadOptions& options, int threads) {
  std::vector<std::string> notes;
  const uint64_t needed = options.connections + kFdsBesidesConnections + 4u * threads;
  rlimit limit = {};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY &&
      limit.rlim_cur < needed) {
    const rlim_t raised = limit.rlim_max == RLIM_INFINITY
                              ? static_cast<rlim_t>(needed)
                              : std::min<rlim_t>(limit.rlim_max, static_cast<rlim_t>(needed));
    if (raised > limit.rlim_cur) {
      rlimit wanted = {raised, limit.rlim_max};
      if (setrlimit(RLIMIT_NOFILE, &wanted) == 0) {
        limit.rlim_cur = raised;
      }
    }
    if (limit.rlim_cur < needed) {
      const uint64_t room = limit.rlim_cur > kFdsBesidesConnections + 4u * threads
                                ? limit.rlim_cur - kFdsBesidesConnections - 4u * threads
                                : 0;
      notes.push_back(absl::StrCat(
          "-c ", options.connections, " needs about ", needed, " fds but RLIMIT_NOFILE is ",
          limit.rlim_cur, " (hard ", limit.rlim_max, "): about ", options.connections - room,
          " connections cannot open and are retried with backoff (socket EMFILE); raise the "
          "limit (ulimit -Hn ",
          needed, ") or lower -c"));
    }
  }
  const KernelLimits& kernel = ThisMachineLimits();
  if (kernel.port_range_low != KernelLimits::kUnknown &&
      kernel.port_range_high != KernelLimits::kUnknown) {
    const int64_t sources = std::max<int64_t>(1, static_cast<int64_t>(options.sources.size()));
    const int64_t ports = (kernel.port_range_high - kernel.port_range_low + 1) * sources;
    if (static_cast<int64_t>(options.connections) > ports) {  // Validate() bounded it
      notes.push_back(absl::StrCat(
          "-c ", options.connections, " exceeds the ", ports,
          " local ports towards one target (net.ipv4.ip_local_port_range",
          sources > 1 ? " x source addresses" : "",
          "): the connections beyond fail with "
          "connect EADDRNOTAVAIL and are retried; add source addresses with --source-ips"));
    }
  }
  return notes;
}

}  // namespace socklab::client

#pragma once

#include <string>
#include <vector>

#include "client/load/load_options.h"

namespace socklab::client {

// File descriptors a run needs besides its connections: stdio, each loop thread's ring or epoll
// fd with its wake and timer fds, netlink and /proc reads, the report files.
inline constexpr int kFdsBesidesConnections = 32;

// Checks -c against this process's fd limit and the local port range before a run. Raises the
// soft RLIMIT_NOFILE towards the hard one when the run needs more (what a load tool is expected
// to do for its own process); returns one line per limit that will still bite, saying what will
// happen and what to change. Empty when nothing will. Thread affinity: before the run starts.
std::vector<std::string> CheckLoadLimits(const LoadOptions& options, int threads);

}  // namespace socklab::client

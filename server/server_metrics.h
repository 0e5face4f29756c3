#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "server/server_stats.h"

namespace socklab::server {

// What a --metrics scrape shows of the server, besides the counters.
struct MetricsContext {
  std::string backend;  // "io_uring", "epoll"
  std::string version;
  uint16_t port = 0;  // the listener's: its sockets' TCP states are tallied
};

// One scrape of socklab-server in the Prometheus text format: every counter of each loop
// (`loop` label; sum() across loops gives the server's), errors by phase, class and errno, the
// TCP states of the listener's own sockets (socklab_server_connection_states, read over netlink
// now), process_open_fds and process_max_fds. `per_loop` is one snapshot per worker, index =
// loop. Thread affinity: none (the snapshots are copies; the states are read on the caller's
// thread).
std::string ServerMetricsText(const std::vector<StatsSnapshot>& per_loop,
                              const MetricsContext& context);

}  // namespace socklab::server

#pragma once

#include <cstdint>

#include "absl/strings/string_view.h"
#include "core/metrics/exposition.h"
#include "core/tcpstat/tally.h"

namespace socklab::metrics {

// Families every socklab endpoint shares, under the names dashboards already chart.

// process_open_fds (entries of /proc/self/fd) and process_max_fds (RLIMIT_NOFILE's soft limit),
// as Prometheus' own client libraries name them. A failed read leaves the family out with a
// comment saying why. Thread affinity: none.
void AppendProcessFds(Exposition* out);

// `name`{state="established"} ... one gauge sample per reported TCP state (zeros included, so
// every scrape has the same series), with node_exporter's lower-case state names
// (node_tcp_connection_states).
void AppendConnectionStates(Exposition* out, absl::string_view name, absl::string_view help,
                            const tcpstat::StateTally& tally);

// AppendConnectionStates for the sockets whose local port is `port` (a listener's: its own
// sockets, not those of clients on this host that connect to it), read over netlink sock_diag.
// A failed read leaves the family out with a comment saying why. Thread affinity: none; reads
// the calling thread's network namespace.
void AppendLocalPortStates(Exposition* out, absl::string_view name, absl::string_view help,
                           uint16_t port);

}  // namespace socklab::metrics

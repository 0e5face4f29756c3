#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"
#include "core/sysinfo/proc_fs.h"

namespace socklab {

// Every kernel parameter and process limit that decides how many TCP connections this machine
// can hold or open per second, and how its errors behave. Read once (ReadKernelLimits) and passed
// by value to the formulas (core/limits/derivations.h), hints (limit_hints.h) and plans.
//
// A value the kernel does not expose (older kernel, module not loaded, fixture without the file)
// is kUnknown; every consumer must treat it as "do not know", never as zero.
// Thread affinity: none (plain value).
struct KernelLimits {
  static constexpr int64_t kUnknown = -1;

  // Listen side.
  int64_t somaxconn = kUnknown;              // net.core.somaxconn: cap on listen(backlog)
  int64_t tcp_max_syn_backlog = kUnknown;    // SYN (request) queue
  int64_t tcp_syncookies = kUnknown;         // 0 off, 1 when the SYN queue overflows, 2 always
  int64_t tcp_abort_on_overflow = kUnknown;  // 1: RST instead of dropping on a full accept queue
  int64_t netdev_max_backlog = kUnknown;     // per-CPU input queue of received packets

  // Client side: ports and TIME_WAIT.
  int64_t port_range_low = kUnknown;  // net.ipv4.ip_local_port_range, inclusive
  int64_t port_range_high = kUnknown;
  // net.ipv4.ip_local_reserved_ports as inclusive ranges ("8080,9000-9009").
  std::vector<std::pair<int64_t, int64_t>> reserved_ports;
  bool reserved_ports_known = false;
  int64_t tcp_tw_reuse = kUnknown;           // 0 off, 1 on, 2 loopback only (current default)
  int64_t tcp_tw_reuse_delay_ms = kUnknown;  // 6.13+: TIME_WAIT age before reuse; 1000 ms before
  int64_t tcp_timestamps = kUnknown;         // tw_reuse needs them (1 or 2)
  int64_t tcp_fin_timeout = kUnknown;        // FIN_WAIT2 only; TIME_WAIT is fixed at 60 s
  int64_t tcp_max_tw_buckets = kUnknown;     // TIME_WAIT sockets beyond this are destroyed at once
  int64_t ip_unprivileged_port_start = kUnknown;

  // Timers.
  int64_t tcp_syn_retries = kUnknown;
  // 6.5+ (commit ccce324dabfe): the first N SYN retransmissions keep the initial 1 s RTO, and
  // SYN_SENT may retransmit tcp_syn_retries + N times. Absent on older kernels (kUnknown), which
  // behave as 0: every SYN RTO doubles. Use SynLinearTimeouts() (derivations.h), not the field.
  int64_t tcp_syn_linear_timeouts = kUnknown;
  int64_t tcp_synack_retries = kUnknown;
  int64_t tcp_retries2 = kUnknown;
  // 6.15+: the ceiling of every retransmission timeout, ms (1000..120000). Absent (kUnknown) on
  // older kernels, where it is the compiled-in TCP_RTO_MAX of 120 s. Use RtoMaxSeconds().
  int64_t tcp_rto_max_ms = kUnknown;
  int64_t tcp_keepalive_time = kUnknown;  // seconds
  int64_t tcp_keepalive_intvl = kUnknown;
  int64_t tcp_keepalive_probes = kUnknown;

  // Memory. tcp_rmem/tcp_wmem are bytes {min, default, max}; tcp_mem is pages {low, pressure,
  // high}.
  std::array<int64_t, 3> tcp_rmem = {kUnknown, kUnknown, kUnknown};
  std::array<int64_t, 3> tcp_wmem = {kUnknown, kUnknown, kUnknown};
  std::array<int64_t, 3> tcp_mem = {kUnknown, kUnknown, kUnknown};
  int64_t rmem_max = kUnknown;  // net.core.rmem_max: cap on SO_RCVBUF
  int64_t wmem_max = kUnknown;
  int64_t page_size = 4096;

  // File descriptors.
  int64_t nofile_soft = kUnknown;  // RLIMIT_NOFILE of this process (RLIM_INFINITY as INT64_MAX)
  int64_t nofile_hard = kUnknown;
  int64_t nr_open = kUnknown;   // fs.nr_open: the most RLIMIT_NOFILE can be raised to
  int64_t file_max = kUnknown;  // fs.file-max: open files in the whole system

  int64_t io_uring_disabled = kUnknown;  // kernel.io_uring_disabled (6.6+)

  // nf_conntrack: only when the module is loaded (the sysctl exists).
  bool conntrack_loaded = false;
  int64_t nf_conntrack_max = kUnknown;
  int64_t nf_conntrack_count = kUnknown;
  // How long conntrack keeps a closed flow's entry (TIME_WAIT), seconds; 120 by default.
  int64_t nf_conntrack_time_wait = kUnknown;
};

// Reads every field below `proc`'s root. RLIMIT_NOFILE comes from getrlimit() for the real root
// "/" and from <root>/proc/self/limits for a fixture tree. Missing files leave kUnknown; this never
// fails. Thread affinity: none.
KernelLimits ReadKernelLimits(const ProcFs& proc = ProcFs());

// "8080,9000-9009" -> {{8080,8080},{9000,9009}}; malformed pieces are skipped (pure).
std::vector<std::pair<int64_t, int64_t>> ParsePortRanges(absl::string_view text);

// Parses the "Max open files" line of /proc/<pid>/limits into {soft, hard}; "unlimited" is
// INT64_MAX. {kUnknown, kUnknown} when absent (pure).
std::pair<int64_t, int64_t> ParseNofileFromLimits(absl::string_view limits_text);

}  // namespace socklab

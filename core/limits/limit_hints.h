#pragma once

#include <cstdint>
#include <string>

#include "core/limits/kernel_limits.h"
#include "core/net/error_class.h"

namespace socklab {

// What the caller knows about the workload that hit the error; every field is optional and
// only sharpens the numbers. Plain value; thread affinity: none.
struct HintContext {
  bool loopback_destination = false;  // tcp_tw_reuse=2 applies to loopback only
  int64_t source_addresses = 1;       // distinct client addresses in use
  int64_t requested_backlog = 0;      // the server's listen() backlog; 0: unknown
  // The failing bind() asked for port 0 (a client binding its source address before connect):
  // only then is a bind EADDRINUSE the port range running out rather than a taken port.
  bool bind_port_zero = false;
  // The client's own connect deadline (socklab load --connect-timeout), seconds; 0: unknown.
  // Sharpens the (connect, deadline) hint: how many SYNs went out before it fired.
  double connect_deadline_seconds = 0;
  // The port connect() went to (0: unknown): a recommended port range keeps it out
  // (RecommendedPortRange).
  uint16_t destination_port = 0;

  // What a run saw when its connect deadlines fired, to say whose they were. All kUnknown (-1)
  // by default: the hint then names the usual cause (the server's accept queue) as a guess.
  struct ConnectDeadlines {
    // Deadlines that fired after the kernel had completed the handshake (TCP_INFO state
    // ESTABLISHED): the client itself saw the answer too late. And those still in SYN_SENT.
    int64_t answered = kUnknownCount;
    int64_t unanswered = kUnknownCount;
    // The target's listener is on this machine, so this machine's TcpExt.ListenOverflows and
    // ListenDrops deltas over the run, and netlink's view of the listener (the longest accept
    // queue seen, and its limit), are the server's own.
    bool listener_local = false;
    int64_t listen_overflows = kUnknownCount;
    int64_t listen_drops = kUnknownCount;
    int64_t listener_queue_max = kUnknownCount;
    int64_t listener_backlog = kUnknownCount;
    // Errors of the client's own limits in the same run (fds, ports, socket memory).
    int64_t local_shortage_errors = 0;
  };
  static constexpr int64_t kUnknownCount = -1;
  ConnectDeadlines deadlines = {};
};

// One line naming the kernel limit that explains `error_class` seen in `phase`, with this
// machine's numbers and the fix, or "" when no limit explains it (ECONNREFUSED, EPIPE, ...).
// Examples:
//   connect EADDRNOTAVAIL: "ip_local_port_range 32768-60999 gives 28232 ports; at 60 s TIME_WAIT
//     that is 470 new connections/s to one destination; widen it (sysctl -w
//     net.ipv4.ip_local_port_range=\"1024 65535\"), enable net.ipv4.tcp_tw_reuse=1 or add
//     source addresses"
//   EMFILE: "RLIMIT_NOFILE is 1024 (hard 1048576): at most 1021 connections per process; raise it
//     with 'ulimit -n 1048576'"
//   connect deadline (ours, not the kernel's: --connect-timeout fires long before the SYN retries
//     give ETIMEDOUT, so a full accept queue shows up as this): whose it was, from
//     context.deadlines: the client's own lateness (the handshake had completed), the server's
//     accept queue (it overflowed), or SYNs lost on the way (no overflow on a local listener);
//     without that evidence the accept-queue hint, worded for the deadline.
// Cheap (string formatting only); call it once per error class, not per error.
// Thread affinity: none; `limits` is read, not kept.
std::string LimitHint(Phase phase, ErrorClass error_class, const KernelLimits& limits,
                      const HintContext& context = {});

// One line for a run whose connects mostly took a local port still in TIME_WAIT (`recycled`: the
// run's TcpExt.TWRecycled delta, over its `connects`): TIME_WAITs held the range toward the
// target, so the port range, not the target, bounded the rate of new connections. Until the range
// is small enough for connects to fail (EADDRNOTAVAIL) only the rate shows it. Ends with the
// connect EADDRNOTAVAIL hint's numbers and fixes unless `ports_named` (that hint is in the same
// report).
// "" when fewer than half recycled, or too few connects to tell. Cheap; thread affinity: none.
std::string PortRecycleHint(int64_t recycled, int64_t connects, bool ports_named,
                            const KernelLimits& limits, const HintContext& context = {});

// Convenience for front ends that report several errors: reads the limits of this machine
// (ReadKernelLimits()) on first use and keeps them for the life of the process.
// Thread-safe (the first call initializes a function-local static).
const KernelLimits& ThisMachineLimits();

}  // namespace socklab

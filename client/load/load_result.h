#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/stats/error_counts.h"
#include "core/stats/histogram.h"
#include "core/sysinfo/machine.h"
#include "core/sysinfo/tcp_counters.h"

namespace socklab::client {

// What a `socklab load` run was asked to do, as the reports state it first. Filled by the load
// engine from its options (core/stats does not depend on client/).
struct LoadConfig {
  std::string version;       // socklab's release (core/base/version.h)
  std::string command_line;  // as typed, when known
  std::string started_at;    // UTC, "2026-12-06T08:25:00Z"
  std::string target;
  std::string target_note;        // how the target was picked among several addresses, or empty
  std::string backend;            // the backend that ran: "epoll", "io_uring"
  std::string backend_requested;  // auto | epoll | io_uring
  std::string backend_fallback_reason;  // why auto chose epoll, else empty
  MachineInfo machine;
  int connections = 0;
  int threads = 0;
  int pipeline = 1;
  double rate = 0;          // messages/s in total; 0 = closed loop
  uint64_t churn = 0;       // reconnect after this many messages; 0 = never
  double connect_rate = 0;  // new connections/s cap; 0 = none
  std::string close_mode;   // fin | rst
  bool nodelay = true;      // TCP_NODELAY on the connections (false: --nagle)
  uint64_t size_min = 0;
  uint64_t size_max = 0;
  double duration_s = 0;  // 0 when bounded by messages
  uint64_t messages = 0;  // 0 when bounded by duration
  double warmup_s = 0;
  double connect_timeout_s = 0;
  double read_timeout_s = 0;
  std::string bind;
  std::string source_ips;
  uint64_t max_errors = 0;  // 0 = no limit
  // Limits this run will hit (fds, local ports), each as one line saying what will happen.
  std::vector<std::string> limit_notes;
  // --min-rate-ratio: the share of the schedule the run had to send; 0 = no check.
  double min_rate_ratio = 0;

  // One agent of several (--shard, --run-id, --start-at): `connections`, `rate` and `messages`
  // above are this agent's part; the totals are the whole load's.
  std::string run_id;
  int shard_index = 0;
  int shard_count = 1;
  int total_connections = 0;
  double total_rate = 0;
  uint64_t total_messages = 0;
  std::string start_at;  // RFC 3339 UTC, when --start-at was given
};

// One second of the run (the per-second time series).
struct LoadSecond {
  double t_s = 0;         // end of the interval, seconds since the start
  double interval_s = 1;  // its length (the last one of a run is usually shorter)
  bool warmup = false;
  uint64_t messages = 0;  // round trips completed in this interval
  uint64_t bytes_sent = 0;
  uint64_t bytes_received = 0;
  uint64_t errors = 0;
  uint64_t connects = 0;  // connections established in this interval
  int64_t open_connections = 0;
  // Round-trip latency of the messages completed in this interval, from its own histogram.
  int64_t p50_ns = 0;
  int64_t p99_ns = 0;
  int64_t p99_9_ns = 0;
  int64_t max_ns = 0;
  // Connect latency of the connections established in this interval (warmup included), from
  // its own histogram; 0 when none was.
  int64_t connect_p50_ns = 0;
  int64_t connect_p99_ns = 0;
  int64_t connect_max_ns = 0;
  // `errors` by cell, "phase label" as the summary names them ("connect ECONNREFUSED",
  // "data mismatch") -> count in this interval; only the non-zero ones. They sum to `errors`.
  std::vector<std::pair<std::string, uint64_t>> errors_by_class;
  // Per TCP state counts of the target port's sockets (only with --states), state -> count.
  std::vector<std::pair<std::string, int64_t>> states;
  // This interval's round-trip and connect histograms in HdrHistogram's compressed base64 form
  // (core/stats/hdr_codec.h), so agents' intervals add up exactly; empty when none was recorded.
  std::string rtt_histogram;
  std::string connect_histogram;
  // With --states: why this second's sample failed (then `states` is empty and the second's
  // states are unknown, not zero); empty otherwise.
  std::string states_error;
};

// Everything a run measured. Owned by the caller; rendering is in load_report.h.
//
// The measured window starts after --warmup and ends at the planned end (-d), at an abort or
// interrupt, or at the last echo of -n. A message belongs to it when its first byte was sent
// after the warmup: sent, completed, failed, bytes, data errors and latency count only those
// messages, and each of them is exactly one of completed, failed, a data error, or in flight at
// the end: sent = completed + failed + data_errors + in_flight_at_end. A message that was never
// sent is not counted at all. Connection counters (attempts, opened, connect latency) count
// attempts started after the warmup; those of the warmup are kept apart. Socket errors are
// events: those seen during the warmup are kept apart in `warmup_errors`.
struct LoadResult {
  LoadConfig config;

  // The measured window: from the end of the warmup to the planned end, the abort, or the last
  // echo of -n; never longer than asked for.
  double elapsed_s = 0;
  uint64_t messages_sent = 0;       // messages whose first byte was handed to the kernel
  uint64_t messages_completed = 0;  // full and correct echo received within the window
  uint64_t messages_failed = 0;     // lost to a connection error or deadline within the window
  // Sent within the window and not yet answered when it ended (echoed in the drain after it, or
  // not at all): neither completed nor failed.
  uint64_t messages_in_flight_at_end = 0;
  uint64_t bytes_sent = 0;
  uint64_t bytes_received = 0;
  // Echoed messages whose bytes differed from what was sent (not completions), plus receives of
  // bytes nobody sent (each such receive counts once).
  uint64_t data_errors = 0;
  uint64_t warmup_data_errors = 0;  // the same for messages sent during --warmup
  uint64_t connections_opened = 0;
  uint64_t connect_attempts = 0;
  uint64_t warmup_connections_opened = 0;  // attempts started during --warmup that succeeded
  uint64_t warmup_connect_attempts = 0;
  // The most connections open at once (all threads together, warmup included).
  int64_t peak_open_connections = 0;

  // Round trip from the intended send time (open loop: the schedule, coordinated omission
  // corrected); closed loop: from when the message was queued.
  Histogram rtt;
  // Open loop only: round trip from when the first byte was actually sent (what a naive tool
  // reports); empty in closed loop.
  Histogram rtt_uncorrected;
  // Open loop only: the messages the schedule asked for in the window (each connection's send
  // times in it, about -R x the window; at most -n), to compare with messages_sent: a schedule
  // the run could not keep is "not reached".
  uint64_t messages_scheduled = 0;
  // Open loop only: from each message's scheduled time to its first byte's send. The client's
  // own lateness (a busy loop thread, a late timer) or a full pipeline waiting for echoes; it is
  // part of `rtt`, and reported so that part can be told apart.
  Histogram send_lag;
  Histogram connect;

  ErrorCounts errors;         // socket errors in the measured window
  ErrorCounts warmup_errors;  // socket errors during --warmup (not in `errors`)
  int64_t start_ns = 0;  // monotonic; first_seen_ns in errors is relative to this when rendered
  std::vector<std::string> hints;  // one line per error class a kernel limit explains

  // The client process's own CPU time over the run (all its threads, from getrusage), and the
  // run's wall time from start to the last close: a client busy all the time limited the run.
  double client_cpu_user_s = 0;
  double client_cpu_system_s = 0;
  double wall_s = 0;

  bool kernel_counters_available = false;
  std::vector<CounterDelta> kernel;
  // How many machines' (network namespaces') deltas `kernel` adds up: 1 for a run, the agents
  // for `socklab merge`.
  int kernel_namespaces = 1;

  std::vector<LoadSecond> series;
  // Wall clock (unix ns) of start_ns and of the measured window's start: where the series and
  // the measured window sit in time, to align several agents' results.
  int64_t start_unix_ns = 0;
  int64_t measure_start_unix_ns = 0;
  // Test-only (LoadOptions::raw_latencies_path): every round trip the window counted, in ns.
  std::vector<int64_t> raw_rtt_ns;

  // Why the run stopped early ("max errors 10 exceeded", "could not reach the target"), or
  // empty when it ran its course.
  std::string abort_reason;
};

}  // namespace socklab::client

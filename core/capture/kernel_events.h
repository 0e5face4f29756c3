#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace socklab {

// One TCP event of the kernel's tracepoints: a state change (sock:inet_sock_set_state), a reset
// sent with the kernel's reason (tcp:tcp_send_reset) or received (tcp:tcp_receive_reset), a
// retransmission (tcp:tcp_retransmit_skb, tcp:tcp_retransmit_synack). Plain data.
struct KernelEvent {
  // The trace's own clock as ParseTraceLine reads it; CLOCK_MONOTONIC once Read has mapped it.
  int64_t monotonic_ns = 0;
  std::string name;  // the tracepoint: "inet_sock_set_state"
  std::string src;   // "127.0.0.1:40000": the socket's local end (the RST's source)
  std::string dst;
  uint16_t sport = 0;
  uint16_t dport = 0;
  // What it means: "SYN_SENT -> ESTABLISHED", "RST sent (reason NO_SOCKET)", "RST received",
  // "retransmission (state SYN_SENT)", "SYN/ACK retransmission".
  std::string text;
  // The same in fields: state changes' "SYN_SENT" and "ESTABLISHED"; a retransmission's or a
  // sent reset's socket state ("" for a reset sent without a socket); a sent reset's reason
  // ("NO_SOCKET", as the kernel names it in enum sk_rst_reason).
  std::string old_state;
  std::string new_state;
  std::string state;
  std::string reason;
};

// Parses one line of a trace instance's `trace` file; nullopt for comments and other events.
// Pure.
std::optional<KernelEvent> ParseTraceLine(absl::string_view line);

// A private tracefs instance (instances/socklab-PID) with the five TCP tracepoints enabled,
// narrowed to a growing set of ports (the kernel filters those events
// that have port fields; tcp_send_reset has only addresses, so Read filters it). tracepoints are
// global: other namespaces' sockets on the same ports would show too. Needs root. When tracefs
// is not mounted, it is mounted in a private mount namespace of the calling process, which must
// therefore be a process of its own (a RunInChild child): the host's mounts are never touched.
// The destructor removes the instance; instances left by processes that died are removed by the
// next Open. Thread affinity: one thread at a time.
class KernelEventTrace {
 public:
  static absl::StatusOr<std::unique_ptr<KernelEventTrace>> Open();
  // Removes the instance; false when it could not (the process dropped its privileges).
  bool Remove();
  ~KernelEventTrace();
  KernelEventTrace(const KernelEventTrace&) = delete;
  KernelEventTrace& operator=(const KernelEventTrace&) = delete;

  absl::Status WatchPort(uint16_t port);
  // Every event so far on the watched ports, in order, timed on CLOCK_MONOTONIC. Reads the
  // instance's `trace`, whose ring keeps the newest events when it fills: for a short run.
  absl::StatusOr<std::vector<KernelEvent>> Read() const;
  // For a trace read while it runs: the events on the watched ports since the last call, in
  // order, timed on CLOCK_MONOTONIC. Reads (and so consumes) the instance's `trace_pipe`, never
  // blocking; do not mix with Read(), which would miss what this consumed.
  absl::StatusOr<std::vector<KernelEvent>> TakeNew();
  // Events the kernel overwrote because the ring was full before they were read (the sum of
  // per_cpu/cpuN/stats "overrun").
  uint64_t Overruns() const;

  // The directory of this process's instance ("/sys/kernel/tracing/instances/socklab-123").
  const std::string& directory() const { return dir_; }

 private:
  explicit KernelEventTrace(std::string dir) : dir_(std::move(dir)) {}
  absl::Status ApplyFilters();

  std::string dir_;
  // The instance's `trace`, opened at once: a process that drops its privileges later can still
  // read it (and its instance is then removed by RemoveStaleTraceInstances).
  int trace_fd_ = -1;
  bool removed_ = false;
  // CLOCK_MONOTONIC when the clock marker was written: ties the trace's clock to it.
  int64_t marker_monotonic_ns_ = 0;
  std::set<uint16_t> ports_;
  // TakeNew's state: `trace_pipe` (non-blocking), the start of a line a read cut in two, and
  // CLOCK_MONOTONIC minus the trace clock once the marker was read.
  int pipe_fd_ = -1;
  std::string partial_line_;
  std::optional<int64_t> pipe_offset_ns_;
};

// The tracefs mount point, mounting it (privately, see KernelEventTrace) when needed.
absl::StatusOr<std::string> TracefsRoot();

// Removes the instances of KernelEventTrace whose process has ended (killed, or unable to remove
// its own after dropping privileges). Like Open, only in a process of its own.
absl::Status RemoveStaleTraceInstances();

// The names of the instances of KernelEventTrace that exist now (for tests and checks). Like
// Open, only in a process of its own.
absl::StatusOr<std::vector<std::string>> TraceInstances();

}  // namespace socklab

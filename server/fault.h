#pragma once

#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace socklab::server {

// When a per-connection fault strikes: once the connection has received `bytes` bytes from its
// peer, or `time` after it was accepted. Plain value type.
struct FaultTrigger {
  std::optional<uint64_t> bytes;
  std::optional<absl::Duration> time;
};

// The failures socklab-server can inflict on its clients (--fault, repeatable and combinable),
// so that a client program meets them on real sockets with nothing in between.
// Plain value type; thread affinity: none.
struct FaultPlan {
  // Per connection (applied to the share --fault-probability picks):
  std::optional<FaultTrigger> reset_after;  // abort: SO_LINGER {1, 0}, then close -> RST
  std::optional<FaultTrigger> close_after;  // graceful close (FIN) in mid-stream
  // shutdown(SHUT_WR): the peer reads EOF while its writes still work (and are read, unechoed)
  std::optional<FaultTrigger> half_close_after;
  // echo until then, then never read again: backpressure to the peer's send path
  std::optional<FaultTrigger> stop_reading_after;
  bool blackhole = false;  // accepted, then never read from nor written to
  // Each received chunk is echoed `delay` (plus a uniform 0..`jitter`) after it arrived, on a
  // loop timer; chunks keep their order.
  std::optional<absl::Duration> delay;
  absl::Duration jitter = absl::ZeroDuration();
  // Echo at most this many bytes per second per connection (0: no cap), released in pieces of
  // 20 ms worth so the output is smooth rather than bursts.
  uint64_t rate = 0;
  // Echo in pieces of at most `slice_bytes` (0: off), each its own send, `slice_gap` apart.
  uint64_t slice_bytes = 0;
  absl::Duration slice_gap = absl::ZeroDuration();

  // Whether the echo is paced (delay, rate or slice): it is then held and released on timers.
  bool paced() const { return delay.has_value() || rate > 0 || slice_bytes > 0; }
  // Listener-wide (every connection):
  bool no_accept = false;                // never accept: the accept queue fills, SYNs drop
  std::optional<uint64_t> refuse_after;  // close the listeners after this many accepts
  double probability = 1.0;              // the share of connections a per-connection fault hits
  uint64_t seed = 0;                     // 0: a fresh seed each run

  bool any() const { return per_connection() || no_accept || refuse_after.has_value(); }
  bool per_connection() const {
    return reset_after.has_value() || close_after.has_value() || half_close_after.has_value() ||
           stop_reading_after.has_value() || blackhole || paced();
  }
};

// The plan from the --fault values ("reset-after=4k", "close-after=2s", "half-close-after=100",
// "stop-reading-after=64k", "delay=200ms:50ms", "rate=64k",
// "slice=10:50ms", "blackhole", "no-accept", "refuse-after=10"),
// --fault-probability and
// --fault-seed. A UsageError
// ("<problem>; <fix>") names the bad value and the forms accepted.
absl::StatusOr<FaultPlan> ParseFaultPlan(const std::vector<std::string>& specs, double probability,
                                         uint64_t seed);

// "reset-after=4 KiB,blackhole probability=0.5 seed=7", or "none": for the configuration line.
std::string FaultPlanToString(const FaultPlan& plan);

// Which connections a plan's per-connection faults hit: each is drawn with the plan's
// probability from a generator seeded with (seed, worker), so a run with --fault-seed repeats
// the same choices per worker. Thread affinity: one worker (loop) thread.
class FaultDice {
 public:
  FaultDice(const FaultPlan& plan, int worker_index);
  // Whether the next accepted connection is faulted.
  bool Roll();
  // A uniform draw from 0..max_ns (0 when max_ns is 0).
  int64_t JitterNs(int64_t max_ns);

 private:
  double probability_;
  std::mt19937_64 generator_;
};

}  // namespace socklab::server

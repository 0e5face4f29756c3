#pragma once

#include <cstdint>

namespace socklab {

// The project's back-off policy: the delay before retry k (k = 0, 1, ...) after consecutive
// failures is min(max, initial * 2^k), reset to `initial` by a success. With a jitter seed the
// delay is spread over [base/2, base) by a hash of (seed, k), so retries of many callers do not
// fall in lockstep; the same seed gives the same delays (tests can predict them, and a run does
// not depend on the clock). Seed 0: no jitter, the delays are exactly the bases.
//
// Plain value, no clock and no sockets: the caller adds the delay to its own `now`.
// Thread affinity: none (one owner at a time).
class Backoff {
 public:
  // `initial_ns` > 0, `max_ns` >= `initial_ns`.
  Backoff(int64_t initial_ns, int64_t max_ns, uint64_t jitter_seed = 0);

  // The delay before the next retry, and counts this failure.
  int64_t Next();
  // A success: the next failure waits `initial` again.
  void Reset() { failures_ = 0; }

  // Failures since the last success (or construction).
  int failures() const { return failures_; }
  int64_t initial_ns() const { return initial_ns_; }
  int64_t max_ns() const { return max_ns_; }

 private:
  int64_t initial_ns_;
  int64_t max_ns_;
  uint64_t jitter_seed_;
  int failures_ = 0;
};

}  // namespace socklab

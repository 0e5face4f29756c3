#pragma once

#include <time.h>

#include <cstdint>

namespace socklab {

// Nanoseconds on CLOCK_MONOTONIC: the one clock for latencies, deadlines and timers (never moves
// backwards, unaffected by NTP steps). Cheap enough for the hot path (vDSO, no syscall).
inline int64_t MonotonicNanos() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

}  // namespace socklab

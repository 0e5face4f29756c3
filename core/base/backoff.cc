#include "core/base/backoff.h"

#include <algorithm>

#include "core/base/check.h"

namespace socklab {
namespace {

// splitmix64's finalizer: a cheap hash whose every output bit depends on every input bit.
uint64_t Mix(uint64_t x) {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

}  // namespace

Backoff::Backoff(int64_t initial_ns, int64_t max_ns, uint64_t jitter_seed)
    : initial_ns_(initial_ns), max_ns_(max_ns), jitter_seed_(jitter_seed) {
  SOCKLAB_CHECK(initial_ns > 0 && max_ns >= initial_ns, "Backoff: 0 < initial <= max");
}

int64_t Backoff::Next() {
  // Doubling stops at the cap, so it never overflows however long the failures last.
  int64_t base = initial_ns_;
  for (int i = 0; i < failures_ && base < max_ns_; ++i) {
    base = base > max_ns_ / 2 ? max_ns_ : base * 2;
  }
  const uint64_t attempt = static_cast<uint64_t>(failures_);
  if (failures_ < (1 << 30)) {
    ++failures_;
  }
  if (jitter_seed_ == 0) {
    return base;
  }
  const auto half = static_cast<uint64_t>(base / 2);
  return base - static_cast<int64_t>(half) +
         static_cast<int64_t>(Mix(jitter_seed_ ^ Mix(attempt)) % std::max<uint64_t>(half, 1));
}

}  // namespace socklab

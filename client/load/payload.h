#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

namespace socklab::client {

// The bytes of every message: message `seq` of connection incarnation `uid` is a window into one
// fixed pseudo-random block, starting at an offset derived from (uid, seq). Sending needs no copy
// (the block outlives every send) and checking an echo is one memcmp; a server that returns
// bytes of another message, another connection, or out of order fails the compare with
// overwhelming probability.
//
// Thread affinity: none; immutable after construction, shared read-only by all loop threads.
class PayloadPattern {
 public:
  // Messages up to `max_size` bytes.
  explicit PayloadPattern(size_t max_size);

  // The first byte of message (uid, seq); valid for the pattern's lifetime.
  const std::byte* MessageStart(uint64_t uid, uint64_t seq) const {
    return block_.data() + (Mix(uid * 0x9E3779B97F4A7C15ULL + seq) & (kOffsets - 1));
  }
  // True when `size` bytes at `data` equal bytes [offset, offset + size) of message (uid, seq).
  static bool Matches(const std::byte* expected_message, size_t offset, const std::byte* data,
                      size_t size) {
    return std::memcmp(expected_message + offset, data, size) == 0;
  }

  // A size in [min, max] for message (uid, seq): uniform, deterministic, no shared RNG state.
  static uint32_t MessageSize(uint64_t uid, uint64_t seq, uint32_t min, uint32_t max) {
    if (min >= max) {
      return min;
    }
    return min + static_cast<uint32_t>(Mix(uid ^ (seq * 0xBF58476D1CE4E5B9ULL)) %
                                       (uint64_t{max} - min + 1));
  }

  // splitmix64's finalizer: a cheap, well-spread 64-bit mix.
  static uint64_t Mix(uint64_t x) {
    x ^= x >> 30;
    x *= 0xBF58476D1CE4E5B9ULL;
    x ^= x >> 27;
    x *= 0x94D049BB133111EBULL;
    x ^= x >> 31;
    return x;
  }

 private:
  static constexpr size_t kOffsets = 64 * 1024;  // distinct start offsets (a power of two)
  std::vector<std::byte> block_;
};

}  // namespace socklab::client

#include "client/load/payload.h"

namespace socklab::client {

PayloadPattern::PayloadPattern(size_t max_size) : block_(kOffsets + max_size) {
  uint64_t state = 0x5EED5EED5EED5EEDULL;
  for (std::byte& b : block_) {
    state += 0x9E3779B97F4A7C15ULL;
    b = static_cast<std::byte>(Mix(state) >> 56);
  }
}

}  // namespace socklab::client

#pragma once

#include <cstdint>
#include <limits>

#include "core/loop/event_loop.h"

// The completion Token of a slot-indexed table of connections: (generation << 32 | slot). A slot
// is reused as soon as its connection is gone, while completions and timers of the old tenant
// may still be on their way; each tenant gets the next generation, so a stale token never names
// the new tenant. Generation 0 is never a connection's: tokens with it are left for the table
// owner's own operations (accept, timers), and can never be mistaken for a connection's.
// Used by both the echo worker and the load worker. Thread affinity: none (pure functions).
namespace socklab::loop {

constexpr Token MakeToken(uint32_t slot, uint32_t generation) {
  return (uint64_t{generation} << 32) | slot;
}
constexpr uint32_t SlotOf(Token token) { return static_cast<uint32_t>(token); }
constexpr uint32_t GenerationOf(Token token) { return static_cast<uint32_t>(token >> 32); }

// The generation a slot's first tenant gets.
inline constexpr uint32_t kFirstGeneration = 1;
// The generation of a slot's next tenant: one up, skipping 0 when the count wraps (after 2^32
// tenants of one slot).
constexpr uint32_t NextGeneration(uint32_t generation) {
  return generation == std::numeric_limits<uint32_t>::max() ? kFirstGeneration : generation + 1;
}

// The table owner's own operation number `id` (the accept, a periodic timer...): generation 0.
constexpr Token WorkerToken(uint32_t id) { return MakeToken(id, 0); }
constexpr bool IsWorkerToken(Token token) { return GenerationOf(token) == 0; }

}  // namespace socklab::loop

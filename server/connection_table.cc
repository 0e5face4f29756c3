#include "server/connection_table.h"

#include "core/base/check.h"

namespace socklab::server {

uint32_t ConnectionTable::Allocate() {
  uint32_t slot;
  if (free_.empty()) {
    slot = static_cast<uint32_t>(slots_.size());
    slots_.emplace_back();
  } else {
    slot = free_.back();
    free_.pop_back();
  }
  Connection& c = slots_[slot];
  uint32_t generation = c.generation + 1;
  if (generation == 0) {
    generation = 1;  // wrapped: 0 marks the worker's own tokens
  }
  c = Connection();
  c.generation = generation;
  c.in_use = true;
  ++in_use_;
  return slot;
}

Connection* ConnectionTable::Find(loop::Token token) {
  uint32_t slot = SlotOf(token);
  uint32_t generation = GenerationOf(token);
  if (generation == 0 || slot >= slots_.size()) {
    return nullptr;
  }
  Connection& c = slots_[slot];
  if (!c.in_use || c.generation != generation) {
    return nullptr;
  }
  return &c;
}

void ConnectionTable::Free(uint32_t slot) {
  Connection& c = slots_[slot];
  SOCKLAB_CHECK(c.in_use && c.in_flight == 0 && c.echo.empty(), "freeing a busy connection");
  c.in_use = false;
  c.fd = -1;
  free_.push_back(slot);
  --in_use_;
}

}  // namespace socklab::server

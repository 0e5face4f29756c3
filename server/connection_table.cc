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
  uint32_t generation = loop::NextGeneration(c.generation);
  c = Connection();
  c.generation = generation;
  c.in_use = true;
  ++in_use_;
  return slot;
}

Connection* ConnectionTable::Find(loop::Token token) {
  uint32_t slot = loop::SlotOf(token);
  if (loop::IsWorkerToken(token) || slot >= slots_.size()) {
    return nullptr;
  }
  Connection& c = slots_[slot];
  if (!c.in_use || c.generation != loop::GenerationOf(token)) {
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

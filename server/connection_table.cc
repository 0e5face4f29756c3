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
  c.state.Open();
  ++in_use_;
  return slot;
}

Connection* ConnectionTable::Find(loop::Token token) {
  uint32_t slot = loop::SlotOf(token);
  if (loop::IsWorkerToken(token) || slot >= slots_.size()) {
    return nullptr;
  }
  Connection& c = slots_[slot];
  if (!c.state.in_use() || c.generation != loop::GenerationOf(token)) {
    return nullptr;
  }
  return &c;
}

void ConnectionTable::Free(uint32_t slot) {
  Connection& c = slots_[slot];
  SOCKLAB_CHECK(c.echo.empty(), "freeing a connection with echo bytes queued");
  c.state.Free();  // checks that the close and every other operation completed
  c.fd = -1;
  free_.push_back(slot);
  --in_use_;
}

}  // namespace socklab::server

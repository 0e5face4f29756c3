#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <utility>
#include <vector>

#include "core/loop/event_loop.h"
#include "core/loop/slot_token.h"
#include "server/connection_state.h"
#include "server/echo_buffer.h"

namespace socklab::server {

// --fault delay, rate, slice: echo bytes held back until their release time, at the tail of the
// echo queue.
struct HeldEcho {
  std::deque<std::pair<int64_t, size_t>> chunks;  // (release time, bytes), in release order
  size_t bytes = 0;                               // held bytes, the echo queue's last ones
  int64_t timer_ns = 0;                           // the armed release timer's time; 0: none
  int64_t last_release_ns = 0;  // the latest release scheduled (rate and slice pace from it)
};

// One accepted connection's state on its worker. Small on purpose (no buffer until bytes wait):
// an idle connection costs this struct plus the loop's per-fd state.
struct Connection {
  int fd = -1;
  uint32_t generation = 0;  // loop::NextGeneration() at each Allocate(); 0 is never a connection's
  ConnectionState state;    // the phase, the operations in flight, the fault modes' own facts
  bool faulted = false;     // --fault: picked for the per-connection faults
  int64_t linger_until_ns = 0;     // kLingering: the close waits for the FIN's ack until then
  uint64_t received = 0;           // bytes read from the peer (the byte triggers of --fault)
  int64_t accepted_ns = 0;         // the time triggers of --fault count from here
  int64_t trigger_timer_ns = 0;    // the armed time-trigger timer's time; 0: none
  std::unique_ptr<HeldEcho> held;  // --fault delay, rate, slice only
  int64_t last_activity_ns = 0;    // bytes either way
  int64_t send_progress_ns = 0;    // the peer last took bytes, or bytes started waiting
  // For the write timeout, which asks whether the *peer* takes bytes, not whether send() does
  // (the kernel's send buffer takes megabytes from us while the peer reads nothing): bytes the
  // kernel took from our sends, and how many of them the peer had acknowledged when last looked
  // (handed - SIOCOUTQ). Equal when nothing of ours is known to be in flight.
  uint64_t handed = 0;
  uint64_t acked = 0;
  EchoQueue echo;
  // The echo sent straight from a receive buffer held from the loop
  // (EventLoop::HoldReceiveBuffer), when nothing else waited to be sent: no copy, one send per
  // receive. It goes out before anything in `echo` (queued while its send was in flight); the
  // hold ends when it is all sent or the connection closes. -1: none.
  int direct_hold = -1;
  const std::byte* direct_data = nullptr;  // its bytes not yet sent
  size_t direct_size = 0;

  // Echo bytes waiting to be sent: held and queued.
  size_t pending() const { return direct_size + echo.size(); }
};

// Slots with generations: a completion's Token is loop::MakeToken(slot, generation)
// (core/loop/slot_token.h), so a completion that outlives its connection can never be mistaken
// for the slot's next tenant. Tokens with generation 0 are left for the worker's own operations
// (accept, timers).
// Thread affinity: one worker (loop) thread. Slots are reused LIFO to keep the table dense.
class ConnectionTable {
 public:
  // A free slot, marked in use with a fresh generation. The reference is valid until the next
  // Allocate() (the table may grow).
  uint32_t Allocate();
  // The connection a token names, or nullptr when the token is stale or not a connection's.
  Connection* Find(loop::Token token);
  loop::Token TokenOf(uint32_t slot) const {
    return loop::MakeToken(slot, slots_[slot].generation);
  }
  Connection& at(uint32_t slot) { return slots_[slot]; }
  // Returns the slot to the free list; its queue must already be cleared.
  void Free(uint32_t slot);

  size_t in_use() const { return in_use_; }
  size_t capacity() const { return slots_.size(); }

 private:
  std::vector<Connection> slots_;
  std::vector<uint32_t> free_;
  size_t in_use_ = 0;
};

}  // namespace socklab::server

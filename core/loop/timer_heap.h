#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "core/loop/event_loop.h"

namespace socklab::loop {

// A min-heap of one-shot timers ordered by (deadline, id), shared by both backends: the backend
// only sleeps until NextDeadline(). Cancellation is lazy (the entry stays in the heap and is
// skipped when it reaches the top) so Cancel is O(1); the heap is rebuilt when cancelled entries
// outnumber live ones, so a connection that re-arms an idle timer on every read cannot grow it
// without bound.
//
// Thread affinity: one thread (the loop thread). Holds no resources beyond memory.
class TimerHeap {
 public:
  struct Expired {
    TimerId id;
    Token token;
    int64_t deadline_ns;
  };

  // Adds a timer; ids are unique for the life of the heap and never 0.
  TimerId Add(int64_t deadline_ns, Token token);
  // Returns false when `id` already fired or was cancelled.
  bool Cancel(TimerId id);

  // The earliest live deadline, if any.
  std::optional<int64_t> NextDeadline();
  // Removes and returns the earliest live timer whose deadline is <= now_ns. Ties fire in the
  // order they were added.
  std::optional<Expired> PopExpired(int64_t now_ns);

  // Live (not fired, not cancelled) timers.
  size_t size() const { return live_.size(); }
  bool empty() const { return live_.empty(); }

 private:
  struct Entry {
    int64_t deadline_ns;
    TimerId id;
    Token token;
  };
  // std::push_heap builds a max-heap, so "greater" puts the earliest deadline on top.
  static bool Later(const Entry& a, const Entry& b) {
    return a.deadline_ns != b.deadline_ns ? a.deadline_ns > b.deadline_ns : a.id > b.id;
  }
  void DropCancelledTop();
  void CompactIfSparse();

  std::vector<Entry> heap_;
  absl::flat_hash_set<TimerId> live_;
  TimerId next_id_ = 1;
};

}  // namespace socklab::loop

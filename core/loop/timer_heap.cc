#include "core/loop/timer_heap.h"

#include <algorithm>

namespace socklab::loop {

TimerId TimerHeap::Add(int64_t deadline_ns, Token token) {
  TimerId id = next_id_++;
  heap_.push_back(Entry{deadline_ns, id, token});
  std::push_heap(heap_.begin(), heap_.end(), Later);
  live_.insert(id);
  return id;
}

bool TimerHeap::Cancel(TimerId id) {
  if (live_.erase(id) == 0) {
    return false;
  }
  CompactIfSparse();
  return true;
}

void TimerHeap::DropCancelledTop() {
  while (!heap_.empty() && !live_.contains(heap_.front().id)) {
    std::pop_heap(heap_.begin(), heap_.end(), Later);
    heap_.pop_back();
  }
}

void TimerHeap::CompactIfSparse() {
  // Rebuild only when dead entries dominate, so the O(n) pass is amortized over the n/2
  // cancellations that made it necessary.
  if (heap_.size() < 64 || heap_.size() < 2 * live_.size()) {
    return;
  }
  std::erase_if(heap_, [this](const Entry& e) { return !live_.contains(e.id); });
  std::make_heap(heap_.begin(), heap_.end(), Later);
}

std::optional<int64_t> TimerHeap::NextDeadline() {
  DropCancelledTop();
  if (heap_.empty()) {
    return std::nullopt;
  }
  return heap_.front().deadline_ns;
}

std::optional<TimerHeap::Expired> TimerHeap::PopExpired(int64_t now_ns) {
  DropCancelledTop();
  if (heap_.empty() || heap_.front().deadline_ns > now_ns) {
    return std::nullopt;
  }
  Entry top = heap_.front();
  std::pop_heap(heap_.begin(), heap_.end(), Later);
  heap_.pop_back();
  live_.erase(top.id);
  return Expired{top.id, top.token, top.deadline_ns};
}

}  // namespace socklab::loop

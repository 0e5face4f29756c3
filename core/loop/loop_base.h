#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "core/base/clock.h"
#include "core/loop/event_loop.h"
#include "core/loop/timer_heap.h"

namespace socklab::loop {

// What both backends share: the timer heap, the queue of completions synthesized by submissions
// (delivered later, never re-entrantly), the stop flag, Run(), and the single place where a
// completion reaches the handler (which aborts on errnos that can only mean a caller bug).
//
// Thread affinity: as EventLoop (loop thread, except RequestStop/Wake).
class LoopBase : public EventLoop {
 public:
  TimerId AddTimer(int64_t deadline_ns, Token token) override;
  bool CancelTimer(TimerId id) override;
  absl::Status Run() override;
  void RequestStop() override;
  int64_t BatchNanos() const override {
    if (batch_ns_ == kUnread) {
      batch_ns_ = MonotonicNanos();
    }
    return batch_ns_;
  }

 protected:
  explicit LoopBase(CompletionHandler* handler) : handler_(handler) {}
  ~LoopBase() override = default;

  // Hands `completion` to the handler now. Aborts with a message when res is an errno that
  // core/net/error_class.h calls a programmer error for the op's phase (EBADF, EFAULT, ...).
  void Deliver(const Completion& completion);
  void Deliver(Op op, Token token, int fd, int res, bool more, const std::byte* data = nullptr) {
    Deliver(Completion{op, token, fd, res, more, data});
  }
  // Queues a completion for the next dispatch step (submissions must not call the handler).
  void Defer(Op op, Token token, int fd, int res, bool more) {
    deferred_.push_back(Completion{op, token, fd, res, more, nullptr});
  }
  bool HasDeferred() const { return !deferred_.empty(); }
  // Delivers the queued completions, including any queued while delivering them; bounded by the
  // queue length at entry so a handler that keeps submitting cannot starve the wait.
  void DeliverDeferred();
  void DeliverExpiredTimers();
  // Backends call this as their wait returns, before delivering what it brought. The batch's time
  // is read when first asked for: a server with no timers and no timeouts reads no clock at all
  // (a read after each wake-up drew 1.4% of the epoll server's profile at one connection).
  void StartBatch() { batch_ns_ = kUnread; }

  // How long the backend may sleep: the caller's bound (< 0: none) clipped to the next timer;
  // -1 means no limit.
  int64_t WaitTimeoutNs(int64_t max_wait_ns);

  // Completions delivered since the counter was last reset by RunOnce.
  int delivered_ = 0;

 private:
  CompletionHandler* handler_;
  TimerHeap timers_;
  std::vector<Completion> deferred_;
  std::vector<Completion> deferred_batch_;
  std::atomic<bool> stop_{false};
  static constexpr int64_t kUnread = -1;
  mutable int64_t batch_ns_ = kUnread;  // see BatchNanos()
};

}  // namespace socklab::loop

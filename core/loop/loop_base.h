#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "core/loop/blocking_closer.h"
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

 protected:
  explicit LoopBase(CompletionHandler* handler) : handler_(handler) {}
  ~LoopBase() override;

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

  // How long the backend may sleep: the caller's bound (< 0: none) clipped to the next timer;
  // -1 means no limit.
  int64_t WaitTimeoutNs(int64_t max_wait_ns);

  // LoopOptions::close_may_block: closes `fd` (owned from now on, no operation in flight) on a
  // closer thread; kClose(token) with the result comes from a later dispatch step, after the fd
  // number may already have been reused. Loop thread only.
  void CloseInBackground(int fd, Token token);
  // Delivers the kClose completions of background closes that finished. Dispatch steps only.
  void DeliverBackgroundCloses();
  bool HasBackgroundCloses() const { return closer_ != nullptr && closer_->pending() > 0; }
  // Derived destructors call this first: the closer threads notify through Wake(), which must
  // not reach a half-destroyed loop. Waits for closes in progress.
  void StopCloser() { closer_.reset(); }

  // Completions delivered since the counter was last reset by RunOnce.
  int delivered_ = 0;

 private:
  std::unique_ptr<BlockingCloser> closer_;
  CompletionHandler* handler_;
  TimerHeap timers_;
  std::vector<Completion> deferred_;
  std::vector<Completion> deferred_batch_;
  std::atomic<bool> stop_{false};
};

}  // namespace socklab::loop

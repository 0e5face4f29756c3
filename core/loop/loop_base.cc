#include "core/loop/loop_base.h"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "core/base/clock.h"
#include "core/base/errno_name.h"
#include "core/net/error_class.h"

namespace socklab::loop {
namespace {

Phase PhaseOf(Op op) {
  switch (op) {
    case Op::kAccept:
      return Phase::kAccept;
    case Op::kConnect:
      return Phase::kConnect;
    case Op::kReceive:
      return Phase::kRead;
    case Op::kSend:
      return Phase::kWrite;
    case Op::kClose:
    case Op::kTimer:
      return Phase::kClose;
  }
  return Phase::kClose;
}

}  // namespace

void LoopBase::Deliver(const Completion& completion) {
  if (completion.res < 0 && IsProgrammerError(PhaseOf(completion.op), -completion.res)) {
    std::fprintf(stderr, "socklab: %s on fd %d failed with %s: a bug in the caller, aborting\n",
                 std::string(OpName(completion.op)).c_str(), completion.fd,
                 std::string(ErrnoName(-completion.res)).c_str());
    std::abort();
  }
  ++delivered_;
  handler_->OnCompletion(completion);
}

void LoopBase::DeliverDeferred() {
  if (deferred_.empty()) {
    return;
  }
  deferred_batch_.clear();
  deferred_batch_.swap(deferred_);
  for (const Completion& completion : deferred_batch_) {
    Deliver(completion);
  }
}

void LoopBase::DeliverExpiredTimers() {
  if (timers_.empty()) {
    return;
  }
  const int64_t now = BatchNanos();
  // Bounded by the timers present now: a handler that adds an already-expired timer gets it in
  // the next iteration instead of looping here forever.
  size_t budget = timers_.size();
  while (budget-- > 0) {
    auto expired = timers_.PopExpired(now);
    if (!expired) {
      break;
    }
    Deliver(Op::kTimer, expired->token, -1, 0, false);
  }
}

int64_t LoopBase::WaitTimeoutNs(int64_t max_wait_ns) {
  std::optional<int64_t> next = timers_.NextDeadline();
  if (!next) {
    return max_wait_ns < 0 ? -1 : max_wait_ns;
  }
  int64_t until_timer = *next - MonotonicNanos();
  if (until_timer < 0) {
    until_timer = 0;
  }
  return max_wait_ns < 0 ? until_timer : std::min(max_wait_ns, until_timer);
}

TimerId LoopBase::AddTimer(int64_t deadline_ns, Token token) {
  return timers_.Add(deadline_ns, token);
}

bool LoopBase::CancelTimer(TimerId id) { return timers_.Cancel(id); }

absl::Status LoopBase::Run() {
  // exchange(false): a stop requested before Run() (or during the last batch) is consumed
  // exactly once, so the next Run() serves again.
  while (!stop_.exchange(false)) {
    absl::StatusOr<int> delivered = RunOnce(-1);
    if (!delivered.ok()) {
      return delivered.status();
    }
  }
  return absl::OkStatus();
}

void LoopBase::RequestStop() {
  stop_.store(true);
  Wake();
}

}  // namespace socklab::loop

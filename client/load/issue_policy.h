#pragma once

#include <cstdint>

namespace socklab::client {

// What a worker may issue, apart from its sockets: -n's budget (with --churn, each connection's
// reservation), --connect-rate's pacing and the open loop's schedule. Plain state, no sockets
// and no clock (the caller passes its `now`). Thread affinity: the worker's loop thread.

// This worker's share of -n. Without -n (messages 0) nothing is counted and nothing runs out.
// With --churn each incarnation of a connection takes its messages up front, so no connection
// opens to find nothing left to send.
class MessageBudget {
 public:
  MessageBudget(uint64_t messages, uint64_t churn, int64_t share)
      : bounded_(messages > 0), churn_(churn), left_(share) {}

  bool bounded() const { return bounded_; }
  bool reserves() const { return bounded_ && churn_ > 0; }
  // Every message was issued (or a connection found none left): the worker may stop once idle.
  bool exhausted() const { return exhausted_; }
  int64_t left() const { return left_; }

  // -n with --churn: up to --churn messages for a new incarnation, 0 when none is left (the
  // budget is then exhausted).
  int64_t ReserveIncarnation();
  // One message to issue, from `*reserved` with --churn, else from the budget; false when none
  // is left (without a reservation the budget is then exhausted). Always true without -n.
  bool TakeOne(int64_t* reserved);
  // A connection's unsent messages come back (its connection failed): another one sends them.
  void ReturnUnsent(int64_t count);
  // An incarnation's unused reservation comes back.
  void ReturnReserved(int64_t count) { left_ += count; }
  // An incarnation ends with `reserved` still held: whether a new one has anything to send.
  bool HasMoreAfter(int64_t reserved) const { return !bounded_ || left_ + reserved > 0; }
  void MarkExhausted() { exhausted_ = true; }

 private:
  bool bounded_;
  uint64_t churn_;
  int64_t left_;
  bool exhausted_ = false;
};

// --connect-rate's share of one worker: connects start at least 1/rate apart.
class ConnectPacer {
 public:
  explicit ConnectPacer(double rate_per_s) : interval_ns_(rate_per_s > 0 ? 1e9 / rate_per_s : 0) {}

  bool paced() const { return interval_ns_ > 0; }
  void Start(int64_t now_ns) { next_ns_ = now_ns; }
  // The time a connect asked for at `now_ns` may start (`now_ns` when the rate allows it now),
  // and reserves that time for it.
  int64_t Reserve(int64_t now_ns);

 private:
  double interval_ns_;
  int64_t next_ns_ = 0;
};

// The open loop's schedule of one connection runs at origin + k * interval (k >= 0): how many
// of those times fall in [from_ns, end_ns). Pure.
uint64_t ScheduledTimes(int64_t origin_ns, double interval_ns, int64_t from_ns, int64_t end_ns);

}  // namespace socklab::client

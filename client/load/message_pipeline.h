#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace socklab::client {

// One connection's messages in flight, oldest first (a ring of capacity --pipeline), with the
// send cursor and the first message the measured window counts. Messages are sent in order and
// echoed in order, so the oldest is the one the next echoed bytes belong to.
//
// Plain state, no sockets and no clock. Thread affinity: the worker's loop thread.
class MessagePipeline {
 public:
  struct Message {
    uint64_t seq = 0;
    uint32_t size = 0;
    uint32_t received = 0;
    int64_t intended_ns = 0;  // schedule (open loop) or queueing time (closed loop)
    int64_t sent_ns = 0;      // first byte handed to the kernel; 0 = not yet
    const std::byte* data = nullptr;
    bool bad = false;
  };
  static constexpr uint64_t kNoSeq = ~uint64_t{0};

  explicit MessagePipeline(size_t capacity = 1) : ring_(capacity) {}

  // A new incarnation of the connection: nothing in flight, numbering and cursor from 0, no
  // message counted yet.
  void Reset();

  size_t size() const { return count_; }
  bool empty() const { return count_ == 0; }
  bool full() const { return count_ == ring_.size(); }
  // The i-th message in flight, 0 the oldest. i < size().
  Message& At(size_t i) { return ring_[(head_ + i) % ring_.size()]; }
  const Message& At(size_t i) const { return ring_[(head_ + i) % ring_.size()]; }
  Message& Oldest() { return At(0); }

  // Appends a message numbered next (the caller fills the rest). Not when full().
  Message& Push();
  // The oldest message was answered. Not when empty().
  void PopOldest();
  // Drops every message in flight (the connection failed or closed); numbering goes on.
  void Clear() { count_ = 0; }

  // The send cursor: the message to send next (nullptr when every message issued is sent) and
  // how many of its bytes were already sent. The echo of the message being sent may complete
  // before its send completion arrives: the cursor then moves to the oldest message.
  Message* NextToSend();
  uint64_t send_seq() const { return send_seq_; }
  uint32_t send_offset() const { return send_offset_; }
  // `bytes` more of message send_seq() went out; `size` is that message's size (it may have been
  // answered and popped already).
  void AdvanceSend(uint32_t bytes, uint32_t size);
  // Every byte of message `seq` was handed to the kernel.
  bool Written(uint64_t seq) const { return send_seq_ > seq; }
  // The oldest message was handed to the kernel, so the connection waits for an echo.
  bool AwaitingEcho() const { return count_ > 0 && At(0).sent_ns > 0; }

  // The measured window starts with message `seq` (the first sent in it); later calls keep the
  // first. Counted(seq): message `seq` belongs to the window.
  void StartWindowAt(uint64_t seq) {
    if (window_seq_ == kNoSeq) {
      window_seq_ = seq;
    }
  }
  bool WindowStarted() const { return window_seq_ != kNoSeq; }
  bool Counted(uint64_t seq) const { return seq >= window_seq_; }

 private:
  std::vector<Message> ring_;
  size_t head_ = 0;
  size_t count_ = 0;
  uint64_t next_seq_ = 0;
  uint64_t send_seq_ = 0;
  uint32_t send_offset_ = 0;
  uint64_t window_seq_ = kNoSeq;
};

}  // namespace socklab::client

#include "client/load/message_pipeline.h"

namespace socklab::client {

void MessagePipeline::Reset() {
  head_ = count_ = 0;
  next_seq_ = send_seq_ = 0;
  send_offset_ = 0;
  window_seq_ = kNoSeq;
}

MessagePipeline::Message& MessagePipeline::Push() {
  Message& m = At(count_);
  m = Message{};
  m.seq = next_seq_++;
  ++count_;
  return m;
}

void MessagePipeline::PopOldest() {
  head_ = (head_ + 1) % ring_.size();
  --count_;
}

MessagePipeline::Message* MessagePipeline::NextToSend() {
  if (count_ == 0) {
    return nullptr;
  }
  const uint64_t oldest = At(0).seq;
  if (send_seq_ < oldest) {
    send_seq_ = oldest;
    send_offset_ = 0;
  }
  const uint64_t index = send_seq_ - oldest;
  return index < count_ ? &At(index) : nullptr;
}

void MessagePipeline::AdvanceSend(uint32_t bytes, uint32_t size) {
  send_offset_ += bytes;
  if (send_offset_ >= size) {
    ++send_seq_;
    send_offset_ = 0;
  }
}

}  // namespace socklab::client

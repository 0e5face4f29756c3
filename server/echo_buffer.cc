#include "server/echo_buffer.h"

#include <algorithm>
#include <cstring>

#include "core/base/check.h"

namespace socklab::server {

static_assert(sizeof(Chunk) <= 16 * 1024, "a Chunk should fit a 16 KiB allocation");

ChunkPool::~ChunkPool() {
  for (Chunk* chunk : free_) {
    delete chunk;
  }
}

Chunk* ChunkPool::Get() {
  if (++gets_in_period_ == kPeriodGets) {
    gets_in_period_ = 0;
    previous_peak_in_use_ = peak_in_use_;
    peak_in_use_ = in_use_;
    while (!free_.empty() && in_use_ + free_.size() > Keep()) {
      delete free_.back();
      free_.pop_back();
    }
  }
  peak_in_use_ = std::max(peak_in_use_, ++in_use_);
  if (free_.empty()) {
    return new Chunk;
  }
  Chunk* chunk = free_.back();
  free_.pop_back();
  chunk->next = nullptr;
  chunk->begin = 0;
  chunk->end = 0;
  return chunk;
}

void ChunkPool::Put(Chunk* chunk) {
  --in_use_;
  if (in_use_ + free_.size() < Keep()) {
    free_.push_back(chunk);
  } else {
    delete chunk;
  }
}

void EchoQueue::Append(const std::byte* data, size_t n, ChunkPool& pool) {
  while (n > 0) {
    if (tail_ == nullptr || tail_->end == kChunkSize) {
      Chunk* chunk = pool.Get();
      if (tail_ == nullptr) {
        head_ = chunk;
      } else {
        tail_->next = chunk;
      }
      tail_ = chunk;
    }
    size_t take = std::min<size_t>(n, kChunkSize - tail_->end);
    std::memcpy(tail_->data + tail_->end, data, take);
    tail_->end += static_cast<uint32_t>(take);
    size_ += take;
    data += take;
    n -= take;
  }
}

void EchoQueue::Consume(size_t n, ChunkPool& pool) {
  SOCKLAB_CHECK(head_ != nullptr && n <= front_size(), "consumed more than was sent");
  head_->begin += static_cast<uint32_t>(n);
  size_ -= n;
  // A fully sent chunk goes back to the pool; the last one too, unless more may be appended to
  // it (it is not full): an idle connection then holds nothing.
  while (head_ != nullptr && head_->begin == head_->end && (head_->next != nullptr || size_ == 0)) {
    Chunk* done = head_;
    head_ = head_->next;
    if (head_ == nullptr) {
      tail_ = nullptr;
    }
    pool.Put(done);
  }
}

void EchoQueue::Clear(ChunkPool& pool) {
  while (head_ != nullptr) {
    Chunk* next = head_->next;
    pool.Put(head_);
    head_ = next;
  }
  tail_ = nullptr;
  size_ = 0;
}

}  // namespace socklab::server

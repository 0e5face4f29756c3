#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

namespace socklab::server {

// Echo bytes waiting to go back to a peer, kept in fixed-size chunks so that bytes handed to an
// in-flight Send never move: appending writes only past the end of the last chunk, and the
// front chunk's [begin, end) stays as it was given to the kernel until the send completes.

inline constexpr uint32_t kChunkSize = 16 * 1024 - 32;  // the whole Chunk fits 16 KiB

struct Chunk {
  Chunk* next = nullptr;
  uint32_t begin = 0;  // first byte not yet sent
  uint32_t end = 0;    // one past the last byte written
  std::byte data[kChunkSize];
};

// Recycles chunks within one worker so a busy connection does not hit malloc per echo, while
// keeping at most `max_free` spare chunks so memory returns after a burst.
// Thread affinity: one worker (loop) thread. Owns the spare chunks.
class ChunkPool {
 public:
  explicit ChunkPool(size_t max_free = 256) : max_free_(max_free) {}
  ~ChunkPool();
  ChunkPool(const ChunkPool&) = delete;
  ChunkPool& operator=(const ChunkPool&) = delete;

  Chunk* Get();
  void Put(Chunk* chunk);

 private:
  size_t max_free_;
  std::vector<Chunk*> free_;
};

// The pending bytes of one connection: a singly linked list of chunks from a ChunkPool; empty
// (two null pointers) when nothing waits, so idle connections hold no buffer at all.
// Thread affinity: the worker thread owning the connection. Chunks belong to the pool given to
// each call; Clear() must run before the queue is dropped.
class EchoQueue {
 public:
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }

  void Append(const std::byte* data, size_t n, ChunkPool& pool);
  // The contiguous run at the front, to hand to Send. Valid until Consume() of those bytes.
  const std::byte* front_data() const { return head_->data + head_->begin; }
  size_t front_size() const { return head_->end - head_->begin; }
  // Drops `n` sent bytes from the front (n <= front_size()) and recycles emptied chunks.
  void Consume(size_t n, ChunkPool& pool);
  void Clear(ChunkPool& pool);

 private:
  Chunk* head_ = nullptr;
  Chunk* tail_ = nullptr;
  size_t size_ = 0;
};

}  // namespace socklab::server

#pragma once

#include <algorithm>
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

// Recycles chunks within one worker so that echoes do not hit malloc. A busy worker has one chunk
// in use per connection with an echo in flight, often all of its connections at once: spares
// are therefore kept up to the largest number in use over the last two periods of
// kPeriodGets Get() calls (at least `min_free`), so the steady state allocates nothing, and
// after a burst the spares beyond the working set go back to malloc within two periods.
// Freeing past the working set (a fixed cap of 64 did) turns every echo above it into a
// malloc/free of 16 KiB, with glibc trimming and refaulting the heap's top: 9% of an epoll
// server's CPU at 500 connections.
// Thread affinity: one worker (loop) thread. Owns the spare chunks.
class ChunkPool {
 public:
  static constexpr uint64_t kPeriodGets = 16 * 1024;

  explicit ChunkPool(size_t min_free = 64) : min_free_(min_free) {}
  ~ChunkPool();
  ChunkPool(const ChunkPool&) = delete;
  ChunkPool& operator=(const ChunkPool&) = delete;

  Chunk* Get();
  void Put(Chunk* chunk);

  size_t in_use() const { return in_use_; }
  size_t spare() const { return free_.size(); }

 private:
  // The most chunks this pool may own (in use plus spare).
  size_t Keep() const { return std::max({min_free_, peak_in_use_, previous_peak_in_use_}); }

  size_t min_free_;
  std::vector<Chunk*> free_;
  size_t in_use_ = 0;
  size_t peak_in_use_ = 0;           // this period's
  size_t previous_peak_in_use_ = 0;  // the period before
  uint64_t gets_in_period_ = 0;
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

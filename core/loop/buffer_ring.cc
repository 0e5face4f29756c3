#include "core/loop/buffer_ring.h"

#include <algorithm>
#include <cerrno>
#include <cstdlib>

#include "core/base/status.h"

namespace socklab::loop {
namespace {

// io_register_pbuf_ring takes a power of two below 65536.
constexpr unsigned kMaxBuffers = 32768;
constexpr size_t kPageSize = 4096;

unsigned RoundUpPow2(unsigned v) {
  unsigned p = 1;
  while (p < v) {
    p <<= 1;
  }
  return p;
}

}  // namespace

void BufferRing::FreeDeleter::operator()(void* p) const { std::free(p); }

BufferRing::BufferRing(io_uring* ring, uint16_t group, unsigned count, unsigned size)
    : ring_(ring), group_(group), count_(count), buffer_size_(size) {}

absl::StatusOr<std::unique_ptr<BufferRing>> BufferRing::Create(io_uring* ring, uint16_t group,
                                                               unsigned count, unsigned size) {
  if (count == 0 || size == 0) {
    return UsageError("empty receive buffer ring", "give the loop at least one buffer of 1 byte");
  }
  std::unique_ptr<BufferRing> br(
      new BufferRing(ring, group, RoundUpPow2(std::min(count, kMaxBuffers)), size));
  // Page-aligned ring memory (the kernel pins its pages), io_uring_buf_ring_init,
  // IORING_REGISTER_PBUF_RING, then every buffer added.
  void* entries = nullptr;
  if (posix_memalign(&entries, kPageSize, br->count_ * sizeof(io_uring_buf)) != 0) {
    return ErrnoError(ENOMEM, "allocate provided-buffer ring");
  }
  br->entries_.reset(static_cast<io_uring_buf_ring*>(entries));
  void* buffers = nullptr;
  if (posix_memalign(&buffers, kPageSize, size_t{br->count_} * br->buffer_size_) != 0) {
    return ErrnoError(ENOMEM, "allocate receive buffers");
  }
  br->buffers_.reset(static_cast<std::byte*>(buffers));
  io_uring_buf_ring_init(br->entries_.get());
  io_uring_buf_reg reg{};
  reg.ring_addr = reinterpret_cast<uintptr_t>(br->entries_.get());
  reg.ring_entries = br->count_;
  reg.bgid = group;
  int ret = io_uring_register_buf_ring(ring, &reg, 0);
  if (ret < 0) {
    return ErrnoError(-ret, "io_uring_register_buf_ring", "use --backend epoll (needs Linux 5.19)");
  }
  br->registered_ = true;
  int mask = io_uring_buf_ring_mask(br->count_);
  for (unsigned i = 0; i < br->count_; ++i) {
    io_uring_buf_ring_add(br->entries_.get(), br->buffers_.get() + size_t{i} * br->buffer_size_,
                          br->buffer_size_, static_cast<unsigned short>(i), mask,
                          static_cast<int>(i));
  }
  io_uring_buf_ring_advance(br->entries_.get(), static_cast<int>(br->count_));
  return br;
}

BufferRing::~BufferRing() {
  if (registered_) {
    // 0, or -EEXIST off the issuer thread of a SINGLE_ISSUER ring (see the header).
    io_uring_unregister_buf_ring(ring_, group_);
  }
}

void BufferRing::Return(int id) {
  io_uring_buf_ring_add(entries_.get(), buffers_.get() + size_t(id) * buffer_size_, buffer_size_,
                        static_cast<unsigned short>(id), io_uring_buf_ring_mask(count_), 0);
  io_uring_buf_ring_advance(entries_.get(), 1);
}

}  // namespace socklab::loop

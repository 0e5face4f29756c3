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
// The first window: 64 KiB of buffers (at least 2), the size of the one buffer a plain recv/send
// server reuses; a busier loop widens it at its first dry receives.
constexpr size_t kInitialWindowBytes = 64 * 1024;
constexpr unsigned kMinWindow = 2;

unsigned InitialWindow(unsigned count, unsigned size) {
  const auto fitting = static_cast<unsigned>(std::min<size_t>(kInitialWindowBytes / size, count));
  return std::min(count, std::max(kMinWindow, fitting));
}

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
    : ring_(ring),
      group_(group),
      count_(count),
      buffer_size_(size),
      window_(InitialWindow(count, size)) {}

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
  br->returned_.reserve(br->count_);
  for (unsigned i = br->count_; i > 0; --i) {
    br->returned_.push_back(static_cast<uint16_t>(i - 1));
  }
  br->Refill();
  return br;
}

BufferRing::~BufferRing() {
  if (registered_) {
    // 0, or -EEXIST off the issuer thread of a SINGLE_ISSUER ring (see the header).
    io_uring_unregister_buf_ring(ring_, group_);
  }
}

void BufferRing::Refill() {
  if (dry_receives_ > 0) {
    window_ = std::min(count_, std::max(2 * window_, window_ + dry_receives_));
    dry_receives_ = 0;
  }
  int added = 0;
  const int mask = io_uring_buf_ring_mask(count_);
  while (posted_ < window_ && !returned_.empty()) {
    const uint16_t id = returned_.back();
    returned_.pop_back();
    io_uring_buf_ring_add(entries_.get(), buffers_.get() + size_t{id} * buffer_size_, buffer_size_,
                          id, mask, added);
    ++added;
    ++posted_;
  }
  if (added > 0) {
    io_uring_buf_ring_advance(entries_.get(), added);  // publishes the tail: one store-release
  }
}

}  // namespace socklab::loop

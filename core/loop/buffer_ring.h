#pragma once

#include <liburing.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"

namespace socklab::loop {

// A provided-buffer ring (IORING_REGISTER_PBUF_RING, 5.19): equal buffers in one block of memory,
// registered with an io_uring as one buffer group. A receive or read submitted with
// IOSQE_BUFFER_SELECT and that group takes a buffer only when data arrives, so connections that
// wait cost no buffer; its completion names the buffer (IORING_CQE_F_BUFFER), and the buffer stays
// the user's until Return() hands it back. liburing 2.3 has no io_uring_setup_buf_ring, so the
// ring is allocated and registered by hand.
//
// The kernel takes buffers from the ring's head in the order they were added, so a ring holding
// every buffer would hand each receive the buffer used `count` receives ago: with 1024 buffers of
// 20 KiB, memory last touched 20 MiB earlier, long out of the caches. So the kernel holds only a
// window of buffers (64 KiB's worth to begin with), refilled with the most recently returned ones
// first, and the window grows (up to every buffer) each time receives find the ring dry.
// bench/RESULTS.md has what this bought.
//
// Thread affinity: the thread that issues on the ring (loop thread only), except as the
// destructor says.
// Ownership: owns the buffers and the registration, not the io_uring, which must outlive it.
class BufferRing {
 public:
  // Allocates `count` buffers (rounded up to a power of two, as the kernel requires, and capped
  // at 32768, the most one group takes) of `size` bytes each, registers them with `ring` as
  // buffer group `group` and hands the first window of them to the kernel. Fails on an empty ring,
  // or where the kernel refuses the registration (before 5.19: EINVAL; a group already in use:
  // EEXIST).
  static absl::StatusOr<std::unique_ptr<BufferRing>> Create(io_uring* ring, uint16_t group,
                                                            unsigned count, unsigned size);
  // Unregisters the group, then frees the buffers. A SINGLE_ISSUER ring takes registrations
  // from any thread until it is enabled and only from its issuer after (6.1: EEXIST otherwise);
  // destroyed on another thread, this leaves the group to the ring's exit. Its buffers are freed
  // all the same, which is safe only once no request can pick one: the issuer's thread has
  // exited (its requests were cancelled then), or the ring has DEFER_TASKRUN and its issuer will
  // not enter it again (receives complete only inside the issuer's io_uring_enter).
  ~BufferRing();

  BufferRing(const BufferRing&) = delete;
  BufferRing& operator=(const BufferRing&) = delete;

  uint16_t group() const { return group_; }
  unsigned count() const { return count_; }
  unsigned buffer_size() const { return buffer_size_; }

  // How many buffers the kernel is given to hold at a time.
  unsigned window() const { return window_; }

  // The buffer a completion took from the ring, from its flags; -1 when it took none (an error,
  // or -ENOBUFS when the ring ran dry). Called once for every completion of the group.
  int Take(uint32_t cqe_flags) {
    if ((cqe_flags & IORING_CQE_F_BUFFER) == 0) {
      return -1;
    }
    --posted_;
    return static_cast<int>(cqe_flags >> IORING_CQE_BUFFER_SHIFT);
  }
  // A receive found the ring dry (-ENOBUFS). The next Refill() widens the window by every such
  // receive since the last, and at least doubles it: one pass of many connections finds the ring
  // dry many times over, and needs one buffer for each.
  void RanDry() { ++dry_receives_; }
  // The first byte of buffer `id` (0 <= id < count()).
  const std::byte* data(int id) const { return buffers_.get() + size_t(id) * buffer_size_; }
  // Takes buffer `id` back, after the last read of what it holds; the next Refill() may hand it
  // to the kernel.
  void Return(int id) { returned_.push_back(static_cast<uint16_t>(id)); }
  // Tops the kernel's window up, with the buffers returned last first: before each submission.
  void Refill();

 private:
  struct FreeDeleter {
    void operator()(void* p) const;
  };

  BufferRing(io_uring* ring, uint16_t group, unsigned count, unsigned size);

  io_uring* ring_;
  uint16_t group_;
  unsigned count_;
  unsigned buffer_size_;
  bool registered_ = false;
  // Buffers the kernel holds and may fill (added, not yet taken), and how many it should hold.
  unsigned posted_ = 0;
  unsigned window_;
  unsigned dry_receives_ = 0;  // since the last Refill()
  // Buffers that are neither the kernel's nor the user's: a stack, so the warmest comes first.
  std::vector<uint16_t> returned_;
  // Shared with the kernel: it reads buffer addresses from here, we publish returned ones.
  std::unique_ptr<io_uring_buf_ring, FreeDeleter> entries_;
  std::unique_ptr<std::byte, FreeDeleter> buffers_;
};

}  // namespace socklab::loop

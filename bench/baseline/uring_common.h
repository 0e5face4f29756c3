// What the baseline io_uring programs share: their ring and how they take an SQE. No socklab code.
#pragma once

#include <liburing.h>

#include <cstdio>
#include <cstdlib>

namespace baseline {

// A ring of `entries` with DEFER_TASKRUN and SINGLE_ISSUER when the kernel has them (6.1), a
// plain one before. Exits on failure.
inline void InitRing(io_uring* ring, unsigned entries) {
  io_uring_params params{};
  params.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
  if (io_uring_queue_init_params(entries, ring, &params) < 0) {
    params = io_uring_params{};
    if (int err = io_uring_queue_init_params(entries, ring, &params); err < 0) {
      std::fprintf(stderr, "io_uring_queue_init: error %d\n", -err);
      std::exit(1);
    }
  }
}

inline io_uring_sqe* Sqe(io_uring* ring) {
  io_uring_sqe* sqe = io_uring_get_sqe(ring);
  while (sqe == nullptr) {  // the submission queue is full: hand it to the kernel first
    io_uring_submit(ring);
    sqe = io_uring_get_sqe(ring);
  }
  return sqe;
}

}  // namespace baseline

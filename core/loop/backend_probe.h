#pragma once

#include <string>

#include "core/sysinfo/proc_fs.h"

namespace socklab::loop {

// Whether this process can run the io_uring backend, and if not, why.
struct IoUringSupport {
  bool usable = false;
  // One line for reports and the auto fallback, e.g. "io_uring_setup refused: Operation not
  // permitted (EPERM); seccomp filter, container runtime or kernel.io_uring_disabled".
  std::string reason;
  // The errno behind the refusal (EPERM, ENOSYS, ...); ENOSYS for a missing feature.
  int err = 0;
};

// Probes what the io_uring backend needs, cheapest check first: kernel.io_uring_disabled (6.6+;
// read through `proc`), the kernel release (multishot receive needs 6.0, provided-buffer rings
// 5.19), then a small ring (io_uring_setup fails with EPERM under seccomp/Docker's default
// profile or io_uring_disabled, ENOSYS where the kernel or a sandbox such as gVisor lacks it,
// ENOMEM under a low RLIMIT_MEMLOCK before 5.12) and io_uring_get_probe for the opcodes used.
// Not cached: the answer can differ between processes (a forked child may install seccomp).
// Thread affinity: none. Takes ~tens of microseconds (one ring setup and teardown).
IoUringSupport ProbeIoUring(const ProcFs& proc = ProcFs());

}  // namespace socklab::loop

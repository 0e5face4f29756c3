#pragma once

#include "core/loop/event_loop.h"

namespace socklab::testing {

// Whether this machine lets a program set up io_uring (kernel, seccomp, sysctl): suites that run
// each case on both backends skip the io_uring ones where it does not.
inline bool IoUringUsable() { return loop::SelectBackend(loop::BackendChoice::kIoUring).ok(); }

}  // namespace socklab::testing

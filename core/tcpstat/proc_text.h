#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace socklab::tcpstat {

// Reads a whole /proc seq_file (/proc/net/tcp) with read(2) into a buffer reused across calls.
//
// Why not ProcFs::ReadFile: its ifstream + ostringstream path took 55 ms for a 1.6 MB
// /proc/net/tcp (10,000 sockets) where read(2) into one buffer took 26 ms, the kernel's own
// generation time (Linux 6.18; bench/states_e2e_benchmark.cc). A sampler reading that file every
// second cannot afford twice the kernel's cost, so this is the sampling path; ProcFs stays the
// reader for everything else (its root directory is reused here).
//
// The returned view points into a thread-local buffer and is valid until the next call on the
// same thread. Errors are ErrnoErrors naming the path. Thread affinity: any thread (each has its
// own buffer).
absl::StatusOr<absl::string_view> ReadProcText(const std::string& path);

}  // namespace socklab::tcpstat

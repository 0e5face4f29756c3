#pragma once

#include <atomic>
#include <functional>

#include "absl/status/statusor.h"
#include "client/load/load_options.h"
#include "client/load/load_result.h"

namespace socklab::client {

struct LoadHooks {
  // Called once on the calling thread before the first connect (and after the kernel counters'
  // first reading), with the configuration the run will report (its limit notes say what will
  // go wrong before the user waits for it).
  std::function<void(const LoadConfig& config)> on_start;
  // Called once per second on the calling thread with the second that just ended (progress
  // lines, the --states sampler). May fill `second->states`.
  std::function<void(LoadSecond* second)> on_second;
  // Called once per second on the calling thread, before on_second, with that second's
  // round-trip and connect latency histograms (live --metrics). Optional.
  std::function<void(const Histogram& rtt, const Histogram& connect)> on_interval;
  // Set by any thread (a SIGINT handler) to end the run early; the run then reports what it
  // measured so far. Not owned; may be null.
  const std::atomic<bool>* interrupt = nullptr;
};

// Runs the load described by `options` (which must have passed Validate()): one EventLoop per
// thread, connections spread round-robin over them, and blocks until the run ends. Returns the
// result even when the run aborted (--max-errors, target unreachable: see abort_reason); an error
// Status only when the run could not start (no backend, an event loop that failed).
//
// Thread affinity: call from one thread; it starts and joins the loop threads itself.
absl::StatusOr<LoadResult> RunLoad(const LoadOptions& options, const LoadHooks& hooks = {});

}  // namespace socklab::client

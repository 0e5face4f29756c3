#pragma once

#include "client/tune/tune_options.h"
#include "core/limits/kernel_limits.h"

namespace socklab::client {

// `socklab tune --try NAME=VALUE... -- load FLAGS` (or --from-plan): runs the load against a
// socklab-server in fresh network namespaces, A with this host's values of the named parameters
// and B with the tried ones, interleaved (A B A B ...) --repeat times, and prints them side by
// side with a one-line verdict (or JSON). Returns the exit code: 0 compared, 1 a run failed,
// 2 bad input (a parameter that is not per namespace, a value the kernel refuses, load flags
// that socklab load refuses). `options` must have passed Validate(). Call single-threaded
// (forks).
int RunTry(const TuneOptions& options, const KernelLimits& limits);

}  // namespace socklab::client

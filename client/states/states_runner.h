#pragma once

#include <cstdio>

#include "client/states/states_options.h"

namespace socklab::client {

// Runs `socklab states` with validated `options`: one sample, a series, or the --watch screen.
// Writes results to `out` and diagnostics (--verbose, errors) to `err`; returns the exit code
// (0 done, 1 a sample failed, 2 bad usage such as --watch without a terminal). SIGINT and
// SIGTERM end a series or the watch cleanly (exit 0) after the current sample. Thread affinity:
// the main thread (it installs signal handlers).
int RunStates(const StatesOptions& options, std::FILE* out, std::FILE* err);

}  // namespace socklab::client

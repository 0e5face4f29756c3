#pragma once

#include <cstdio>

#include "CLI/CLI.hpp"
#include "client/trace/trace_options.h"
#include "core/cli/flags.h"

namespace socklab::client {

// Registers `socklab trace` and its flags on `app`.
cli::Command AddTraceCommand(CLI::App& app);

// Traces `options.port` until the duration passes or SIGINT/SIGTERM arrives, printing the
// timeline to `out` as it goes and the summary at the end (errors: one line on stderr, and on
// `out` too with --json). Returns the exit code: 0 traced
// (stopped by the duration or a signal), 1 nothing could be recorded, 2 bad options. Enters
// `options.netns` and may mount tracefs in a private mount namespace: the calling process must
// be single-threaded and is changed for good (socklab runs one command per process).
int RunTrace(const TraceOptions& options, FILE* out);

}  // namespace socklab::client

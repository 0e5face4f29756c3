#pragma once

#include "CLI/CLI.hpp"
#include "core/cli/flags.h"

namespace socklab::client {

// `socklab merge RESULT... [-o merged.json] [--html report.html]`: the agents' results of one
// sharded load added into one (client/merge/merge.h), reported as `socklab load` reports a run.
cli::Command AddMergeCommand(CLI::App& app);

}  // namespace socklab::client

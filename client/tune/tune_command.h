#pragma once

#include "CLI/CLI.hpp"
#include "core/cli/flags.h"

namespace socklab::client {

// Registers `socklab tune` and its flags on `app`.
cli::Command AddTuneCommand(CLI::App& app);

}  // namespace socklab::client

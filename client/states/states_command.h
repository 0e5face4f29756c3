#pragma once

#include "CLI/CLI.hpp"
#include "core/cli/flags.h"

namespace socklab::client {

// Registers `socklab states` and its flags on `app`.
cli::Command AddStatesCommand(CLI::App& app);

}  // namespace socklab::client

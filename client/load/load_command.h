#pragma once

#include "CLI/CLI.hpp"
#include "core/cli/flags.h"

namespace socklab::client {

// Registers `socklab load` and its flags on `app`.
cli::Command AddLoadCommand(CLI::App& app);

}  // namespace socklab::client

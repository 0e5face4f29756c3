#pragma once

#include "CLI/CLI.hpp"
#include "core/cli/flags.h"

namespace socklab::client {

// Registers `socklab repro` and its flags on `app`.
cli::Command AddReproCommand(CLI::App& app);

}  // namespace socklab::client

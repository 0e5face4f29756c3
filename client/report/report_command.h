#pragma once

#include "CLI/CLI.hpp"
#include "core/cli/flags.h"

namespace socklab::client {

// Registers `socklab report` (HTML report of one or more `socklab load --json` files) on `app`.
cli::Command AddReportCommand(CLI::App& app);

}  // namespace socklab::client

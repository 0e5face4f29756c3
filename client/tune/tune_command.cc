#include "client/tune/tune_command.h"

#include <cstdio>

namespace socklab::client {

// Placeholder until the tune command lands.
cli::Command AddTuneCommand(CLI::App& app) {
  CLI::App* sub = app.add_subcommand("tune", "(not built yet)");
  return {sub, [] {
            std::fprintf(stderr, "socklab tune: not built yet\n");
            return 1;
          }};
}

}  // namespace socklab::client

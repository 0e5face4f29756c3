#include "client/repro/repro_command.h"

#include <cstdio>

namespace socklab::client {

// Placeholder until the repro command lands.
cli::Command AddReproCommand(CLI::App& app) {
  CLI::App* sub = app.add_subcommand("repro", "(not built yet)");
  return {sub, [] {
            std::fprintf(stderr, "socklab repro: not built yet\n");
            return 1;
          }};
}

}  // namespace socklab::client

#include "client/states/states_command.h"

#include <cstdio>

namespace socklab::client {

// Placeholder until the states command lands.
cli::Command AddStatesCommand(CLI::App& app) {
  CLI::App* sub = app.add_subcommand("states", "(not built yet)");
  return {sub, [] {
            std::fprintf(stderr, "socklab states: not built yet\n");
            return 1;
          }};
}

}  // namespace socklab::client

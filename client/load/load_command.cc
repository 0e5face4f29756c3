#include "client/load/load_command.h"

#include <cstdio>

namespace socklab::client {

// Placeholder until the load command lands.
cli::Command AddLoadCommand(CLI::App& app) {
  CLI::App* sub = app.add_subcommand("load", "(not built yet)");
  return {sub, [] {
            std::fprintf(stderr, "socklab load: not built yet\n");
            return 1;
          }};
}

}  // namespace socklab::client

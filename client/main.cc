// socklab: the client toolkit. Each subcommand registers its own flags into a plain options
// struct (client/<name>/<name>_command.cc); this file only dispatches.
#include <signal.h>

#include <vector>

#include "CLI/CLI.hpp"
#include "client/load/load_command.h"
#include "client/repro/repro_command.h"
#include "client/states/states_command.h"
#include "client/tune/tune_command.h"
#include "core/cli/flags.h"

int main(int argc, char** argv) {
  // A write to a reset connection must come back as EPIPE, not kill the process.
  signal(SIGPIPE, SIG_IGN);

  CLI::App app("socklab: see, measure and break TCP connections", "socklab");
  app.require_subcommand(1);
  std::vector<socklab::cli::Command> commands = {
      socklab::client::AddLoadCommand(app),
      socklab::client::AddReproCommand(app),
      socklab::client::AddStatesCommand(app),
      socklab::client::AddTuneCommand(app),
  };
  if (int code = socklab::cli::ParseOrExit(app, argc, argv); code >= 0) {
    return code;
  }
  for (socklab::cli::Command& command : commands) {
    if (command.app->parsed()) {
      return command.run();
    }
  }
  return 2;
}

// socklab: the client toolkit. Each subcommand registers its own flags into a plain options
// struct (client/<name>/<name>_command.cc); this file only dispatches.
#include <signal.h>

#include <algorithm>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "client/load/load_command.h"
#include "client/merge/merge_command.h"
#include "client/report/report_command.h"
#include "client/repro/repro_command.h"
#include "client/states/states_command.h"
#include "client/trace/trace_command.h"
#include "client/tune/tune_command.h"
#include "core/base/version.h"
#include "core/cli/closest.h"
#include "core/cli/flags.h"

int main(int argc, char** argv) {
  // A write to a reset connection must come back as EPIPE, not kill the process.
  signal(SIGPIPE, SIG_IGN);

  CLI::App app("socklab: see, measure and break TCP connections", "socklab");
  app.require_subcommand(1);
  app.set_version_flag("--version", "socklab " + std::string(socklab::Version()));
  std::vector<socklab::cli::Command> commands = {
      socklab::client::AddLoadCommand(app),   socklab::client::AddMergeCommand(app),
      socklab::client::AddReportCommand(app), socklab::client::AddReproCommand(app),
      socklab::client::AddStatesCommand(app), socklab::client::AddTraceCommand(app),
      socklab::client::AddTuneCommand(app),
  };
  const bool json = socklab::cli::WantsJson(argc, argv);
  // A mistyped command: name the ones that exist and the closest, which CLI11's "argument not
  // expected" does not.
  if (argc > 1 && argv[1][0] != '-') {
    std::vector<std::string> names;
    for (const socklab::cli::Command& command : commands) {
      names.push_back(command.app->get_name());
    }
    if (std::find(names.begin(), names.end(), argv[1]) == names.end()) {
      std::string closest = socklab::cli::ClosestName(argv[1], names);
      return socklab::cli::ReportError(
          "socklab",
          absl::StrCat("unknown command '", argv[1], "'",
                       closest.empty()
                           ? "; the commands are "
                           : absl::StrCat("; did you mean '", closest, "'? The commands are "),
                       absl::StrJoin(names, ", "), "; run 'socklab --help'"),
          2, json);
    }
  }
  if (int code = socklab::cli::ParseOrExit(app, argc, argv, json); code >= 0) {
    return code;
  }
  for (socklab::cli::Command& command : commands) {
    if (command.app->parsed()) {
      return command.run();
    }
  }
  return 2;
}

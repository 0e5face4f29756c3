// The command line of `socklab` and every subcommand (load, report, repro, states, tune), as the
// program registers it: any argument list is parsed, or refused with a CLI11 parse error (the
// one-line message and exit 2 that ParseOrExit prints); nothing else is thrown and nothing
// crashes. The input's '\0'-separated pieces are the arguments after "socklab"; the chosen
// subcommand is never run.
#include <cstdint>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "client/load/load_command.h"
#include "client/report/report_command.h"
#include "client/repro/repro_command.h"
#include "client/states/states_command.h"
#include "client/tune/tune_command.h"
#include "tests/fuzz/fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::vector<std::string> args = {"socklab"};
  for (absl::string_view piece : socklab::fuzz::Pieces(data, size)) {
    if (args.size() == 64) {
      break;
    }
    args.emplace_back(piece);
  }
  std::vector<const char*> argv;
  for (const std::string& arg : args) {
    argv.push_back(arg.c_str());
  }

  // As client/main.cc builds it.
  CLI::App app("socklab", "socklab");
  app.require_subcommand(1);
  app.set_version_flag("--version", "socklab fuzz");
  // Kept until the parse ends: a command's run owns the options its flags write to.
  std::vector<socklab::cli::Command> commands = {
      socklab::client::AddLoadCommand(app),  socklab::client::AddReportCommand(app),
      socklab::client::AddReproCommand(app), socklab::client::AddStatesCommand(app),
      socklab::client::AddTuneCommand(app),
  };
  try {
    app.parse(static_cast<int>(argv.size()), argv.data());
  } catch (const CLI::ParseError& error) {
    // What ParseOrExit turns into one line and exit 2 (or help, or the version, and exit 0).
    SOCKLAB_FUZZ_CHECK(error.get_exit_code() >= 0);
  }
  return 0;
}

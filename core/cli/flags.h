#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "CLI/CLI.hpp"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace socklab::cli {

// A flag whose text goes through a project parser (text -> absl::StatusOr<T>): a bad value fails
// the parse with the parser's one-line message (exit 2); a good one is handed to `store` during
// the parse. CLI11 reports a validator's non-empty return value as the parse error; `each` then
// converts the text once more, which cannot fail because the validator accepted it.
template <typename T>
CLI::Option* AddParsedFlag(CLI::App& app, const std::string& name, const std::string& description,
                           const std::string& type_name,
                           std::function<absl::StatusOr<T>(absl::string_view)> parse,
                           std::function<void(T)> store) {
  CLI::Option* option = app.add_option(name, description);
  option->type_name(type_name);
  option->check(CLI::Validator(
      [parse](std::string& text) -> std::string {
        absl::StatusOr<T> value = parse(text);
        return value.ok() ? std::string() : std::string(value.status().message());
      },
      "", type_name));
  option->each([parse, store](const std::string& text) { store(*parse(text)); });
  return option;
}

// Flags whose values are durations ("500ms", "2m"), counts ("10k"), rates ("0.5", "1.5k") or byte
// sizes ("64K"), parsed by core/base/units so every program accepts the same forms and prints the
// same errors. A bad value fails the parse with that one-line message (exit 2). The value is
// written to `*out` during the parse; `*out` keeps its default when the flag is absent.
CLI::Option* AddDurationFlag(CLI::App& app, const std::string& name, absl::Duration* out,
                             const std::string& description);
CLI::Option* AddCountFlag(CLI::App& app, const std::string& name, uint64_t* out,
                          const std::string& description);
CLI::Option* AddRateFlag(CLI::App& app, const std::string& name, double* out,
                         const std::string& description);
CLI::Option* AddByteSizeFlag(CLI::App& app, const std::string& name, uint64_t* out,
                             const std::string& description);
// A share of something, a plain decimal number ("0.95"); its range is the options' Validate()'s.
CLI::Option* AddShareFlag(CLI::App& app, const std::string& name, double* out,
                          const std::string& description);
// "0.95" -> 0.95; anything but a finite decimal number is "bad share '<text>'; <forms>".
absl::StatusOr<double> ParseShare(absl::string_view text);

// A subcommand of `socklab`: its CLI11 app and what to run when it was chosen. `run` returns the
// process exit code (0 ran, 1 the run failed, 2 bad usage).
struct Command {
  CLI::App* app = nullptr;
  std::function<int()> run;
};

// Parses argv; on a usage error prints one line "<program>: <problem>; run '<program> --help'"
// to stderr and returns 2 (an option given more often than it takes values: "socklab load:
// --connections given 2 times; give it once"); on --help prints help and returns 0; returns -1
// to go on.
int ParseOrExit(CLI::App& app, int argc, char** argv);

// This process's command line as a shell would need it typed (from /proc/self/cmdline; arguments
// with spaces or quotes are single-quoted), for report headers. Empty when /proc is unreadable.
std::string CommandLine();

// Prints "<program>: <status message>" on stderr and returns the exit code for it: 2 for
// InvalidArgument (bad input the user can fix), 1 otherwise.
int ReportFailure(absl::string_view program, const absl::Status& status);

// 2 for InvalidArgument, else 1: the one place the exit-code convention lives.
int ExitCodeFor(const absl::Status& status);

// With --json, errors are JSON too, so stdout stays parseable whatever happens:
// {"error": "<message>", "exit_code": N, "program": "<program>"} on stdout (the one-line text stays
// on stderr). Without `json` the same as the functions above.
int ReportFailure(absl::string_view program, const absl::Status& status, bool json);
int ParseOrExit(CLI::App& app, int argc, char** argv, bool json);
// Whether argv asks for JSON output (a "--json" argument), for errors found before or while
// parsing it.
bool WantsJson(int argc, char** argv);
// Prints one error as ReportFailure(..., json) does, with an explicit exit code; returns it.
int ReportError(absl::string_view program, absl::string_view message, int exit_code, bool json);

}  // namespace socklab::cli

#include "core/cli/flags.h"

#include <cmath>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "core/base/status.h"
#include "core/base/units.h"
#include "nlohmann/json.hpp"

namespace socklab::cli {
namespace {

// A flag stored into `*out`.
template <typename T>
CLI::Option* AddStoredFlag(CLI::App& app, const std::string& name, T* out,
                           const std::string& description,
                           absl::StatusOr<T> (*parse)(absl::string_view), const char* type_name) {
  return AddParsedFlag<T>(app, name, description, type_name, parse, [out](T v) { *out = v; });
}

// The option given more times than it takes values ("-c 1 -c 2"), searched in `app` and the
// subcommands that were parsed; null when none was.
const CLI::Option* RepeatedOption(const CLI::App& app) {
  for (const CLI::Option* option : app.get_options()) {
    const int most = option->get_items_expected_max();
    if (most > 0 && option->count() > static_cast<size_t>(most)) {
      return option;
    }
  }
  for (const CLI::App* sub : app.get_subcommands()) {
    if (const CLI::Option* option = RepeatedOption(*sub)) {
      return option;
    }
  }
  return nullptr;
}

// "socklab load": the program and the subcommands that were parsed, for the help hint.
std::string CommandPath(const CLI::App& app) {
  std::string path = app.get_name();
  for (const CLI::App* sub : app.get_subcommands()) {
    path += " " + sub->get_name();
  }
  return path;
}

}  // namespace

CLI::Option* AddDurationFlag(CLI::App& app, const std::string& name, absl::Duration* out,
                             const std::string& description) {
  return AddStoredFlag<absl::Duration>(app, name, out, description, &ParseDuration, "DURATION");
}

CLI::Option* AddCountFlag(CLI::App& app, const std::string& name, uint64_t* out,
                          const std::string& description) {
  return AddStoredFlag<uint64_t>(app, name, out, description, &ParseCount, "COUNT");
}

CLI::Option* AddRateFlag(CLI::App& app, const std::string& name, double* out,
                         const std::string& description) {
  return AddStoredFlag<double>(app, name, out, description, &ParseRate, "RATE");
}

CLI::Option* AddByteSizeFlag(CLI::App& app, const std::string& name, uint64_t* out,
                             const std::string& description) {
  return AddStoredFlag<uint64_t>(app, name, out, description, &ParseByteSize, "BYTES");
}

CLI::Option* AddShareFlag(CLI::App& app, const std::string& name, double* out,
                          const std::string& description) {
  return AddStoredFlag<double>(app, name, out, description, &ParseShare, "SHARE");
}

absl::StatusOr<double> ParseShare(absl::string_view text) {
  double share = 0;
  if (!absl::SimpleAtod(text, &share) || !std::isfinite(share)) {
    return UsageError(absl::StrCat("bad share '", text, "'"), "use a decimal number such as 0.95");
  }
  return share;
}

int ParseOrExit(CLI::App& app, int argc, char** argv) {
  return ParseOrExit(app, argc, argv, false);
}

int ParseOrExit(CLI::App& app, int argc, char** argv, bool json) {
  // CLI11 signals parse results with exceptions; they stop here and become exit codes.
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    const std::string program = app.get_name();
    const std::string help = CommandPath(app);
    if (const CLI::Option* repeated = RepeatedOption(app);
        dynamic_cast<const CLI::ArgumentMismatch*>(&e) != nullptr && repeated != nullptr) {
      // CLI11's own text ("--connections: At Most 1 required but received 2") names neither the
      // mistake nor the fix.
      std::fprintf(stderr, "%s: %s given %zu times; give it once\n", help.c_str(),
                   repeated->get_name().c_str(), repeated->count());
      return 2;
    }
    return ReportError(program, absl::StrCat(e.what(), "; run '", help, " --help'"), 2, json);
  }
  return -1;
}

std::string CommandLine() {
  std::ifstream in("/proc/self/cmdline", std::ios::binary);
  std::string raw((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::string line;
  size_t start = 0;
  while (start < raw.size()) {
    size_t end = raw.find('\0', start);
    if (end == std::string::npos) {
      end = raw.size();
    }
    const std::string arg = raw.substr(start, end - start);
    if (!line.empty()) {
      line += ' ';
    }
    const bool plain =
        !arg.empty() && arg.find_first_of(" \t\n'\"\\$`*?;&|<>()[]{}!#~") == std::string::npos;
    if (plain) {
      line += arg;
    } else {
      // Single quotes keep everything literal; a quote inside closes, escapes and reopens.
      line += '\'';
      for (char ch : arg) {
        line += ch == '\'' ? std::string("'\\''") : std::string(1, ch);
      }
      line += '\'';
    }
    start = end + 1;
  }
  return line;
}

int ExitCodeFor(const absl::Status& status) {
  if (status.ok()) {
    return 0;
  }
  return status.code() == absl::StatusCode::kInvalidArgument ? 2 : 1;
}

int ReportFailure(absl::string_view program, const absl::Status& status) {
  return ReportFailure(program, status, false);
}

int ReportFailure(absl::string_view program, const absl::Status& status, bool json) {
  return ReportError(program, status.message(), ExitCodeFor(status), json);
}

int ReportError(absl::string_view program, absl::string_view message, int exit_code, bool json) {
  std::fprintf(stderr, "%.*s: %.*s\n", static_cast<int>(program.size()), program.data(),
               static_cast<int>(message.size()), message.data());
  if (json) {
    nlohmann::json error = {{"error", std::string(message)},
                            {"exit_code", exit_code},
                            {"program", std::string(program)}};
    std::fprintf(stdout, "%s\n", error.dump().c_str());
    std::fflush(stdout);
  }
  return exit_code;
}

bool WantsJson(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    if (std::string_view(argv[i]) == "--json") {
      return true;
    }
  }
  return false;
}

}  // namespace socklab::cli

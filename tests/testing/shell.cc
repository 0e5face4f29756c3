#include "tests/testing/shell.h"

#include <stdio.h>
#include <sys/wait.h>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace socklab::testing {

ShellRun RunShell(const std::string& command) {
  ShellRun run;
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) {
    return run;
  }
  char buffer[4096];
  size_t n;
  while ((n = fread(buffer, 1, sizeof(buffer), pipe)) > 0) {
    run.out.append(buffer, n);
  }
  const int status = pclose(pipe);
  run.exit_code = status != -1 && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return run;
}

std::optional<std::string> ShellOutput(const std::string& command) {
  ShellRun run = RunShell(command);
  if (run.exit_code != 0) {
    return std::nullopt;
  }
  return std::string(absl::StripAsciiWhitespace(run.out));
}

std::vector<uint8_t> TsharkTcpFlags(const std::string& pcap_path) {
  // One line per frame: its TCP flags in hex ("0x0012").
  ShellRun run =
      RunShell(absl::StrCat("tshark -r '", pcap_path, "' -T fields -e tcp.flags 2>/dev/null"));
  std::vector<uint8_t> flags;
  for (absl::string_view line : absl::StrSplit(run.out, '\n', absl::SkipWhitespace())) {
    uint32_t value = 0;
    if (absl::SimpleHexAtoi(absl::StripAsciiWhitespace(line), &value)) {
      flags.push_back(static_cast<uint8_t>(value & 0xff));
    }
  }
  return flags;
}

}  // namespace socklab::testing

#include "tests/testing/shell.h"

#include <stdio.h>
#include <sys/wait.h>

#include "absl/strings/ascii.h"

namespace socklab::testing {

std::optional<std::string> ShellOutput(const std::string& command) {
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) {
    return std::nullopt;
  }
  std::string out;
  char buffer[256];
  while (fgets(buffer, sizeof(buffer), pipe) != nullptr) {
    out += buffer;
  }
  int status = pclose(pipe);
  if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return std::nullopt;
  }
  return std::string(absl::StripAsciiWhitespace(out));
}

}  // namespace socklab::testing

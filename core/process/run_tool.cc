#include "core/process/run_tool.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "core/process/child_process.h"

namespace socklab {
namespace {

// PATH first, as a shell would; then the sbin directories, because Debian keeps nft, ip and tc in
// /usr/sbin, which a non-login shell's PATH (and ctest's environment) may lack.
std::string FindProgram(const std::string& name) {
  if (name.find('/') != std::string::npos) {
    return name;
  }
  std::vector<std::string> dirs;
  if (const char* path = getenv("PATH"); path != nullptr) {
    for (absl::string_view dir : absl::StrSplit(path, ':', absl::SkipEmpty())) {
      dirs.emplace_back(dir);
    }
  }
  for (const char* dir : {"/usr/sbin", "/sbin"}) {
    dirs.emplace_back(dir);
  }
  for (const std::string& dir : dirs) {
    std::string path = absl::StrCat(dir, "/", name);
    if (access(path.c_str(), X_OK) == 0) {
      return path;
    }
  }
  return name;
}

// dup2 that also works when `from` already is `to`: dup2 is then a no-op and would leave
// FD_CLOEXEC set, so the program would start without that descriptor.
void MoveFdTo(int from, int to) {
  if (from == to) {
    fcntl(to, F_SETFD, 0);
  } else {
    dup2(from, to);
  }
}

}  // namespace

absl::StatusOr<std::string> RunTool(const std::vector<std::string>& args, absl::Duration timeout) {
  if (args.empty()) {
    return absl::InvalidArgumentError("RunTool: no program");
  }
  std::string program = FindProgram(args[0]);
  std::vector<char*> argv;
  for (const std::string& arg : args) {
    argv.push_back(const_cast<char*>(arg.c_str()));
  }
  argv.push_back(nullptr);
  absl::StatusOr<CapturedChild> ran = RunForked(
      [&](int write_fd) {
        // Every descriptor here is O_CLOEXEC; only 0, 1 and 2 (cleared by MoveFdTo) reach the
        // program.
        int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (devnull >= 0) {
          MoveFdTo(devnull, 0);
        }
        MoveFdTo(write_fd, 1);
        MoveFdTo(write_fd, 2);
        execv(program.c_str(), argv.data());
        _exit(127);
      },
      timeout);
  if (!ran.ok()) {
    return ran.status();
  }
  std::string command = absl::StrJoin(args, " ");
  if (ran->exit.timed_out) {
    return absl::DeadlineExceededError(
        absl::StrCat(command, ": no answer within ", absl::FormatDuration(timeout)));
  }
  if (ran->exit.exit_code == 127) {
    return absl::NotFoundError(absl::StrCat(command, ": ", program,
                                            " not found; install it (apt-get install nftables "
                                            "iproute2)"));
  }
  if (ran->exit.exit_code != 0) {
    return absl::InternalError(
        absl::StrCat(command, ": exit ", ran->exit.exit_code, ": ", ran->output));
  }
  return std::move(ran->output);
}

}  // namespace socklab

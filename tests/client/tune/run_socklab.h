#pragma once

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace socklab::testing_tune {

struct RunResult {
  int exit_code = -1;  // -1: killed or did not start
  std::string out;
  std::string err;
};

// The socklab binary under test: $SOCKLAB_BIN_DIR/socklab (ctest sets it to build/bin).
inline std::string SocklabPath() {
  const char* dir = std::getenv("SOCKLAB_BIN_DIR");
  return std::string(dir == nullptr ? "bin" : dir) + "/socklab";
}

inline std::string Slurp(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// Runs `program args...` with stdout and stderr captured in files; kills it after `timeout_s`
// seconds (bounded: polls every 10 ms), or when the calling process dies (PR_SET_PDEATHSIG).
inline RunResult RunProgram(const std::vector<std::string>& argv, int timeout_s = 60) {
  static int counter = 0;
  std::filesystem::path dir =
      std::filesystem::path(::testing::TempDir()) /
      ("socklab_run_" + std::to_string(getpid()) + "_" + std::to_string(counter++));
  std::filesystem::create_directories(dir);
  std::filesystem::path out_path = dir / "out";
  std::filesystem::path err_path = dir / "err";
  RunResult result;
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid == 0) {
    // Dies with the caller: a scenario child killed by its alarm takes its programs along.
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent) {
      _exit(126);
    }
    int out = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int err = open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (out < 0 || err < 0) {
      _exit(127);
    }
    dup2(out, 1);
    dup2(err, 2);
    std::vector<char*> args;
    for (const std::string& arg : argv) {
      args.push_back(const_cast<char*>(arg.c_str()));
    }
    args.push_back(nullptr);
    execvp(args[0], args.data());
    _exit(127);
  }
  if (pid < 0) {
    return result;
  }
  int status = 0;
  bool done = false;
  for (int i = 0; i < timeout_s * 100; ++i) {
    if (waitpid(pid, &status, WNOHANG) == pid) {
      done = true;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (!done) {
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
  } else if (WIFEXITED(status)) {
    result.exit_code = WEXITSTATUS(status);
  }
  result.out = Slurp(out_path);
  result.err = Slurp(err_path);
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  return result;
}

inline RunResult RunSocklab(std::vector<std::string> args, int timeout_s = 60) {
  args.insert(args.begin(), SocklabPath());
  return RunProgram(args, timeout_s);
}

}  // namespace socklab::testing_tune

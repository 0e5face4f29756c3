#pragma once

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "core/base/clock.h"

namespace socklab::testing {

// A program from $SOCKLAB_BIN_DIR run in the background with stdout and stderr in files, so a
// test can wait for a line it prints (a condition, polled), signal it and read what it wrote.
// The child is killed (SIGKILL) and reaped on destruction. Thread affinity: the test thread.
class BackgroundProgram {
 public:
  BackgroundProgram(const std::string& program, std::vector<std::string> args,
                    const std::string& output_prefix)
      : out_path_(output_prefix + ".out"), err_path_(output_prefix + ".err") {
    const char* dir = std::getenv("SOCKLAB_BIN_DIR");
    if (dir == nullptr) {
      return;
    }
    args.insert(args.begin(), std::string(dir) + "/" + program);
    if (access(args[0].c_str(), X_OK) != 0) {
      return;
    }
    std::vector<char*> argv;
    for (std::string& arg : args) {
      argv.push_back(arg.data());
    }
    argv.push_back(nullptr);
    const int out = open(out_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    const int err = open(err_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    pid_ = fork();
    if (pid_ == 0) {
      dup2(out, STDOUT_FILENO);
      dup2(err, STDERR_FILENO);
      alarm(170);  // never outlive the suite's ctest TIMEOUT
      execv(argv[0], argv.data());
      _exit(127);
    }
    close(out);
    close(err);
  }
  ~BackgroundProgram() {
    if (pid_ > 0 && !reaped_) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    unlink(out_path_.c_str());
    unlink(err_path_.c_str());
  }
  BackgroundProgram(const BackgroundProgram&) = delete;
  BackgroundProgram& operator=(const BackgroundProgram&) = delete;

  bool started() const { return pid_ > 0; }
  std::string out() const { return Read(out_path_); }
  std::string err() const { return Read(err_path_); }

  // Polls stdout every 10 ms until it contains `text`; false after `timeout_ms` or when the
  // program exited without printing it.
  bool WaitForOutput(const std::string& text, int64_t timeout_ms) {
    const int64_t deadline = MonotonicNanos() + timeout_ms * 1'000'000;
    while (MonotonicNanos() < deadline) {
      if (out().find(text) != std::string::npos) {
        return true;
      }
      if (!reaped_ && waitpid(pid_, &status_, WNOHANG) == pid_) {
        reaped_ = true;
      }
      if (reaped_) {
        return out().find(text) != std::string::npos;
      }
      usleep(10'000);
    }
    return false;
  }

  void Signal(int sig) const {
    if (pid_ > 0 && !reaped_) {
      kill(pid_, sig);
    }
  }

  // The exit code once it exits; -1 when it was still running after `timeout_ms` (then killed)
  // or ended by a signal.
  int WaitExit(int64_t timeout_ms) {
    const int64_t deadline = MonotonicNanos() + timeout_ms * 1'000'000;
    while (!reaped_ && MonotonicNanos() < deadline) {
      if (waitpid(pid_, &status_, WNOHANG) == pid_) {
        reaped_ = true;
        break;
      }
      usleep(10'000);
    }
    if (!reaped_) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
      reaped_ = true;
      return -1;
    }
    return WIFEXITED(status_) ? WEXITSTATUS(status_) : -1;
  }

 private:
  static std::string Read(const std::string& path) {
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }

  std::string out_path_;
  std::string err_path_;
  pid_t pid_ = -1;
  bool reaped_ = false;
  int status_ = 0;
};

}  // namespace socklab::testing

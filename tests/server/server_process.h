#pragma once

// socklab-server as a child process for the process-level suites: flags, signals, its stdout
// (text or JSON lines) and stderr collected, /proc views of it.

#include <fcntl.h>
#include <signal.h>
#include <stddef.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_split.h"
#include "core/base/unique_fd.h"
#include "core/net/address.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/testing/io_uring_refusal.h"

namespace socklab::server::testing {

// The "listening ADDR backend=B threads=N" text of the first stdout line, which is either that
// text or (--json) its JSON event; empty when it is neither.
inline std::string ListeningText(const std::string& line) {
  if (line.rfind("listening ", 0) == 0) {
    return line;
  }
  nlohmann::json j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object() || j.value("event", "") != "listening") {
    return "";
  }
  return "listening " + j.value("listen", "") + " backend=" + j.value("backend", "") +
         " threads=" + std::to_string(j.value("threads", 0));
}

inline std::string ServerBinary() {
  const char* dir = std::getenv("SOCKLAB_BIN_DIR");
  return std::string(dir != nullptr ? dir : "build/bin") + "/socklab-server";
}

// How the child is set up between fork and exec (async-signal-safe calls only).
struct ChildSetup {
  rlim_t nofile = 0;             // 0: inherit
  bool refuse_io_uring = false;  // seccomp: io_uring_setup fails with EPERM
};

// A running socklab-server with its stdout and stderr collected.
class ServerProcess {
 public:
  ServerProcess(std::vector<std::string> args, ChildSetup setup = {}) {
    args.insert(args.begin(), ServerBinary());
    std::vector<char*> argv;
    for (std::string& a : args) {
      argv.push_back(a.data());
    }
    argv.push_back(nullptr);
    int out[2];
    int err[2];
    if (pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0) {
      return;
    }
    pid_ = fork();
    if (pid_ == 0) {
      dup2(out[1], 1);
      dup2(err[1], 2);
      if (setup.nofile > 0) {
        rlimit rl{setup.nofile, setup.nofile};
        setrlimit(RLIMIT_NOFILE, &rl);
      }
      if (setup.refuse_io_uring) {
        ::socklab::testing::RefuseIoUringSetup();
      }
      execv(argv[0], argv.data());
      _exit(127);
    }
    close(out[1]);
    close(err[1]);
    out_ = UniqueFd(out[0]);
    err_ = UniqueFd(err[0]);
    fcntl(out_.get(), F_SETFL, O_NONBLOCK);
    fcntl(err_.get(), F_SETFL, O_NONBLOCK);
  }
  ~ServerProcess() { Kill(); }

  // SIGKILL and reap (no-op once exited).
  void Kill() {
    if (pid_ > 0 && !exited_) {
      kill(pid_, SIGKILL);
      int status = 0;
      waitpid(pid_, &status, 0);
      exited_ = true;
      exit_code_ = 128 + SIGKILL;
    }
  }

  pid_t pid() const { return pid_; }

  // Waits (up to `timeout_ms`) for the "listening ADDR backend=B threads=N" line, or with
  // --json the {"event":"listening",...} line, and returns it in the text form; empty on failure.
  std::string WaitListening(int timeout_ms = 20000) {
    for (int i = 0; i * 10 <= timeout_ms; ++i) {
      Drain();
      size_t end = stdout_.find('\n');
      if (end != std::string::npos) {
        return ListeningText(stdout_.substr(0, end));
      }
      if (Exited(0)) {
        return "";
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return "";
  }
  SocketAddress Address() {
    std::string line = WaitListening();
    std::vector<std::string> parts = absl::StrSplit(line, ' ');
    if (parts.size() < 2) {
      return SocketAddress();
    }
    absl::StatusOr<SocketAddress> a = SocketAddress::Parse(parts[1]);
    return a.ok() ? *a : SocketAddress();
  }
  // With --json: every stdout line parsed (a line that is not JSON fails the test).
  std::vector<nlohmann::json> JsonLines() {
    std::vector<nlohmann::json> lines;
    for (absl::string_view line : absl::StrSplit(out(), '\n', absl::SkipEmpty())) {
      nlohmann::json j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
      EXPECT_FALSE(j.is_discarded()) << "not a JSON line: " << line;
      lines.push_back(std::move(j));
    }
    return lines;
  }
  // With --json: the summary object (null until the server printed it).
  nlohmann::json Summary() {
    for (nlohmann::json& j : JsonLines()) {
      if (j.value("event", "") == "summary") {
        return j;
      }
    }
    return nlohmann::json();
  }

  // Waits up to timeout_ms for the process to exit; true when it has.
  bool Exited(int timeout_ms) {
    for (int i = 0; !exited_; ++i) {
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        exited_ = true;
        exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        break;
      }
      if (i * 10 >= timeout_ms) {
        return false;
      }
      Drain();
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    Drain();
    return true;
  }
  int exit_code() const { return exit_code_; }
  const std::string& out() {
    Drain();
    return stdout_;
  }
  const std::string& err() {
    Drain();
    return stderr_;
  }

  // utime + stime of the process, in clock ticks.
  long CpuTicks() {
    std::ifstream in("/proc/" + std::to_string(pid_) + "/stat");
    std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    size_t close_paren = stat.rfind(')');
    if (close_paren == std::string::npos) {
      return -1;
    }
    std::istringstream rest(stat.substr(close_paren + 2));
    std::string field;
    long utime = 0;
    long stime = 0;
    // Fields after the command: state(3) ... utime(14) stime(15).
    for (int i = 3; i <= 15; ++i) {
      rest >> field;
      if (i == 14) {
        utime = std::stol(field);
      } else if (i == 15) {
        stime = std::stol(field);
      }
    }
    return utime + stime;
  }

 private:
  void Drain() {
    char buf[4096];
    ssize_t n;
    while (out_ && (n = read(out_.get(), buf, sizeof(buf))) > 0) {
      stdout_.append(buf, static_cast<size_t>(n));
    }
    while (err_ && (n = read(err_.get(), buf, sizeof(buf))) > 0) {
      stderr_.append(buf, static_cast<size_t>(n));
    }
  }

  pid_t pid_ = -1;
  bool exited_ = false;
  int exit_code_ = -1;
  UniqueFd out_;
  UniqueFd err_;
  std::string stdout_;
  std::string stderr_;
};

}  // namespace socklab::server::testing

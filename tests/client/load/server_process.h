#pragma once

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "core/net/address.h"

namespace socklab::testing {

// socklab-server from $SOCKLAB_BIN_DIR as a child process on 127.0.0.1 port 0; the port is
// read from its "listening ADDR:PORT" line. ok() is false when the binary is missing (the test
// then skips). The child is killed (SIGKILL: a test needs no clean shutdown and must not hang
// on one) and reaped on destruction.
// Thread affinity: the test thread.
class ServerProcess {
 public:
  explicit ServerProcess(std::vector<std::string> extra_args) {
    const char* dir = std::getenv("SOCKLAB_BIN_DIR");
    if (dir == nullptr) {
      return;
    }
    const std::string binary = std::string(dir) + "/socklab-server";
    if (access(binary.c_str(), X_OK) != 0) {
      return;
    }
    int out[2];
    if (pipe(out) != 0) {
      return;
    }
    std::vector<std::string> args = {binary, "-l", "127.0.0.1:0", "-t", "1"};
    args.insert(args.end(), extra_args.begin(), extra_args.end());
    pid_ = fork();
    if (pid_ == 0) {
      dup2(out[1], STDOUT_FILENO);
      close(out[0]);
      close(out[1]);
      std::vector<char*> argv;
      for (std::string& arg : args) {
        argv.push_back(arg.data());
      }
      argv.push_back(nullptr);
      execv(argv[0], argv.data());
      _exit(127);
    }
    close(out[1]);
    FILE* reader = fdopen(out[0], "r");
    char line[512];
    // Bounded: the server prints its listening line at once, or exits (EOF).
    for (int i = 0; i < 20 && std::fgets(line, sizeof(line), reader) != nullptr; ++i) {
      std::string text(line);
      if (text.rfind("listening ", 0) == 0) {
        const size_t space = text.find(' ', 10);
        auto address = SocketAddress::Parse(text.substr(10, space - 10));
        if (address.ok()) {
          address_ = *address;
          ok_ = true;
        }
        break;
      }
    }
    reader_ = reader;
  }
  ~ServerProcess() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    if (reader_ != nullptr) {
      std::fclose(reader_);
    }
  }

  bool ok() const { return ok_; }
  SocketAddress address() const { return address_; }

 private:
  pid_t pid_ = -1;
  FILE* reader_ = nullptr;
  bool ok_ = false;
  SocketAddress address_;
};

}  // namespace socklab::testing

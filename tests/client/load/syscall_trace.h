#pragma once

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "core/capture/kernel_events.h"

namespace socklab::testing {

// The kernel's own count of one process's socket(AF_INET, ...) calls, from the syscall
// tracepoints syscalls:sys_enter_socket and sys_exit_socket in a private tracefs instance (named
// like KernelEventTrace's, so RemoveStaleTraceInstances removes it if the test dies). The
// instance follows the pid given to Follow() and, through options/event-fork, every thread it
// starts afterwards: load's workers are threads. Needs root; when tracefs is not mounted it is
// mounted in a private mount namespace of the calling process (TracefsRoot), so call Open() from
// the test thread while no other thread runs. Thread affinity: the test thread.
class SocketSyscallTrace {
 public:
  static absl::StatusOr<std::unique_ptr<SocketSyscallTrace>> Open() {
    absl::Status stale = RemoveStaleTraceInstances();
    if (!stale.ok()) {
      return stale;
    }
    absl::StatusOr<std::string> root = TracefsRoot();
    if (!root.ok()) {
      return root.status();
    }
    const std::string dir = absl::StrCat(*root, "/instances/socklab-", getpid());
    if (mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
      return absl::InternalError(absl::StrCat("mkdir ", dir));
    }
    std::unique_ptr<SocketSyscallTrace> trace(new SocketSyscallTrace(dir));
    for (const auto& [file, value] : {
             std::pair<std::string, std::string>{"tracing_on", "0"},
             {"buffer_size_kb", "4096"},
             {"options/event-fork", "1"},
             {"events/syscalls/sys_exit_socket/filter", "ret < 0"},
             {"events/syscalls/sys_enter_socket/enable", "1"},
             {"events/syscalls/sys_exit_socket/enable", "1"},
         }) {
      if (!trace->Write(file, value)) {
        return absl::InternalError(absl::StrCat("cannot write '", value, "' to ", dir, "/", file));
      }
    }
    return trace;
  }
  ~SocketSyscallTrace() {
    Write("events/enable", "0");
    rmdir(dir_.c_str());
  }
  SocketSyscallTrace(const SocketSyscallTrace&) = delete;
  SocketSyscallTrace& operator=(const SocketSyscallTrace&) = delete;

  // Traces `pid` and the threads it starts from now on (call it before the process runs).
  bool Follow(pid_t pid) {
    return Write("set_event_pid", absl::StrCat(pid)) && Write("trace", "") &&
           Write("tracing_on", "1");
  }

  // socket(AF_INET, ...) only: the client's connections, not the netlink sockets it opens to
  // read the kernel's tables. A failure is matched to its call by thread (a thread's exit
  // follows its own entry).
  struct Counts {
    uint64_t calls = 0;   // socket(AF_INET, ...) entered
    uint64_t failed = 0;  // of those, returned an error
  };
  Counts Read() const {
    std::ifstream in(absl::StrCat(dir_, "/trace"));
    Counts counts;
    std::map<std::string, bool> inet_call_of_thread;  // "comm-tid" -> its last call was AF_INET
    std::string line;
    while (std::getline(in, line)) {
      if (line.empty() || line[0] == '#') {
        continue;
      }
      const size_t start = line.find_first_not_of(' ');
      const std::string thread = line.substr(start, line.find(' ', start) - start);
      if (line.find(": sys_socket(") != std::string::npos) {
        const bool inet = line.find("(family: 2,") != std::string::npos;
        inet_call_of_thread[thread] = inet;
        counts.calls += inet ? 1 : 0;
      } else if (line.find(": sys_socket -> ") != std::string::npos &&
                 inet_call_of_thread[thread]) {
        ++counts.failed;
      }
    }
    return counts;
  }

  // Events the ring buffer dropped (all CPUs): a count is exact only when this is 0.
  uint64_t Overruns() const {
    uint64_t total = 0;
    for (int cpu = 0; cpu < 1024; ++cpu) {
      std::ifstream in(absl::StrCat(dir_, "/per_cpu/cpu", cpu, "/stats"));
      if (!in) {
        break;
      }
      std::string key;
      uint64_t value = 0;
      while (in >> key) {
        if (key == "overrun:" && in >> value) {
          total += value;
        }
      }
    }
    return total;
  }

 private:
  explicit SocketSyscallTrace(std::string dir) : dir_(std::move(dir)) {}
  bool Write(const std::string& file, const std::string& value) const {
    std::ofstream out(absl::StrCat(dir_, "/", file));
    out << value;
    out.flush();
    return static_cast<bool>(out);
  }

  std::string dir_;
};

}  // namespace socklab::testing

#pragma once

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <fstream>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "core/capture/kernel_events.h"

namespace socklab::testing {

// The kernel's own record of one process's calls of one syscall, from the syscall tracepoints
// syscalls:sys_enter_NAME and sys_exit_NAME in a private tracefs instance (named like
// KernelEventTrace's, so RemoveStaleTraceInstances removes it if the test dies). The instance
// follows the pids given to Follow() and, through options/event-fork, every thread they start
// afterwards: load's workers are threads. Needs root; when tracefs is not mounted it is mounted in
// a private mount namespace of the calling process (TracefsRoot), so call Open() from the test
// thread while no other thread runs. Thread affinity: the test thread.
class SyscallTrace {
 public:
  // Records the exits of `syscall` ("socket", "recvfrom", ...) that pass `exit_filter` (a
  // tracepoint filter such as "ret < 0"; empty passes all), and with `entries` its entries too.
  static absl::StatusOr<std::unique_ptr<SyscallTrace>> Open(const std::string& syscall,
                                                            const std::string& exit_filter,
                                                            bool entries) {
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
    std::unique_ptr<SyscallTrace> trace(new SyscallTrace(dir, syscall));
    const std::string events = "events/syscalls/sys_";
    for (const auto& [file, value] : {
             std::pair<std::string, std::string>{"tracing_on", "0"},
             {"buffer_size_kb", "4096"},
             {"options/event-fork", "1"},
             {absl::StrCat(events, "exit_", syscall, "/filter"),
              exit_filter.empty() ? "0" : exit_filter},
             {absl::StrCat(events, "enter_", syscall, "/enable"), entries ? "1" : "0"},
             {absl::StrCat(events, "exit_", syscall, "/enable"), "1"},
         }) {
      if (!trace->Write(file, value)) {
        return absl::InternalError(absl::StrCat("cannot write '", value, "' to ", dir, "/", file));
      }
    }
    return trace;
  }
  ~SyscallTrace() {
    Write("events/enable", "0");
    rmdir(dir_.c_str());
  }
  SyscallTrace(const SyscallTrace&) = delete;
  SyscallTrace& operator=(const SyscallTrace&) = delete;

  // Traces `pid` and the threads it starts from now on (call it before the process runs).
  bool Follow(pid_t pid) {
    return Write("set_event_pid", absl::StrCat(pid)) && Write("trace", "") &&
           Write("tracing_on", "1");
  }

  // The records, oldest first: "COMM-TID ... : sys_NAME(args)" for an entry and
  // "COMM-TID ... : sys_NAME -> 0x..." for an exit.
  std::vector<std::string> Records() const {
    std::ifstream in(absl::StrCat(dir_, "/trace"));
    std::vector<std::string> records;
    std::string line;
    while (std::getline(in, line)) {
      if (!line.empty() && line[0] != '#') {
        records.push_back(line);
      }
    }
    return records;
  }

  // The exits recorded (those that passed the filter).
  uint64_t Exits() const {
    const std::string exit = absl::StrCat(": sys_", syscall_, " -> ");
    uint64_t exits = 0;
    for (const std::string& record : Records()) {
      exits += record.find(exit) != std::string::npos ? 1 : 0;
    }
    return exits;
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
  SyscallTrace(std::string dir, std::string syscall)
      : dir_(std::move(dir)), syscall_(std::move(syscall)) {}
  bool Write(const std::string& file, const std::string& value) const {
    std::ofstream out(absl::StrCat(dir_, "/", file));
    out << value;
    out.flush();
    return static_cast<bool>(out);
  }

  std::string dir_;
  std::string syscall_;
};

}  // namespace socklab::testing

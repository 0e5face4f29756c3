#include "bench/machine_context.h"

#include <string>

#include "absl/status/statusor.h"
#include "benchmark/benchmark.h"
#include "core/loop/event_loop.h"
#include "core/sysinfo/machine.h"

namespace socklab::bench {
namespace {

std::string Known(int64_t value) { return value < 0 ? "?" : std::to_string(value); }

}  // namespace

void RecordMachineContext() {
  MachineInfo machine = ReadMachineInfo();
  benchmark::AddCustomContext("kernel",
                              machine.kernel_release.empty() ? "?" : machine.kernel_release);
  benchmark::AddCustomContext("cpus_usable", Known(machine.cpus > 0 ? machine.cpus : -1));
  benchmark::AddCustomContext(
      "nofile", std::to_string(machine.nofile_soft) + "/" + std::to_string(machine.nofile_hard));
  benchmark::AddCustomContext("somaxconn", Known(machine.somaxconn));
  benchmark::AddCustomContext("ip_local_port_range",
                              Known(machine.port_range_low) + "-" + Known(machine.port_range_high));
  benchmark::AddCustomContext("io_uring_disabled", Known(machine.io_uring_disabled));
  absl::StatusOr<loop::BackendSelection> uring = loop::SelectBackend(loop::BackendChoice::kIoUring);
  benchmark::AddCustomContext(
      "backends", uring.ok()
                      ? "epoll, io_uring"
                      : "epoll only (io_uring: " + std::string(uring.status().message()) + ")");
}

}  // namespace socklab::bench

// The kernel settings `socklab tune` reads (sysctl files, /proc/self/limits, /proc/net/snmp and
// netstat) and the formulas on them, from a tree as `tune --root DIR` takes it from another
// machine or a fixture: any file contents give limits and capacities without a crash, an
// overflow or an endless loop. The input's '\0'-separated pieces become the files, in the order
// of kFiles (a missing piece leaves its file out).
#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>

#include "core/limits/derivations.h"
#include "core/limits/kernel_limits.h"
#include "core/sysinfo/proc_fs.h"
#include "core/sysinfo/tcp_counters.h"
#include "tests/fuzz/fuzz_input.h"

namespace {

// The files below the root that the readers open, most telling first.
constexpr const char* kFiles[] = {
    "proc/sys/net/ipv4/ip_local_port_range",
    "proc/sys/net/ipv4/ip_local_reserved_ports",
    "proc/self/limits",
    "proc/sys/net/core/somaxconn",
    "proc/sys/net/ipv4/tcp_syn_retries",
    "proc/sys/net/ipv4/tcp_syn_linear_timeouts",
    "proc/sys/net/ipv4/tcp_rto_max_ms",
    "proc/sys/net/ipv4/tcp_retries2",
    "proc/sys/net/ipv4/tcp_synack_retries",
    "proc/sys/net/ipv4/tcp_max_tw_buckets",
    "proc/sys/net/ipv4/tcp_tw_reuse",
    "proc/sys/net/ipv4/tcp_tw_reuse_delay",
    "proc/sys/net/ipv4/tcp_keepalive_time",
    "proc/sys/net/ipv4/tcp_keepalive_intvl",
    "proc/sys/net/ipv4/tcp_keepalive_probes",
    "proc/sys/net/ipv4/tcp_rmem",
    "proc/sys/net/ipv4/tcp_wmem",
    "proc/sys/net/ipv4/tcp_mem",
    "proc/sys/fs/nr_open",
    "proc/sys/fs/file-max",
    "proc/net/snmp",
    "proc/net/netstat",
};

// One tree per process, rewritten for each input.
const std::filesystem::path& Root() {
  static const std::filesystem::path root = [] {
    std::filesystem::path path = std::filesystem::temp_directory_path() /
                                 ("socklab_kernel_limits_fuzz_" + std::to_string(getpid()));
    std::filesystem::create_directories(path);
    return path;
  }();
  return root;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::filesystem::path& root = Root();
  std::filesystem::remove_all(root / "proc");
  std::vector<absl::string_view> pieces = socklab::fuzz::Pieces(data, size);
  for (size_t i = 0; i < pieces.size() && i < std::size(kFiles); ++i) {
    std::filesystem::path file = root / kFiles[i];
    std::filesystem::create_directories(file.parent_path());
    std::ofstream(file, std::ios::binary) << pieces[i];
  }

  socklab::ProcFs proc(root.string());
  socklab::KernelLimits limits = socklab::ReadKernelLimits(proc);
  SOCKLAB_FUZZ_CHECK(socklab::ReservedPortsInRange(limits) >= socklab::KernelLimits::kUnknown);
  SOCKLAB_FUZZ_CHECK(socklab::UsableEphemeralPorts(limits) >= socklab::KernelLimits::kUnknown);
  socklab::MaxEphemeralPorts(limits);
  socklab::PortHoldSeconds(limits, true);
  double rate = socklab::MaxConnectRate(limits, 3, false, 1000);
  double scan_free = socklab::ScanFreeConnectRate(limits, 3, false, 1000);
  // Half the ports never allow more than all of them.
  SOCKLAB_FUZZ_CHECK(scan_free <= rate || std::isinf(rate) || rate < 0);
  socklab::EffectiveBacklog(limits, 511);
  socklab::AcceptQueueCapacity(limits, 0);
  socklab::ConnectTimeoutSeconds(limits);
  socklab::SynAckGiveUpSeconds(limits);
  socklab::DeadPeerSeconds(limits);
  socklab::KeepaliveDetectSeconds(limits);
  socklab::SynSchedule schedule = socklab::SynSentSchedule(limits);
  socklab::SynSendTimesText(schedule);
  socklab::SynGiveUpText(schedule);

  absl::StatusOr<socklab::TcpCounters> counters = socklab::ReadTcpCounters(proc);
  if (counters.ok()) {
    socklab::DiffCounters(*counters, *counters, /*all=*/true);
  }
  return 0;
}

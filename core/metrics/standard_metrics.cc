#include "core/metrics/standard_metrics.h"

#include <dirent.h>
#include <sys/resource.h>

#include <cerrno>
#include <limits>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "core/base/errno_name.h"
#include "core/tcpstat/reader.h"
#include "core/tcpstat/tcp_state.h"

namespace socklab::metrics {

void AppendProcessFds(Exposition* out) {
  DIR* dir = opendir("/proc/self/fd");
  if (dir == nullptr) {
    out->Comment(
        absl::StrCat("process_open_fds unavailable: /proc/self/fd: ", DescribeErrno(errno)));
  } else {
    int64_t open = 0;
    while (const dirent* entry = readdir(dir)) {
      if (entry->d_name[0] != '.') {
        ++open;
      }
    }
    closedir(dir);
    // The directory's own fd, open while it was read, is not the process's.
    --open;
    out->Begin("process_open_fds", MetricType::kGauge, "Number of open file descriptors.");
    out->Sample(open);
  }
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0) {
    out->Begin("process_max_fds", MetricType::kGauge,
               "Maximum number of open file descriptors (RLIMIT_NOFILE, soft).");
    out->Sample(limit.rlim_cur == RLIM_INFINITY ? std::numeric_limits<double>::infinity()
                                                : static_cast<double>(limit.rlim_cur));
  }
}

void AppendConnectionStates(Exposition* out, absl::string_view name, absl::string_view help,
                            const tcpstat::StateTally& tally) {
  out->Begin(name, MetricType::kGauge, help);
  for (tcpstat::TcpState state : tcpstat::kReportedTcpStates) {
    out->Sample(static_cast<uint64_t>(tally.Count(state)),
                {{"state", absl::AsciiStrToLower(tcpstat::TcpStateName(state))}});
  }
}

void AppendLocalPortStates(Exposition* out, absl::string_view name, absl::string_view help,
                           uint16_t port) {
  tcpstat::Filter filter;
  tcpstat::Endpoint local;
  local.port = port;
  filter.local = local;
  tcpstat::ReadOptions options;
  options.source = tcpstat::Source::kNetlink;
  options.keep_sockets = false;
  absl::StatusOr<tcpstat::TcpSnapshot> snapshot = tcpstat::ReadTcpSnapshot(filter, options);
  if (!snapshot.ok()) {
    out->Comment(absl::StrCat(name, " unavailable: ", snapshot.status().message()));
    return;
  }
  AppendConnectionStates(out, name, help, snapshot->tally);
}

}  // namespace socklab::metrics

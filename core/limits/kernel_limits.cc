#include "core/limits/kernel_limits.h"

#include <sys/resource.h>
#include <unistd.h>

#include <charconv>
#include <limits>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_split.h"

namespace socklab {
namespace {

constexpr int64_t kUnknown = KernelLimits::kUnknown;

bool ParseInt(absl::string_view text, int64_t* out) {
  text = absl::StripAsciiWhitespace(text);
  if (text.empty()) {
    return false;
  }
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), *out);
  return ec == std::errc() && end == text.data() + text.size();
}

int64_t ReadInt(const ProcFs& proc, absl::string_view name) {
  return proc.ReadSysctlInt(name).value_or(kUnknown);
}

std::array<int64_t, 3> ReadTriple(const ProcFs& proc, absl::string_view name) {
  absl::StatusOr<std::vector<int64_t>> values = proc.ReadSysctlInts(name);
  if (!values.ok() || values->size() != 3) {
    return {kUnknown, kUnknown, kUnknown};
  }
  return {(*values)[0], (*values)[1], (*values)[2]};
}

int64_t FromRlim(rlim_t value) {
  if (value == RLIM_INFINITY || value > static_cast<rlim_t>(std::numeric_limits<int64_t>::max())) {
    return std::numeric_limits<int64_t>::max();
  }
  return static_cast<int64_t>(value);
}

}  // namespace

std::vector<std::pair<int64_t, int64_t>> ParsePortRanges(absl::string_view text) {
  std::vector<std::pair<int64_t, int64_t>> ranges;
  for (absl::string_view piece :
       absl::StrSplit(text, absl::ByAnyChar(", \t\n"), absl::SkipEmpty())) {
    std::vector<absl::string_view> ends = absl::StrSplit(piece, absl::MaxSplits('-', 1));
    int64_t low = 0;
    int64_t high = 0;
    if (!ParseInt(ends[0], &low)) {
      continue;
    }
    if (ends.size() == 1) {
      high = low;
    } else if (!ParseInt(ends[1], &high) || high < low) {
      continue;
    }
    ranges.emplace_back(low, high);
  }
  return ranges;
}

std::pair<int64_t, int64_t> ParseNofileFromLimits(absl::string_view limits_text) {
  for (absl::string_view line : absl::StrSplit(limits_text, '\n')) {
    if (!absl::StartsWith(line, "Max open files")) {
      continue;
    }
    std::vector<absl::string_view> fields =
        absl::StrSplit(line.substr(sizeof("Max open files") - 1), ' ', absl::SkipEmpty());
    if (fields.size() < 2) {
      break;
    }
    int64_t values[2] = {kUnknown, kUnknown};
    for (int i = 0; i < 2; ++i) {
      if (fields[i] == "unlimited") {
        values[i] = std::numeric_limits<int64_t>::max();
      } else if (!ParseInt(fields[i], &values[i])) {
        values[i] = kUnknown;
      }
    }
    return {values[0], values[1]};
  }
  return {kUnknown, kUnknown};
}

KernelLimits ReadKernelLimits(const ProcFs& proc) {
  KernelLimits l;
  l.somaxconn = ReadInt(proc, "net.core.somaxconn");
  l.tcp_max_syn_backlog = ReadInt(proc, "net.ipv4.tcp_max_syn_backlog");
  l.tcp_syncookies = ReadInt(proc, "net.ipv4.tcp_syncookies");
  l.tcp_abort_on_overflow = ReadInt(proc, "net.ipv4.tcp_abort_on_overflow");
  l.netdev_max_backlog = ReadInt(proc, "net.core.netdev_max_backlog");

  if (absl::StatusOr<std::vector<int64_t>> range =
          proc.ReadSysctlInts("net.ipv4.ip_local_port_range");
      range.ok() && range->size() == 2) {
    l.port_range_low = (*range)[0];
    l.port_range_high = (*range)[1];
  }
  // An empty file is normal (no reserved ports); ReadSysctl trims it to "".
  if (absl::StatusOr<std::string> reserved = proc.ReadSysctl("net.ipv4.ip_local_reserved_ports");
      reserved.ok()) {
    l.reserved_ports = ParsePortRanges(*reserved);
    l.reserved_ports_known = true;
  }
  l.tcp_tw_reuse = ReadInt(proc, "net.ipv4.tcp_tw_reuse");
  l.tcp_tw_reuse_delay_ms = ReadInt(proc, "net.ipv4.tcp_tw_reuse_delay");
  l.tcp_timestamps = ReadInt(proc, "net.ipv4.tcp_timestamps");
  l.tcp_fin_timeout = ReadInt(proc, "net.ipv4.tcp_fin_timeout");
  l.tcp_max_tw_buckets = ReadInt(proc, "net.ipv4.tcp_max_tw_buckets");
  l.ip_unprivileged_port_start = ReadInt(proc, "net.ipv4.ip_unprivileged_port_start");

  l.tcp_syn_retries = ReadInt(proc, "net.ipv4.tcp_syn_retries");
  l.tcp_syn_linear_timeouts = ReadInt(proc, "net.ipv4.tcp_syn_linear_timeouts");
  l.tcp_synack_retries = ReadInt(proc, "net.ipv4.tcp_synack_retries");
  l.tcp_retries2 = ReadInt(proc, "net.ipv4.tcp_retries2");
  l.tcp_rto_max_ms = ReadInt(proc, "net.ipv4.tcp_rto_max_ms");
  l.tcp_keepalive_time = ReadInt(proc, "net.ipv4.tcp_keepalive_time");
  l.tcp_keepalive_intvl = ReadInt(proc, "net.ipv4.tcp_keepalive_intvl");
  l.tcp_keepalive_probes = ReadInt(proc, "net.ipv4.tcp_keepalive_probes");

  l.tcp_rmem = ReadTriple(proc, "net.ipv4.tcp_rmem");
  l.tcp_wmem = ReadTriple(proc, "net.ipv4.tcp_wmem");
  l.tcp_mem = ReadTriple(proc, "net.ipv4.tcp_mem");
  l.rmem_max = ReadInt(proc, "net.core.rmem_max");
  l.wmem_max = ReadInt(proc, "net.core.wmem_max");
  if (long page = sysconf(_SC_PAGESIZE); page > 0) {
    l.page_size = page;
  }

  if (proc.root() == "/" || proc.root().empty()) {
    rlimit limit{};
    if (getrlimit(RLIMIT_NOFILE, &limit) == 0) {
      l.nofile_soft = FromRlim(limit.rlim_cur);
      l.nofile_hard = FromRlim(limit.rlim_max);
    }
  } else if (absl::StatusOr<std::string> limits = proc.ReadFile("proc/self/limits"); limits.ok()) {
    std::tie(l.nofile_soft, l.nofile_hard) = ParseNofileFromLimits(*limits);
  }
  l.nr_open = ReadInt(proc, "fs.nr_open");
  l.file_max = ReadInt(proc, "fs.file-max");
  l.io_uring_disabled = ReadInt(proc, "kernel.io_uring_disabled");

  // The sysctl exists only while nf_conntrack is loaded.
  l.nf_conntrack_max = ReadInt(proc, "net.netfilter.nf_conntrack_max");
  l.conntrack_loaded = l.nf_conntrack_max != kUnknown;
  if (l.conntrack_loaded) {
    l.nf_conntrack_count = ReadInt(proc, "net.netfilter.nf_conntrack_count");
    l.nf_conntrack_time_wait = ReadInt(proc, "net.netfilter.nf_conntrack_tcp_timeout_time_wait");
  }
  return l;
}

}  // namespace socklab

#include "core/sysinfo/derivations.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "core/base/units.h"

namespace socklab {
namespace {

constexpr int64_t kUnknown = KernelLimits::kUnknown;

bool Known(int64_t value) { return value != kUnknown; }

std::string Num(int64_t value) { return Known(value) ? absl::StrCat(value) : "?"; }

// "470/s"; below 10/s with one decimal, rounded down (100 ports / 60 s is 1.6/s, not 1/s).
std::string RateText(double rate) {
  if (rate < 10) {
    return absl::StrFormat("%.1f/s", std::floor(rate * 10) / 10);
  }
  return absl::StrFormat("%.0f/s", std::floor(rate));
}

}  // namespace

std::string FormatSeconds(double seconds) {
  if (seconds < 0) {
    return "unknown";
  }
  if (seconds >= 7200) {
    return absl::StrFormat("%g s (%.1f h)", seconds, seconds / 3600);
  }
  if (seconds >= 600) {
    return absl::StrFormat("%g s (%.1f min)", seconds, seconds / 60);
  }
  return absl::StrFormat("%g s", seconds);
}

int64_t ReservedPortsInRange(const KernelLimits& limits) {
  if (!Known(limits.port_range_low) || !Known(limits.port_range_high)) {
    return kUnknown;
  }
  int64_t reserved = 0;
  for (const auto& [low, high] : limits.reserved_ports) {
    int64_t from = std::max(low, limits.port_range_low);
    int64_t to = std::min(high, limits.port_range_high);
    if (from <= to) {
      reserved += to - from + 1;
    }
  }
  return reserved;
}

int64_t UsableEphemeralPorts(const KernelLimits& limits) {
  if (!Known(limits.port_range_low) || !Known(limits.port_range_high) ||
      limits.port_range_high < limits.port_range_low) {
    return kUnknown;
  }
  // Both ends are usable: connect() scans the ports of the range start's parity first, then the
  // others (Linux 4.6+), so parity orders the search but removes no port. Measured on 6.18 in a
  // private namespace: 40000-40010 gives 11 connections, then EADDRNOTAVAIL.
  int64_t count = limits.port_range_high - limits.port_range_low + 1;
  return std::max<int64_t>(0, count - ReservedPortsInRange(limits));
}

bool TimeWaitReuseApplies(const KernelLimits& limits, bool loopback_destination) {
  bool reuse = limits.tcp_tw_reuse == 1 || (limits.tcp_tw_reuse == 2 && loopback_destination);
  // tcp_twsk_unique() decides on the peer's last timestamp: without timestamps there is none.
  return reuse && limits.tcp_timestamps > 0;
}

double PortHoldSeconds(const KernelLimits& limits, bool loopback_destination) {
  if (!TimeWaitReuseApplies(limits, loopback_destination)) {
    return kTimeWaitSeconds;
  }
  if (Known(limits.tcp_tw_reuse_delay_ms)) {
    return std::max(0.001, static_cast<double>(limits.tcp_tw_reuse_delay_ms) / 1000.0);
  }
  return 1.0;
}

double MaxConnectRate(const KernelLimits& limits, int64_t source_addresses,
                      bool loopback_destination, int64_t open_connections) {
  int64_t ports = UsableEphemeralPorts(limits);
  if (!Known(ports)) {
    return -1;
  }
  int64_t free_ports = ports * std::max<int64_t>(1, source_addresses) - open_connections;
  if (free_ports <= 0) {
    return 0;
  }
  return static_cast<double>(free_ports) / PortHoldSeconds(limits, loopback_destination);
}

int64_t EffectiveBacklog(const KernelLimits& limits, int64_t requested) {
  if (!Known(limits.somaxconn)) {
    return requested > 0 ? requested : kUnknown;
  }
  // Since Linux 5.4 somaxconn is an int (was 16-bit) and defaults to 4096 (was 128).
  return requested > 0 ? std::min(requested, limits.somaxconn) : limits.somaxconn;
}

double RetransmitGiveUpSeconds(int64_t retries, double rto_base) {
  if (retries < 0 || rto_base <= 0) {
    return -1;
  }
  // ilog2(TCP_RTO_MAX / rto_base), as the kernel computes it in jiffies.
  int64_t threshold = static_cast<int64_t>(std::floor(std::log2(kRtoMaxSeconds / rto_base) + 1e-9));
  if (retries <= threshold) {
    return (std::ldexp(1.0, static_cast<int>(retries) + 1) - 1) * rto_base;
  }
  return (std::ldexp(1.0, static_cast<int>(threshold) + 1) - 1) * rto_base +
         static_cast<double>(retries - threshold) * kRtoMaxSeconds;
}

double ConnectTimeoutSeconds(const KernelLimits& limits) {
  return RetransmitGiveUpSeconds(limits.tcp_syn_retries, kInitialRtoSeconds);
}

double SynAckGiveUpSeconds(const KernelLimits& limits) {
  return RetransmitGiveUpSeconds(limits.tcp_synack_retries, kInitialRtoSeconds);
}

double DeadPeerSeconds(const KernelLimits& limits) {
  return RetransmitGiveUpSeconds(limits.tcp_retries2, kRtoMinSeconds);
}

int64_t KeepaliveDetectSeconds(const KernelLimits& limits) {
  if (!Known(limits.tcp_keepalive_time) || !Known(limits.tcp_keepalive_intvl) ||
      !Known(limits.tcp_keepalive_probes)) {
    return kUnknown;
  }
  return limits.tcp_keepalive_time + limits.tcp_keepalive_intvl * limits.tcp_keepalive_probes;
}

int64_t MaxOpenConnectionsPerProcess(const KernelLimits& limits, int64_t fds_in_use) {
  if (!Known(limits.nofile_soft)) {
    return kUnknown;
  }
  int64_t max = limits.nofile_soft;
  if (Known(limits.file_max)) {
    max = std::min(max, limits.file_max);
  }
  return std::max<int64_t>(0, max - fds_in_use);
}

BufferMemory BufferMemoryFor(const KernelLimits& limits, int64_t connections) {
  BufferMemory memory;
  const auto& r = limits.tcp_rmem;
  const auto& w = limits.tcp_wmem;
  double n = static_cast<double>(connections);
  if (Known(r[1]) && Known(w[1])) {
    memory.at_defaults_bytes = n * static_cast<double>(r[1] + w[1]);
  }
  if (Known(r[2]) && Known(w[2])) {
    memory.at_max_bytes = n * static_cast<double>(r[2] + w[2]);
  }
  if (Known(limits.tcp_mem[1])) {
    memory.pressure_bytes = static_cast<double>(limits.tcp_mem[1] * limits.page_size);
  }
  if (Known(limits.tcp_mem[2])) {
    memory.limit_bytes = static_cast<double>(limits.tcp_mem[2] * limits.page_size);
  }
  return memory;
}

std::vector<Derivation> DeriveAll(const KernelLimits& limits, const DerivationInputs& in) {
  std::vector<Derivation> out;
  int64_t range = Known(limits.port_range_low) && Known(limits.port_range_high)
                      ? limits.port_range_high - limits.port_range_low + 1
                      : kUnknown;
  int64_t ports = UsableEphemeralPorts(limits);
  out.push_back({"ephemeral_ports", "connections per (source address, destination)",
                 static_cast<double>(ports),
                 Known(ports) ? absl::StrCat(ports, " ports") : "unknown",
                 absl::StrCat(Num(limits.port_range_high), " - ", Num(limits.port_range_low),
                              " + 1 = ", Num(range), " - ", Num(ReservedPortsInRange(limits)),
                              " reserved (connect() tries the start's parity first, then the rest; "
                              "bind(0) the other way round)")});

  bool reuse = TimeWaitReuseApplies(limits, in.loopback_destination);
  double hold = PortHoldSeconds(limits, in.loopback_destination);
  double rate1 = MaxConnectRate(limits, 1, in.loopback_destination);
  std::string reuse_note =
      reuse ? absl::StrFormat(" (tcp_tw_reuse=%d reuses TIME_WAIT ports after %g s)",
                              limits.tcp_tw_reuse, hold)
            : " TIME_WAIT (fixed TCP_TIMEWAIT_LEN; tcp_fin_timeout is FIN_WAIT2 only)";
  out.push_back(
      {"new_connections_per_second", "new connections/s to one destination",
       rate1 < 0 ? -1 : std::floor(rate1), rate1 < 0 ? "unknown" : RateText(rate1),
       absl::StrFormat("%s ports / %g s%s, client closing first", Num(ports), hold, reuse_note)});
  if (in.source_addresses > 1) {
    double rate_n = MaxConnectRate(limits, in.source_addresses, in.loopback_destination);
    out.push_back(
        {"new_connections_per_second_all_sources",
         absl::StrCat("new connections/s with ", in.source_addresses, " source addresses"),
         rate_n < 0 ? -1 : std::floor(rate_n), rate_n < 0 ? "unknown" : RateText(rate_n),
         absl::StrFormat("%d addresses * %s ports / %g s", in.source_addresses, Num(ports), hold)});
  }
  if (!reuse && !in.loopback_destination && limits.tcp_tw_reuse == 2 && limits.tcp_timestamps > 0) {
    double hold_lo = PortHoldSeconds(limits, true);
    double rate_lo = MaxConnectRate(limits, 1, true);
    out.push_back(
        {"new_connections_per_second_loopback", "new connections/s to one loopback destination",
         rate_lo < 0 ? -1 : std::floor(rate_lo), rate_lo < 0 ? "unknown" : RateText(rate_lo),
         absl::StrFormat("%s ports / %g s (tcp_tw_reuse=2 reuses loopback TIME_WAIT ports)",
                         Num(ports), hold_lo)});
  } else if (!reuse) {
    double rate_reuse = Known(ports) ? static_cast<double>(ports) / 1.0 : -1;
    out.push_back({"new_connections_per_second_tw_reuse",
                   "new connections/s with tcp_tw_reuse=1 (and tcp_timestamps=1)",
                   rate_reuse < 0 ? -1 : rate_reuse,
                   rate_reuse < 0 ? "unknown" : absl::StrFormat("%.0f/s", rate_reuse),
                   absl::StrFormat("%s ports / 1 s reuse delay", Num(ports))});
  }

  int64_t backlog = EffectiveBacklog(limits, in.requested_backlog);
  out.push_back({"effective_backlog",
                 absl::StrCat("accept queue of listen(", in.requested_backlog, ")"),
                 static_cast<double>(backlog), Num(backlog),
                 absl::StrCat("min(", in.requested_backlog, ", somaxconn ", Num(limits.somaxconn),
                              "); when full: ",
                              limits.tcp_abort_on_overflow == 1
                                  ? "RST to the client's final ACK (tcp_abort_on_overflow=1)"
                                  : "SYNs dropped (ListenOverflows), the client retries the SYN",
                              "; syncookies do not help a full accept queue")});
  double connect_timeout = ConnectTimeoutSeconds(limits);
  out.push_back({"connect_timeout", "connect() ETIMEDOUT when SYNs go unanswered", connect_timeout,
                 FormatSeconds(connect_timeout),
                 absl::StrCat("tcp_syn_retries ", Num(limits.tcp_syn_retries),
                              ": 1 + 2 + 4 + ... s from the initial 1 s RTO, each step <= 120 s")});
  double synack = SynAckGiveUpSeconds(limits);
  out.push_back(
      {"synack_give_up", "server gives up an unanswered SYN-ACK", synack, FormatSeconds(synack),
       absl::StrCat("tcp_synack_retries ", Num(limits.tcp_synack_retries), ": 1 + 2 + 4 + ... s")});
  double dead = DeadPeerSeconds(limits);
  out.push_back({"dead_peer_detection", "a dead peer noticed with unacked data", dead,
                 FormatSeconds(dead),
                 absl::StrCat("tcp_retries2 ", Num(limits.tcp_retries2),
                              ": RTO doubles from 200 ms up to 120 s; ETIMEDOUT on read/write")});
  int64_t keepalive = KeepaliveDetectSeconds(limits);
  out.push_back({"keepalive_detection", "a dead idle peer noticed with SO_KEEPALIVE",
                 static_cast<double>(keepalive),
                 Known(keepalive) ? FormatSeconds(static_cast<double>(keepalive)) : "unknown",
                 absl::StrCat("tcp_keepalive_time ", Num(limits.tcp_keepalive_time), " + intvl ",
                              Num(limits.tcp_keepalive_intvl), " * probes ",
                              Num(limits.tcp_keepalive_probes))});
  int64_t max_conns = MaxOpenConnectionsPerProcess(limits);
  out.push_back(
      {"max_connections_per_process", "open connections one process can hold",
       static_cast<double>(max_conns), Num(max_conns),
       absl::StrCat("RLIMIT_NOFILE soft ", Num(limits.nofile_soft), " - 3 open (hard ",
                    Num(limits.nofile_hard), ", raisable up to fs.nr_open ", Num(limits.nr_open),
                    "; fs.file-max ", Num(limits.file_max), " for the system)")});
  BufferMemory memory = BufferMemoryFor(limits, in.connections);
  out.push_back(
      {"buffer_memory", absl::StrCat("TCP buffer memory of ", in.connections, " connections"),
       memory.at_defaults_bytes,
       memory.at_defaults_bytes < 0
           ? "unknown"
           : absl::StrCat(FormatBytes(memory.at_defaults_bytes), " at defaults, ",
                          FormatBytes(memory.at_max_bytes), " at max"),
       absl::StrCat(in.connections, " * (tcp_rmem ", Num(limits.tcp_rmem[1]), " + tcp_wmem ",
                    Num(limits.tcp_wmem[1]), ") vs tcp_mem pressure ",
                    memory.pressure_bytes < 0 ? "?" : FormatBytes(memory.pressure_bytes),
                    ", limit ", memory.limit_bytes < 0 ? "?" : FormatBytes(memory.limit_bytes),
                    " (buffers only use memory for queued data)")});
  return out;
}

}  // namespace socklab

#include "core/limits/derivations.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "core/base/units.h"

namespace socklab {
namespace {

constexpr int64_t kUnknown = KernelLimits::kUnknown;

bool Known(int64_t value) { return value != kUnknown; }

std::string Num(int64_t value) { return Known(value) ? absl::StrCat(value) : "?"; }

// Seconds to whole milliseconds: the kernel's timers run on integer jiffies, and comparing
// integers keeps the give-up rule exact.
int64_t Ms(double seconds) { return static_cast<int64_t>(std::llround(seconds * 1000.0)); }

int64_t ILog2(int64_t value) {
  int64_t bits = -1;
  while (value > 0) {
    value >>= 1;
    ++bits;
  }
  return bits;
}

int64_t RangeSize(const KernelLimits& limits) {
  if (!Known(limits.port_range_low) || !Known(limits.port_range_high) ||
      limits.port_range_high < limits.port_range_low) {
    return kUnknown;
  }
  return limits.port_range_high - limits.port_range_low + 1;
}

// "28232/s (14116/s at once)": a port-bound rate and the part of it connect() reaches without
// scanning half the range (ScanFreeConnectRate); the rate alone when there is no such part.
std::string WithScanFree(double rate, double scan_free) {
  if (rate <= 0 || std::isinf(rate) || scan_free <= 0 || scan_free >= rate) {
    return FormatRate(rate);
  }
  return absl::StrCat(FormatRate(rate), " (", FormatRate(scan_free), " at once)");
}

// New connections/s when each source address has `ports` ports towards the destination and
// `open_connections` of them are held open: the rest each serve a connection per hold.
double RateOverPorts(const KernelLimits& limits, int64_t ports, int64_t source_addresses,
                     bool loopback_destination, int64_t open_connections) {
  if (!Known(ports)) {
    return -1;
  }
  int64_t free_ports = ports * std::max<int64_t>(1, source_addresses) - open_connections;
  if (free_ports <= 0) {
    return 0;
  }
  // inet_twsk_alloc() refuses a TIME_WAIT socket beyond tcp_max_tw_buckets: the closing socket
  // is destroyed and its port is free at once.
  if (Known(limits.tcp_max_tw_buckets) && free_ports >= limits.tcp_max_tw_buckets) {
    return std::numeric_limits<double>::infinity();
  }
  return static_cast<double>(free_ports) / PortHoldSeconds(limits, loopback_destination);
}

}  // namespace

std::string FormatRateNumber(double per_second) {
  if (per_second < 0) {
    return "unknown";
  }
  if (std::isinf(per_second)) {
    return "unlimited";
  }
  if (per_second < 10) {
    return absl::StrFormat("%.1f", std::floor(per_second * 10) / 10);
  }
  return absl::StrFormat("%.0f", std::floor(per_second));
}

std::string FormatRate(double per_second) {
  if (per_second < 0 || std::isinf(per_second)) {
    return FormatRateNumber(per_second);
  }
  return absl::StrCat(FormatRateNumber(per_second), "/s");
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
  int64_t count = RangeSize(limits);
  if (!Known(count)) {
    return kUnknown;
  }
  // __inet_hash_connect(): `if (likely(remaining > 1)) remaining &= ~1U;`.
  int64_t scanned = count > 1 ? (count & ~int64_t{1}) : count;
  return std::max<int64_t>(0, scanned - ReservedPortsInRange(limits));
}

int64_t MaxEphemeralPorts(const KernelLimits& limits) {
  int64_t count = RangeSize(limits);
  if (!Known(count)) {
    return kUnknown;
  }
  return std::max<int64_t>(0, count - ReservedPortsInRange(limits));
}

bool TimeWaitReuseApplies(const KernelLimits& limits, bool loopback_destination) {
  bool reuse = limits.tcp_tw_reuse == 1 || (limits.tcp_tw_reuse == 2 && loopback_destination);
  // tcp_twsk_unique() decides on the peer's last timestamp: without timestamps there is none.
  return reuse && limits.tcp_timestamps > 0;
}

double TwReuseDelaySeconds(const KernelLimits& limits) {
  if (Known(limits.tcp_tw_reuse_delay_ms)) {
    return std::max(0.001, static_cast<double>(limits.tcp_tw_reuse_delay_ms) / 1000.0);
  }
  return kTwReuseDelaySeconds;
}

double PortHoldSeconds(const KernelLimits& limits, bool loopback_destination) {
  return TimeWaitReuseApplies(limits, loopback_destination) ? TwReuseDelaySeconds(limits)
                                                            : kTimeWaitSeconds;
}

double MaxConnectRate(const KernelLimits& limits, int64_t source_addresses,
                      bool loopback_destination, int64_t open_connections) {
  return RateOverPorts(limits, UsableEphemeralPorts(limits), source_addresses, loopback_destination,
                       open_connections);
}

double ScanFreeConnectRate(const KernelLimits& limits, int64_t source_addresses,
                           bool loopback_destination, int64_t open_connections) {
  // The open connections took their ports from the first half too, while it had room.
  int64_t ports = UsableEphemeralPorts(limits);
  return RateOverPorts(limits, Known(ports) ? ports / 2 : kUnknown, source_addresses,
                       loopback_destination, open_connections);
}

int64_t EffectiveBacklog(const KernelLimits& limits, int64_t requested) {
  if (!Known(limits.somaxconn)) {
    return requested > 0 ? requested : kUnknown;
  }
  // Since Linux 5.4 somaxconn is an int (was 16-bit) and defaults to 4096 (was 128).
  return requested > 0 ? std::min(requested, limits.somaxconn) : limits.somaxconn;
}

int64_t AcceptQueueCapacity(const KernelLimits& limits, int64_t requested) {
  int64_t backlog = EffectiveBacklog(limits, requested);
  // somaxconn is an int in the kernel; a tree from elsewhere (tune --root) may hold more.
  return Known(backlog) && backlog < std::numeric_limits<int64_t>::max() ? backlog + 1 : kUnknown;
}

double RtoMaxSeconds(const KernelLimits& limits) {
  return Known(limits.tcp_rto_max_ms) && limits.tcp_rto_max_ms > 0
             ? static_cast<double>(limits.tcp_rto_max_ms) / 1000.0
             : kRtoMaxSeconds;
}

int64_t SynLinearTimeouts(const KernelLimits& limits) {
  return Known(limits.tcp_syn_linear_timeouts)
             ? std::max<int64_t>(0, limits.tcp_syn_linear_timeouts)
             : 0;
}

double RetransmitGiveUpSeconds(int64_t retries, double rto_base, double rto_max) {
  if (retries < 0 || rto_base <= 0 || rto_max < rto_base) {
    return -1;
  }
  int64_t base = Ms(rto_base);
  int64_t max = Ms(rto_max);
  // ilog2(rto_max / rto_base), as the kernel computes it in jiffies.
  int64_t threshold = ILog2(max / base);
  // In double: tcp_retries2 has no upper bound in the kernel, and a tree from elsewhere (tune
  // --root) may hold any value; exact for every sum below 2^53 ms.
  double ms = 0;
  if (retries <= threshold) {
    ms = (std::ldexp(1.0, static_cast<int>(retries) + 1) - 1) * static_cast<double>(base);
  } else {
    ms = (std::ldexp(1.0, static_cast<int>(threshold) + 1) - 1) * static_cast<double>(base) +
         static_cast<double>(retries - threshold) * static_cast<double>(max);
  }
  return ms / 1000.0;
}

double TimerWheelSlackSeconds(double seconds, int hz) {
  constexpr int kLevelBits = 6;   // LVL_BITS: 64 buckets per level
  constexpr int kLevelShift = 3;  // LVL_CLK_SHIFT: each level 8 times coarser
  const int64_t delay = static_cast<int64_t>(std::ceil(seconds * hz));
  int level = 0;
  while (level < 8 && delay >= (((int64_t{1} << kLevelBits) - 1) << (level * kLevelShift))) {
    ++level;
  }
  return static_cast<double>(int64_t{1} << (level * kLevelShift)) / hz;  // LVL_GRAN(level)
}

SynSchedule SynSentSchedule(int64_t syn_retries, int64_t linear_timeouts, double rto_max) {
  SynSchedule schedule;
  // MAX_TCP_SYNCNT (include/net/tcp.h, 127) bounds both sysctls in the kernel; a tree from
  // elsewhere (tune --root) may hold anything, and each retransmission is one pass below.
  constexpr int64_t kMaxTcpSyncnt = 127;
  if (syn_retries < 0 || linear_timeouts < 0 || syn_retries > kMaxTcpSyncnt ||
      linear_timeouts > kMaxTcpSyncnt || rto_max < kInitialRtoSeconds) {
    return schedule;
  }
  schedule.model_seconds = RetransmitGiveUpSeconds(syn_retries, kInitialRtoSeconds, rto_max);
  schedule.max_retransmissions = syn_retries + linear_timeouts;
  const int64_t model = Ms(schedule.model_seconds);
  const int64_t max = Ms(rto_max);
  int64_t rto = Ms(kInitialRtoSeconds);
  int64_t now = 0;
  // The lateness of the whole chain for each usual CONFIG_HZ (userspace cannot read HZ).
  constexpr std::array<int, 4> kHz = {100, 250, 300, 1000};
  std::array<double, 4> slack{};
  schedule.sends.push_back(0);
  // Each pass is one expiry of the retransmission timer with `sent` retransmissions done.
  for (int64_t sent = 0;; ++sent) {
    now += rto;
    for (size_t i = 0; i < kHz.size(); ++i) {
      slack[i] += TimerWheelSlackSeconds(static_cast<double>(rto) / 1000.0, kHz[i]);
    }
    // tcp_write_timeout(): the count rule, then retransmits_timed_out() (false before any
    // retransmission) against the time model since the first SYN (retrans_stamp).
    if (sent >= schedule.max_retransmissions || (sent > 0 && now >= model)) {
      schedule.give_up_seconds = static_cast<double>(now) / 1000.0;
      schedule.latest_give_up_seconds =
          schedule.give_up_seconds + *std::max_element(slack.begin(), slack.end());
      return schedule;
    }
    schedule.sends.push_back(static_cast<double>(now) / 1000.0);
    // tcp_retransmit_timer(): linear while total_rto <= tcp_syn_linear_timeouts.
    if (sent + 1 > linear_timeouts) {
      rto = std::min(rto * 2, max);
    }
  }
}

SynSchedule SynSentSchedule(const KernelLimits& limits) {
  if (!Known(limits.tcp_syn_retries)) {
    return SynSchedule{};
  }
  return SynSentSchedule(limits.tcp_syn_retries, SynLinearTimeouts(limits), RtoMaxSeconds(limits));
}

std::string SynSendTimesText(const SynSchedule& schedule, size_t max_items) {
  if (schedule.sends.empty()) {
    return "?";
  }
  std::vector<std::string> times;
  for (size_t i = 0; i < schedule.sends.size() && i < max_items; ++i) {
    times.push_back(absl::StrFormat("%g", schedule.sends[i]));
  }
  return absl::StrCat(absl::StrJoin(times, ", "), schedule.sends.size() > max_items ? ", ..." : "",
                      " s");
}

std::string SynGiveUpText(const SynSchedule& schedule) {
  if (schedule.give_up_seconds < 0) {
    return "unknown";
  }
  return absl::StrFormat(
      "%s by the formula, in practice up to %s (each SYN's timer is armed when the previous "
      "one fires, and fires up to 1/8 of its wait late: the lateness adds up)",
      FormatSeconds(schedule.give_up_seconds),
      FormatSeconds(std::round(schedule.latest_give_up_seconds * 10) / 10));
}

double ConnectTimeoutSeconds(const KernelLimits& limits) {
  return SynSentSchedule(limits).give_up_seconds;
}

double SynAckGiveUpSeconds(const KernelLimits& limits) {
  return RetransmitGiveUpSeconds(limits.tcp_synack_retries, kInitialRtoSeconds,
                                 RtoMaxSeconds(limits));
}

double DeadPeerSeconds(const KernelLimits& limits) {
  return RetransmitGiveUpSeconds(limits.tcp_retries2, kRtoMinSeconds, RtoMaxSeconds(limits));
}

int64_t KeepaliveDetectSeconds(const KernelLimits& limits) {
  if (!Known(limits.tcp_keepalive_time) || !Known(limits.tcp_keepalive_intvl) ||
      !Known(limits.tcp_keepalive_probes)) {
    return kUnknown;
  }
  // The kernel keeps these within 32767 s, 32767 s and 127 probes; a tree from elsewhere (tune
  // --root) may hold anything, and a sum past int64 is no time a kernel could wait.
  int64_t probing = 0;
  int64_t total = 0;
  if (__builtin_mul_overflow(limits.tcp_keepalive_intvl, limits.tcp_keepalive_probes, &probing) ||
      __builtin_add_overflow(limits.tcp_keepalive_time, probing, &total)) {
    return kUnknown;
  }
  return total;
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

std::string PortRange::SysctlValue() const { return absl::StrCat(low, " ", high); }

std::string PortRange::Command() const {
  return absl::StrCat("sysctl -w net.ipv4.ip_local_port_range=\"", SysctlValue(), "\"");
}

PortRange RecommendedPortRange(uint16_t keep_out_port) {
  constexpr int64_t kLow = 1024;  // below: privileged ports (ip_unprivileged_port_start)
  constexpr int64_t kHigh = 65535;
  PortRange range{kLow, kHigh};
  const int64_t port = keep_out_port;
  if (port >= kLow && port <= kHigh) {
    const bool below = port - kLow > kHigh - port;
    range = below ? PortRange{kLow, port - 1} : PortRange{port + 1, kHigh};
    if (range.size() % 2 != 0) {
      if (below) {
        ++range.low;
      } else {
        --range.high;
      }
    }
  }
  return range;
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
  int64_t range = RangeSize(limits);
  int64_t ports = UsableEphemeralPorts(limits);
  int64_t max_ports = MaxEphemeralPorts(limits);
  bool odd = Known(range) && range > 1 && range % 2 == 1;
  out.push_back(
      {"ephemeral_ports", "connections per (source address, destination)",
       static_cast<double>(ports),
       !Known(ports) ? "unknown"
       : odd         ? absl::StrCat(ports, " ports (", max_ports, " only sometimes)")
                     : absl::StrCat(ports, " ports"),
       absl::StrCat(
           Num(limits.port_range_high), " - ", Num(limits.port_range_low), " + 1 = ", Num(range),
           odd ? absl::StrCat(" (odd-sized: connect() scans ", range, " & ~1 = ", range - 1,
                              " per call, the ", range, "th only from some start offsets)")
               : "",
           " - ", Num(ReservedPortsInRange(limits)),
           " reserved (connect() tries the start's parity first, then the rest; "
           "bind(0) the other way round)")});

  // Rates: what the settings give now, then what each alternative would give.
  const bool reuse = TimeWaitReuseApplies(limits, in.loopback_destination);
  const double hold = PortHoldSeconds(limits, in.loopback_destination);
  const bool tw_capped =
      Known(ports) && Known(limits.tcp_max_tw_buckets) && ports >= limits.tcp_max_tw_buckets;
  const std::string cap_note =
      tw_capped ? absl::StrCat("; tcp_max_tw_buckets ", limits.tcp_max_tw_buckets,
                               " <= ports: TIME_WAIT beyond it is destroyed, freeing the port")
                : "";
  // The value as the text shows it: rounded down, to one decimal below 10/s.
  auto rate_value = [](double rate) {
    if (rate < 0 || std::isinf(rate)) {
      return rate;
    }
    return rate < 10 ? std::floor(rate * 10) / 10 : std::floor(rate);
  };
  double rate1 = MaxConnectRate(limits, 1, in.loopback_destination);
  std::string reuse_note =
      reuse ? absl::StrFormat(" (tcp_tw_reuse=%d reuses TIME_WAIT ports after %g s)",
                              limits.tcp_tw_reuse, hold)
            : " TIME_WAIT (fixed TCP_TIMEWAIT_LEN; tcp_fin_timeout is FIN_WAIT2 only)";
  out.push_back({"new_connections_per_second", "new connections/s to one destination",
                 rate_value(rate1), FormatRate(rate1),
                 absl::StrFormat("%s ports / %g s%s, client closing first%s", Num(ports), hold,
                                 reuse_note, cap_note)});
  if (Known(ports) && ports >= 2) {
    double scan_free = ScanFreeConnectRate(limits, 1, in.loopback_destination);
    out.push_back(
        {"new_connections_per_second_without_scan", "of which connect() finds a port at once",
         rate_value(scan_free), FormatRate(scan_free),
         absl::StrFormat("half the ports, %d / %g s: connect() takes the ports of the range's low "
                         "parity first, and past this rate every connect() checks all %d of them "
                         "before it takes one of the other half (a one-address churn with "
                         "tcp_tw_reuse levels off near here when that scan is long)",
                         ports / 2, hold, ports / 2)});
  }

  // Each source address has its own ports towards a destination.
  double per_source = Known(ports) ? static_cast<double>(ports) / hold : -1;
  out.push_back(
      {"per_extra_source_address", "each extra source address adds", rate_value(per_source),
       !Known(ports)       ? "unknown"
       : std::isinf(rate1) ? absl::StrCat("+", ports, " ports held (the rate is unlimited already)")
                           : absl::StrCat("+", ports, " ports held, +", FormatRate(per_source)),
       absl::StrFormat("+%s ports per destination / %g s; %s, then socklab load --source-ips "
                       "FIRST-LAST",
                       Num(ports), hold,
                       in.ipv6 ? "add IPv6 addresses with 'ip -6 addr add ADDR/128 dev IFACE' "
                                 "(::1 is IPv6's only loopback address)"
                               : "add addresses with 'ip addr add' (127/8 is all local on lo)")});
  if (in.source_addresses > 1) {
    double rate_n = MaxConnectRate(limits, in.source_addresses, in.loopback_destination);
    out.push_back(
        {"new_connections_per_second_all_sources",
         absl::StrCat("new connections/s with ", in.source_addresses, " source addresses"),
         rate_value(rate_n),
         WithScanFree(rate_n,
                      ScanFreeConnectRate(limits, in.source_addresses, in.loopback_destination)),
         absl::StrFormat("%d addresses * %s ports / %g s%s", in.source_addresses, Num(ports), hold,
                         cap_note)});
  }
  if (!reuse && !in.loopback_destination && limits.tcp_tw_reuse == 2 && limits.tcp_timestamps > 0) {
    double hold_lo = PortHoldSeconds(limits, true);
    double rate_lo = MaxConnectRate(limits, 1, true);
    out.push_back(
        {"new_connections_per_second_loopback", "new connections/s to one loopback destination",
         rate_value(rate_lo), WithScanFree(rate_lo, ScanFreeConnectRate(limits, 1, true)),
         absl::StrFormat("%s ports / %g s (tcp_tw_reuse=2 reuses loopback TIME_WAIT ports)",
                         Num(ports), hold_lo)});
  }
  // What tcp_tw_reuse=1 would give to any destination, whenever it is not already in force.
  if (limits.tcp_tw_reuse != 1 || limits.tcp_timestamps <= 0) {
    KernelLimits with_reuse = limits;
    with_reuse.tcp_tw_reuse = 1;
    with_reuse.tcp_timestamps = std::max<int64_t>(1, limits.tcp_timestamps);
    double delay = TwReuseDelaySeconds(limits);
    double rate_reuse = MaxConnectRate(with_reuse, 1, /*loopback_destination=*/false);
    out.push_back({"new_connections_per_second_tw_reuse",
                   absl::StrCat("new connections/s to any destination with tcp_tw_reuse=1",
                                limits.tcp_timestamps <= 0 ? " and tcp_timestamps=1" : ""),
                   rate_value(rate_reuse),
                   WithScanFree(rate_reuse, ScanFreeConnectRate(with_reuse, 1, false)),
                   absl::StrFormat("%s ports / %g s %s", Num(ports), delay,
                                   Known(limits.tcp_tw_reuse_delay_ms)
                                       ? absl::StrCat("tcp_tw_reuse_delay (",
                                                      limits.tcp_tw_reuse_delay_ms, " ms)")
                                       : std::string("reuse delay (fixed before 6.13)"))});
  }

  int64_t backlog = EffectiveBacklog(limits, in.requested_backlog);
  int64_t queue = AcceptQueueCapacity(limits, in.requested_backlog);
  out.push_back(
      {"effective_backlog", absl::StrCat("accept queue of listen(", in.requested_backlog, ")"),
       static_cast<double>(backlog), Num(backlog),
       absl::StrCat(
           "min(", in.requested_backlog, ", somaxconn ", Num(limits.somaxconn), "); it holds ",
           Num(queue),
           " = backlog + 1 completed connections (sk_acceptq_is_full tests >), and the same "
           "backlog caps the SYN queue (then ",
           limits.tcp_syncookies == 0 ? "SYNs are dropped: tcp_syncookies=0"
                                      : "SYN cookies, tcp_syncookies",
           "); when the accept queue is full: ",
           limits.tcp_abort_on_overflow == 1
               ? "RST to the client's final ACK (tcp_abort_on_overflow=1)"
               : "SYNs dropped (ListenOverflows), the client retries the SYN",
           "; syncookies do not help a full accept queue")});
  SynSchedule syn = SynSentSchedule(limits);
  int64_t linear = SynLinearTimeouts(limits);
  out.push_back(
      {"connect_timeout", "connect() ETIMEDOUT when SYNs go unanswered", syn.give_up_seconds,
       FormatSeconds(syn.give_up_seconds),
       absl::StrCat(
           "tcp_syn_retries ", Num(limits.tcp_syn_retries), ", tcp_syn_linear_timeouts ", linear,
           Known(limits.tcp_syn_linear_timeouts) ? "" : " (no such sysctl: kernel < 6.5)",
           ": SYNs at ", SynSendTimesText(syn), " (the first ", linear,
           " retransmissions keep the 1 s RTO, then it doubles up to ",
           absl::StrFormat("%g", RtoMaxSeconds(limits)),
           " s); ETIMEDOUT at the first timer expiry with ", Num(limits.tcp_syn_retries), " + ",
           linear, " = ", syn.max_retransmissions, " retransmissions sent or (2^(",
           Num(limits.tcp_syn_retries), "+1) - 1) * 1 s = ", FormatSeconds(syn.model_seconds),
           " elapsed; ", SynGiveUpText(syn))});
  double synack = SynAckGiveUpSeconds(limits);
  out.push_back(
      {"synack_give_up", "server gives up an unanswered SYN-ACK", synack, FormatSeconds(synack),
       absl::StrCat("tcp_synack_retries ", Num(limits.tcp_synack_retries), ": 1 + 2 + 4 + ... s")});
  double dead = DeadPeerSeconds(limits);
  out.push_back(
      {"dead_peer_detection", "a dead peer noticed with unacked data", dead, FormatSeconds(dead),
       absl::StrCat("tcp_retries2 ", Num(limits.tcp_retries2), ": RTO doubles from 200 ms up to ",
                    absl::StrFormat("%g", RtoMaxSeconds(limits)), " s",
                    Known(limits.tcp_rto_max_ms) ? " (tcp_rto_max_ms)" : "",
                    "; ETIMEDOUT on read/write")});
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
       absl::StrCat("RLIMIT_NOFILE soft ", Num(limits.nofile_soft), " - ", kFdsBesidesConnections,
                    " fds for stdio, event loops and timers (hard ", Num(limits.nofile_hard),
                    ", raisable up to fs.nr_open ", Num(limits.nr_open), "; fs.file-max ",
                    Num(limits.file_max), " for the system)")});
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

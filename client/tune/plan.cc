#include "client/tune/plan.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "core/base/status.h"
#include "core/base/units.h"
#include "core/limits/derivations.h"

namespace socklab::client {
namespace {

constexpr int64_t kUnknown = KernelLimits::kUnknown;
// How long a server may pause between accept() batches before we call its queue too short.
constexpr double kAcceptStallSeconds = 0.1;

std::string Count(double value) {
  if (value < 0) {
    return "?";
  }
  if (value >= 9.2e18) {
    return "unlimited";
  }
  return absl::StrFormat("%.0f", std::ceil(value));
}

// Rounds up to a round number a person would type: multiples of 1024 (fds, queues).
int64_t RoundUp1024(double value) { return static_cast<int64_t>(std::ceil(value / 1024.0)) * 1024; }

void SetStatus(PlanCheck& check, double warn_fraction) {
  if (check.have < 0) {
    check.status = CheckStatus::kWarn;
  } else if (check.need > check.have) {
    check.status = CheckStatus::kBreaks;
  } else if (check.need > warn_fraction * check.have) {
    check.status = CheckStatus::kWarn;
  } else {
    check.status = CheckStatus::kOk;
  }
}

// How to get `count` source addresses of the target's family for `socklab load --source-ips
// FIRST-LAST`: on IPv4 loopback all of 127.0.0.0/8 is already local; IPv6 has one loopback
// address (::1), so there, as on any other network, addresses are added first.
std::string SourcesHow(int64_t count, const SocketAddress& target, bool loopback) {
  if (target.family() == AF_INET6) {
    return absl::StrCat("add them with 'ip -6 addr add ADDR/128 dev ", loopback ? "lo" : "IFACE",
                        "' (::1 is IPv6's only loopback address), then socklab load "
                        "--source-ips FIRST-LAST, e.g. fd00::1-fd00::",
                        absl::Hex(count));
  }
  if (loopback && count <= 254) {
    return absl::StrCat("socklab load --source-ips 127.0.0.1-127.0.0.", count,
                        "; all of 127/8 is local on lo");
  }
  return absl::StrCat(
      "add them with 'ip addr add ADDR/32 dev IFACE', then socklab load "
      "--source-ips FIRST-LAST");
}

// Source addresses the load spreads its connections over: each has its own ports to the target.
int64_t SourceAddresses(const PlanOptions& o) {
  return static_cast<int64_t>(std::max<uint64_t>(1, o.source_ips));
}

// " * 4 source addresses" after a per-address port count in a formula; "" for one address.
std::string TimesSources(int64_t sources) {
  return sources > 1 ? absl::StrCat(" * ", sources, " source addresses") : "";
}

// `count` (TIME_WAIT sockets, conntrack entries) capped at the client's ports towards the target,
// one each at most, with `note` saying so for the formula when the cap applies.
double CapAtClientPorts(const PlanOptions& o, const KernelLimits& l, double count,
                        std::string* note) {
  int64_t ports = UsableEphemeralPorts(l);
  int64_t sources = SourceAddresses(o);
  if (ports == kUnknown || static_cast<double>(ports * sources) >= count) {
    return count;
  }
  *note = absl::StrCat(", at most one per port: ", ports, " ports", TimesSources(sources));
  return static_cast<double>(ports * sources);
}

PlanCheck PortsCheck(const PlanOptions& o, bool loopback, const KernelLimits& l) {
  PlanCheck c;
  c.key = "ephemeral_ports";
  c.limit = "net.ipv4.ip_local_port_range";
  c.unit = "ports";
  int64_t ports = UsableEphemeralPorts(l);
  int64_t sources = SourceAddresses(o);
  bool reuse = TimeWaitReuseApplies(l, loopback);
  double hold = PortHoldSeconds(l, loopback);
  // TIME_WAIT sockets beyond tcp_max_tw_buckets are destroyed at once, freeing their ports.
  double waiting = o.conn_rate * hold;
  bool capped = false;
  if (l.tcp_max_tw_buckets != kUnknown && waiting > static_cast<double>(l.tcp_max_tw_buckets)) {
    waiting = static_cast<double>(l.tcp_max_tw_buckets);
    capped = true;
  }
  c.need = static_cast<double>(o.connections) + std::ceil(waiting);
  c.have = ports == kUnknown ? -1 : static_cast<double>(ports * sources);
  c.formula = absl::StrFormat(
      "need %d open + %g/s * %g s %s%s = %s; have %s ports%s", o.connections, o.conn_rate, hold,
      reuse ? "(tcp_tw_reuse delay)" : "TIME_WAIT", capped ? " (capped by tcp_max_tw_buckets)" : "",
      Count(c.need), ports == kUnknown ? "?" : absl::StrCat(ports), TimesSources(sources));
  SetStatus(c, 0.8);
  c.error_phase = Phase::kConnect;
  c.error_class = ErrorClass::kAddrNotAvail;
  c.symptom = absl::StrCat(
      "connect() fails at once with EADDRNOTAVAIL (Cannot assign requested address) once ",
      Count(c.have), " local ports to ", o.target.ToString(),
      " are open or in TIME_WAIT; past half of them each connect() first checks every port of the "
      "half it tries first");
  if (c.status == CheckStatus::kOk) {
    return c;
  }
  // Fixes, cheapest first: a wider range, then TIME_WAIT reuse, then more source addresses.
  // Each is offered only when it changes a value in force. The recommended range keeps the
  // target's port out (RecommendedPortRange).
  const PortRange range = RecommendedPortRange(o.target.port());
  KernelLimits wide = l;
  wide.port_range_low = range.low;
  wide.port_range_high = range.high;
  int64_t wide_ports = UsableEphemeralPorts(wide);
  bool widen = ports == kUnknown || wide_ports > ports;
  int64_t best_ports = widen ? wide_ports : ports;
  std::vector<std::string> steps;
  if (widen) {
    c.sysctl_lines.push_back(absl::StrCat("net.ipv4.ip_local_port_range = ", range.SysctlValue()));
    bool kept_out = o.target.port() >= 1024;
    steps.push_back(absl::StrCat(
        "widen the range to ", best_ports, " ports",
        kept_out ? absl::StrCat(" (", o.target.port(), ", the target's port, stays outside it)")
                 : "",
        ": ", range.Command()));
  }
  double need_now = c.need;
  if (need_now > static_cast<double>(best_ports * sources) && !reuse && o.conn_rate > 0) {
    // tcp_tw_reuse=1 lets connect() take a TIME_WAIT port once it is tcp_tw_reuse_delay old
    // (6.13+; a fixed 1 s before), with the same tcp_max_tw_buckets cap as above. It does
    // nothing without timestamps, which may be the only thing missing.
    double delay = TwReuseDelaySeconds(l);
    std::string commands;
    if (l.tcp_tw_reuse != 1) {
      c.sysctl_lines.push_back("net.ipv4.tcp_tw_reuse = 1");
      absl::StrAppend(&commands, " net.ipv4.tcp_tw_reuse=1");
    }
    if (l.tcp_timestamps == 0) {
      c.sysctl_lines.push_back("net.ipv4.tcp_timestamps = 1");
      absl::StrAppend(&commands, " net.ipv4.tcp_timestamps=1");
    }
    double reuse_waiting = o.conn_rate * delay;
    if (l.tcp_max_tw_buckets != kUnknown) {
      reuse_waiting = std::min(reuse_waiting, static_cast<double>(l.tcp_max_tw_buckets));
    }
    need_now = static_cast<double>(o.connections) + std::ceil(reuse_waiting);
    steps.push_back(absl::StrFormat(
        "reuse TIME_WAIT ports after %g s: sysctl -w%s (needs timestamps on both ends)", delay,
        commands));
  }
  if (need_now > static_cast<double>(best_ports * sources)) {
    int64_t needed_sources = static_cast<int64_t>(
        std::ceil(need_now / static_cast<double>(std::max<int64_t>(1, best_ports))));
    steps.push_back(absl::StrCat("spread over ", needed_sources, " source addresses (",
                                 SourcesHow(needed_sources, o.target, loopback),
                                 "; each address has its own ports per destination)"));
  }
  // The steps above add up; spreading over source addresses alone is the alternative.
  c.fix = absl::StrJoin(steps, ", and ");
  if (ports != kUnknown && c.need > static_cast<double>(ports * sources)) {
    int64_t sources_alone =
        static_cast<int64_t>(std::ceil(c.need / static_cast<double>(std::max<int64_t>(1, ports))));
    absl::StrAppend(&c.fix, "; or, with no sysctl, ", sources_alone, " source addresses (",
                    SourcesHow(sources_alone, o.target, loopback), ")");
  }
  return c;
}

// The churn's rate against what connect() reaches without scanning the half of the range it
// tries first (ScanFreeConnectRate). Past it nothing fails, but each connect() checks every port
// of that half first, which levels a churn off there when the range is large: a warning, never
// what breaks first.
PlanCheck PortScanCheck(const PlanOptions& o, bool loopback, const KernelLimits& l) {
  PlanCheck c;
  c.key = "port_scan";
  c.limit = "net.ipv4.ip_local_port_range";
  c.unit = "new connections/s";
  int64_t ports = UsableEphemeralPorts(l);
  int64_t sources = SourceAddresses(o);
  double hold = PortHoldSeconds(l, loopback);
  c.need = o.conn_rate;
  c.have = ScanFreeConnectRate(l, sources, loopback, static_cast<int64_t>(o.connections));
  c.formula = absl::StrFormat(
      "need %g/s; connect() finds a port at once up to (%s ports / 2%s - %d open) / %g s = %s",
      o.conn_rate, ports == kUnknown ? "?" : absl::StrCat(ports), TimesSources(sources),
      o.connections, hold, FormatRate(c.have));
  c.status = c.have >= 0 && c.need > c.have ? CheckStatus::kWarn : CheckStatus::kOk;
  c.symptom =
      absl::StrCat("past ", FormatRate(c.have), " every connect() first checks each of the ",
                   ports == kUnknown ? "?" : absl::StrCat(ports / 2),
                   " ports of the half of the range it tries first: connects slow down, "
                   "and a churn levels off near that rate when the range is large");
  if (c.status != CheckStatus::kOk && c.have > 0 && ports != kUnknown) {
    double per_source = ScanFreeConnectRate(l, 1, loopback);
    int64_t needed_sources = static_cast<int64_t>(std::ceil(
        (o.conn_rate + static_cast<double>(o.connections) / hold) / std::max(per_source, 1e-9)));
    c.fix = absl::StrCat("spread over ", needed_sources, " source addresses (",
                         SourcesHow(needed_sources, o.target, loopback),
                         "; each address has its own ports per destination)");
  }
  return c;
}

PlanCheck NofileCheck(const PlanOptions& o, bool loopback, const KernelLimits& l) {
  PlanCheck c;
  c.key = "nofile";
  c.limit = "RLIMIT_NOFILE";
  c.unit = "fds";
  c.need = static_cast<double>(o.connections + o.reserved_fds);
  c.have = l.nofile_soft == kUnknown ? -1 : static_cast<double>(l.nofile_soft);
  c.formula =
      absl::StrCat("need ", o.connections, " connections + ", o.reserved_fds,
                   " other fds; have soft limit ", Count(c.have), " (hard ",
                   l.nofile_hard == kUnknown ? "?" : Count(static_cast<double>(l.nofile_hard)), ")",
                   loopback ? "; the server on this host needs as many" : "");
  SetStatus(c, 0.9);
  c.error_phase = Phase::kSocket;
  c.error_class = ErrorClass::kNoFds;
  c.symptom = absl::StrCat("socket() fails with EMFILE (Too many open files) at ",
                           Count(static_cast<double>(MaxOpenConnectionsPerProcess(
                               l, static_cast<int64_t>(o.reserved_fds)))),
                           " connections", loopback ? "; the server's accept() too" : "");
  if (c.status == CheckStatus::kOk) {
    return c;
  }
  // Above the limit in force (a warning fits, but with little room): never "raise" it to itself.
  int64_t target = RoundUp1024(std::max(c.need, c.have + 1));
  if (l.nofile_hard != kUnknown && target <= l.nofile_hard) {
    c.shell_lines.push_back(absl::StrCat("ulimit -n ", target));
    c.fix = absl::StrCat(
        "raise the soft limit in the shell that runs the load (and the server): "
        "ulimit -n ",
        target);
    return c;
  }
  if (l.nr_open != kUnknown && target > l.nr_open) {
    c.sysctl_lines.push_back(absl::StrCat("fs.nr_open = ", target));
  }
  c.shell_lines.push_back(absl::StrCat("ulimit -Hn ", target, " && ulimit -n ", target));
  c.fix = absl::StrCat(
      target > l.nr_open && l.nr_open != kUnknown
          ? absl::StrCat("raise fs.nr_open (sysctl -w fs.nr_open=", target, "), then ")
          : "",
      "raise the hard and soft limit as root: ulimit -Hn ", target, " && ulimit -n ", target,
      " (services: LimitNOFILE=", target, "; logins: nofile in /etc/security/limits.conf)");
  return c;
}

PlanCheck FileMaxCheck(const PlanOptions& o, bool loopback, const KernelLimits& l) {
  PlanCheck c;
  c.key = "file_max";
  c.limit = "fs.file-max";
  c.unit = "files";
  double per_side = static_cast<double>(o.connections + o.reserved_fds);
  c.need = loopback ? 2 * per_side : per_side;
  c.have = l.file_max == kUnknown ? -1 : static_cast<double>(l.file_max);
  c.formula =
      absl::StrCat("need ", Count(c.need), loopback ? " (client + server on this host)" : "",
                   "; have ", Count(c.have), " for the whole system");
  SetStatus(c, 0.9);
  c.error_phase = Phase::kSocket;
  c.error_class = ErrorClass::kNoFds;
  c.symptom = "socket()/accept() fail with ENFILE (Too many open files in system)";
  if (c.status != CheckStatus::kOk) {
    int64_t target = RoundUp1024(2 * c.need);
    c.sysctl_lines.push_back(absl::StrCat("fs.file-max = ", target));
    c.fix = absl::StrCat("sysctl -w fs.file-max=", target);
  }
  return c;
}

// A server on another host: its accept queue is min(its backlog, its somaxconn) + 1, which
// nothing on this machine shows. What to look at there instead of a verdict from our sysctls.
PlanCheck RemoteBacklogCheck(const PlanOptions& o) {
  PlanCheck c;
  c.key = "accept_queue";
  c.limit = "net.core.somaxconn";
  c.unit = "queued connections";
  bool paced = o.conn_rate > 0;
  c.need =
      paced ? std::ceil(o.conn_rate * kAcceptStallSeconds) : static_cast<double>(o.connections);
  c.have = -1;
  c.formula = absl::StrCat(
      "need ",
      paced ? absl::StrFormat("%g/s * %g s accept pause", o.conn_rate, kAcceptStallSeconds)
            : absl::StrCat(o.connections, " unpaced connects at once"),
      " = ", Count(c.need), "; have min(the server's backlog, its somaxconn) + 1: only the server ",
      o.target.ToString(), " knows");
  c.status = CheckStatus::kOnServer;
  c.error_phase = Phase::kConnect;
  c.error_class = ErrorClass::kTimedOut;
  c.symptom =
      "a full accept queue on the server drops SYNs (or, with its tcp_abort_on_overflow=1, "
      "resets): connects stall and time out";
  const int64_t target = RoundUp1024(c.need);
  c.fix = absl::StrCat("on the server: ss -ltn 'sport = :", o.target.port(),
                       "' shows the listener's backlog in Send-Q (want at least ", target,
                       "), sysctl net.core.somaxconn caps it, and nstat -az "
                       "TcpExtListenOverflows counts the SYNs a full queue dropped");
  return c;
}

PlanCheck BacklogCheck(const PlanOptions& o, bool loopback, const KernelLimits& l) {
  if (!loopback) {
    return RemoteBacklogCheck(o);
  }
  PlanCheck c;
  c.key = "accept_queue";
  c.limit = "net.core.somaxconn";
  c.unit = "queued connections";
  int64_t requested = static_cast<int64_t>(o.backlog);
  int64_t effective = EffectiveBacklog(l, requested);
  // The queue holds one more than the backlog (sk_acceptq_is_full() tests >).
  int64_t capacity = AcceptQueueCapacity(l, requested);
  bool paced = o.conn_rate > 0;
  c.need =
      paced ? std::ceil(o.conn_rate * kAcceptStallSeconds) : static_cast<double>(o.connections);
  c.have = capacity == kUnknown ? -1 : static_cast<double>(capacity);
  c.formula = absl::StrCat(
      "need ",
      paced ? absl::StrFormat("%g/s * %g s accept pause", o.conn_rate, kAcceptStallSeconds)
            : absl::StrCat(o.connections, " unpaced connects at once"),
      " = ", Count(c.need), "; have ",
      requested > 0
          ? absl::StrCat("min(backlog ", requested, ", somaxconn ",
                         l.somaxconn == kUnknown ? "?" : absl::StrCat(l.somaxconn), ")")
          : absl::StrCat("somaxconn ", Count(static_cast<double>(effective)), " (server default)"),
      " + 1 = ", Count(c.have), " (the queue holds backlog + 1)");
  // A queue shorter than the burst only overflows when the server falls behind: a warning.
  SetStatus(c, 1.0);
  if (c.status == CheckStatus::kBreaks) {
    c.status = CheckStatus::kWarn;
  }
  bool capped = requested > 0 && l.somaxconn != kUnknown && requested > l.somaxconn;
  if (capped) {
    c.status = CheckStatus::kWarn;
    c.formula += absl::StrCat("; listen(", requested, ") is silently cut to somaxconn");
  }
  SynSchedule syn = SynSentSchedule(l);
  c.error_phase = l.tcp_abort_on_overflow == 1 ? Phase::kRead : Phase::kConnect;
  c.error_class = l.tcp_abort_on_overflow == 1 ? ErrorClass::kReset : ErrorClass::kTimedOut;
  c.symptom =
      l.tcp_abort_on_overflow == 1
          ? "a full accept queue answers the final ACK with RST (tcp_abort_on_overflow=1): "
            "ECONNRESET on the first read or write"
          : absl::StrCat(
                "a full accept queue drops SYNs (TcpExt.ListenOverflows): connect() resends the "
                "SYN at ",
                SynSendTimesText(syn, 8), " and fails with ETIMEDOUT (tcp_syn_retries ",
                l.tcp_syn_retries == kUnknown ? "?" : absl::StrCat(l.tcp_syn_retries),
                " + tcp_syn_linear_timeouts ", SynLinearTimeouts(l), ") after ", SynGiveUpText(syn),
                ", or earlier at the client's own connect deadline; syncookies do not help a "
                "full accept queue");
  if (c.status != CheckStatus::kOk) {
    // The listen backlog caps both queues. tcp_max_syn_backlog only matters with
    // tcp_syncookies=0: tcp_conn_request() then drops SYNs of peers not proven alive once the
    // SYN queue holds 3/4 of it.
    int64_t target = std::max<int64_t>(RoundUp1024(c.need), requested);
    if (l.somaxconn == kUnknown || target > l.somaxconn) {
      c.sysctl_lines.push_back(absl::StrCat("net.core.somaxconn = ", target));
    }
    std::string syn_backlog;
    if (l.tcp_syncookies == 0 && l.tcp_max_syn_backlog != kUnknown &&
        static_cast<double>(target) > 0.75 * static_cast<double>(l.tcp_max_syn_backlog)) {
      int64_t syn_target = RoundUp1024(static_cast<double>(target) * 4.0 / 3.0);
      c.sysctl_lines.push_back(absl::StrCat("net.ipv4.tcp_max_syn_backlog = ", syn_target));
      syn_backlog = absl::StrCat(
          "; with tcp_syncookies=0 also sysctl -w net.ipv4.tcp_max_syn_backlog=", syn_target,
          " (unproven peers are dropped once the SYN queue is 3/4 of it)");
    }
    c.fix = absl::StrCat("listen with a backlog of at least ", target,
                         " (socklab-server --backlog ", target, ")",
                         l.somaxconn == kUnknown || target > l.somaxconn
                             ? absl::StrCat(" and sysctl -w net.core.somaxconn=", target)
                             : "",
                         syn_backlog, paced ? "" : ", or pace the connects (--connect-rate)");
  }
  return c;
}

PlanCheck ConntrackCheck(const PlanOptions& o, const KernelLimits& l) {
  PlanCheck c;
  c.key = "conntrack";
  c.limit = "net.netfilter.nf_conntrack_max";
  c.unit = "flows";
  double time_wait =
      l.nf_conntrack_time_wait == kUnknown ? 120.0 : static_cast<double>(l.nf_conntrack_time_wait);
  double others = l.nf_conntrack_count == kUnknown ? 0 : static_cast<double>(l.nf_conntrack_count);
  // One entry per address and port pair: a SYN that reuses a port whose entry is still in
  // TIME_WAIT replaces it (nf_conntrack_proto_tcp reopens the closed connection), so towards
  // one target there are never more entries than the client has ports.
  double flows = static_cast<double>(o.connections) + std::ceil(o.conn_rate * time_wait);
  std::string bound;
  c.need = CapAtClientPorts(o, l, flows, &bound) + others;
  c.have = static_cast<double>(l.nf_conntrack_max);
  c.formula = absl::StrFormat(
      "need %d open + %g/s * %g s conntrack TIME_WAIT%s + %.0f tracked now = %s; have %d",
      o.connections, o.conn_rate, time_wait, bound, others, Count(c.need), l.nf_conntrack_max);
  SetStatus(c, 0.8);
  // Since 4.x conntrack hooks a namespace only when a rule needs it: an empty table most likely
  // means this traffic is not tracked, so the limit may never apply.
  if (c.status == CheckStatus::kBreaks && l.nf_conntrack_count == 0) {
    c.status = CheckStatus::kWarn;
    c.formula += " (nothing tracked now: probably no rule tracks this traffic)";
  }
  c.error_phase = Phase::kConnect;
  c.error_class = ErrorClass::kTimedOut;
  c.symptom =
      "when netfilter tracks this traffic, new SYNs are dropped ('nf_conntrack: table full, "
      "dropping packet' in dmesg): connects stall and time out";
  if (c.status != CheckStatus::kOk) {
    int64_t target = RoundUp1024(c.need * 1.25);
    c.sysctl_lines.push_back(absl::StrCat("net.netfilter.nf_conntrack_max = ", target));
    c.fix = absl::StrCat("sysctl -w net.netfilter.nf_conntrack_max=", target,
                         ", or exempt the test traffic from tracking (nftables 'notrack')");
  }
  return c;
}

PlanCheck MemoryCheck(const PlanOptions& o, const KernelLimits& l) {
  PlanCheck c;
  c.key = "tcp_memory";
  c.limit = "net.ipv4.tcp_mem";
  c.unit = "bytes";
  BufferMemory memory = BufferMemoryFor(l, static_cast<int64_t>(o.connections));
  c.need = memory.at_defaults_bytes < 0 ? 0 : memory.at_defaults_bytes;
  c.have = memory.limit_bytes;
  c.formula = absl::StrCat(
      o.connections, " * (tcp_rmem ", l.tcp_rmem[1], " + tcp_wmem ", l.tcp_wmem[1],
      ") = ", memory.at_defaults_bytes < 0 ? "?" : FormatBytes(memory.at_defaults_bytes),
      " if every queue fills to its default; tcp_mem pressure ",
      memory.pressure_bytes < 0 ? "?" : FormatBytes(memory.pressure_bytes), ", limit ",
      memory.limit_bytes < 0 ? "?" : FormatBytes(memory.limit_bytes));
  // Buffers take memory only for queued data: an echo of small messages uses a fraction of
  // this, so the worst case is a warning, never a certain break.
  c.status = CheckStatus::kOk;
  if (memory.pressure_bytes >= 0 && c.need > memory.pressure_bytes) {
    c.status = CheckStatus::kWarn;
  }
  // A TCP send never returns ENOBUFS for memory: sk_stream_wait_memory() blocks it (EAGAIN on a
  // non-blocking socket); ENOBUFS is what UDP and netlink return (repro no-buffer-space).
  c.error_phase = Phase::kWrite;
  c.error_class = ErrorClass::kWouldBlock;
  c.symptom =
      "above tcp_mem pressure the kernel shrinks buffers; at the limit sends block or return "
      "EAGAIN, 'TCP: out of memory' appears in dmesg and connections may be reset";
  if (c.status != CheckStatus::kOk) {
    c.fix = absl::StrCat(
        "cap per-connection buffers (SO_RCVBUF/SO_SNDBUF) or, if the RAM is there, "
        "raise net.ipv4.tcp_mem (pages) above ",
        static_cast<int64_t>(std::ceil(c.need / static_cast<double>(l.page_size))));
  }
  return c;
}

PlanCheck TimeWaitBucketsCheck(const PlanOptions& o, const KernelLimits& l) {
  PlanCheck c;
  c.key = "time_wait_buckets";
  c.limit = "net.ipv4.tcp_max_tw_buckets";
  c.unit = "TIME_WAIT sockets";
  const double closed = std::ceil(o.conn_rate * kTimeWaitSeconds);
  // Each TIME_WAIT socket holds its port towards the target until it ends or tcp_tw_reuse takes
  // the port over: there are never more of them than ports.
  std::string bound;
  c.need = CapAtClientPorts(o, l, closed, &bound);
  c.have = l.tcp_max_tw_buckets == kUnknown ? -1 : static_cast<double>(l.tcp_max_tw_buckets);
  c.formula = absl::StrFormat("%g/s * %g s = %s%s; have %s", o.conn_rate, kTimeWaitSeconds,
                              Count(closed), bound, Count(c.have));
  c.status = c.have >= 0 && c.need > c.have ? CheckStatus::kWarn : CheckStatus::kOk;
  c.symptom =
      "TIME_WAIT sockets beyond the cap are destroyed at once ('TCP: time wait bucket table "
      "overflow'); that frees their ports, but late segments of old connections may reach new ones";
  if (c.status != CheckStatus::kOk) {
    c.fix = "usually none needed; raise net.ipv4.tcp_max_tw_buckets only if the log noise matters";
  }
  return c;
}

// Sort order: what breaks first, what checks on the server last.
int Severity(CheckStatus status) {
  switch (status) {
    case CheckStatus::kBreaks:
      return 3;
    case CheckStatus::kWarn:
      return 2;
    case CheckStatus::kOk:
      return 1;
    case CheckStatus::kOnServer:
      return 0;
  }
  return 0;
}

}  // namespace

absl::Status PlanOptions::Validate() const {
  if (target.family() != AF_INET && target.family() != AF_INET6) {
    return UsageError("--plan needs --target ADDR:PORT", "e.g. --target 127.0.0.1:7007");
  }
  if (connections == 0 && conn_rate <= 0) {
    return UsageError("--plan needs --connections N or --conn-rate R",
                      "e.g. --connections 50000 --conn-rate 2000");
  }
  if (connections > 100'000'000) {
    return UsageError(absl::StrCat("--connections ", connections, " is beyond any kernel"),
                      "use at most 100M");
  }
  if (!(conn_rate >= 0) || conn_rate > 1e9) {
    return UsageError("--conn-rate must be between 0 and 1G per second", "e.g. --conn-rate 2000");
  }
  if (source_ips == 0 || source_ips > 65536) {
    return UsageError(absl::StrCat("--source-ips ", source_ips, " is out of range"),
                      "use 1 to 65536");
  }
  if (backlog > std::numeric_limits<int32_t>::max()) {
    return UsageError(absl::StrCat("--backlog ", backlog, " does not fit listen()'s int"),
                      "use at most 2147483647");
  }
  return absl::OkStatus();
}

absl::string_view CheckStatusName(CheckStatus status) {
  switch (status) {
    case CheckStatus::kOk:
      return "ok";
    case CheckStatus::kWarn:
      return "warn";
    case CheckStatus::kBreaks:
      return "breaks";
    case CheckStatus::kOnServer:
      return "on server";
  }
  return "?";
}

std::string PlanCheck::ErrorText() const {
  if (!error_class.has_value()) {
    return "none";
  }
  return absl::StrCat(PhaseName(error_phase), " ", ClassLabel(*error_class));
}

const PlanCheck* Plan::FirstBreak() const {
  for (const PlanCheck& check : checks) {
    if (check.status == CheckStatus::kBreaks) {
      return &check;
    }
  }
  return nullptr;
}

std::vector<std::string> Plan::SuggestedSysctls() const {
  std::vector<std::string> lines;
  std::set<std::string> seen;
  for (const PlanCheck& check : checks) {
    if (check.status == CheckStatus::kOk) {
      continue;
    }
    for (const std::string& line : check.sysctl_lines) {
      if (seen.insert(line).second) {
        lines.push_back(line);
      }
    }
  }
  return lines;
}

Plan MakePlan(const PlanOptions& options, const KernelLimits& limits) {
  Plan plan;
  plan.options = options;
  plan.loopback_target = options.target.IsLoopback();
  plan.assumptions = absl::StrCat(
      options.connections, " connections held open to ", options.target.ToString(), " from ",
      options.source_ips, options.source_ips == 1 ? " source address" : " source addresses",
      options.conn_rate > 0
          ? absl::StrFormat(", %g new connections/s each replacing one the client closed (client "
                            "closes first, so TIME_WAIT holds the client's port)",
                            options.conn_rate)
          : ", opened once without pacing",
      plan.loopback_target ? "; the server runs on this host" : "");
  plan.checks.push_back(PortsCheck(options, plan.loopback_target, limits));
  plan.checks.push_back(NofileCheck(options, plan.loopback_target, limits));
  plan.checks.push_back(FileMaxCheck(options, plan.loopback_target, limits));
  plan.checks.push_back(BacklogCheck(options, plan.loopback_target, limits));
  if (limits.conntrack_loaded) {
    plan.checks.push_back(ConntrackCheck(options, limits));
  }
  plan.checks.push_back(MemoryCheck(options, limits));
  if (options.conn_rate > 0) {
    plan.checks.push_back(PortScanCheck(options, plan.loopback_target, limits));
    plan.checks.push_back(TimeWaitBucketsCheck(options, limits));
  }
  std::stable_sort(plan.checks.begin(), plan.checks.end(),
                   [](const PlanCheck& a, const PlanCheck& b) {
                     if (a.status != b.status) {
                       return Severity(a.status) > Severity(b.status);
                     }
                     return a.ratio() > b.ratio();
                   });
  return plan;
}

std::string SysctlSnippet(const Plan& plan, absl::string_view command_line) {
  std::string out = absl::StrCat("# Written by: ", command_line, "\n# Workload: ", plan.assumptions,
                                 "\n# Apply with: sysctl -p <this file>, or copy it to "
                                 "/etc/sysctl.d/ and run sysctl --system.\n"
                                 "# socklab never applies it itself.\n");
  std::vector<std::string> lines = plan.SuggestedSysctls();
  if (lines.empty()) {
    absl::StrAppend(&out, "# No sysctl change needed for this workload.\n");
  }
  for (const std::string& line : lines) {
    absl::StrAppend(&out, line, "\n");
  }
  for (const PlanCheck& check : plan.checks) {
    if (check.status == CheckStatus::kOk) {
      continue;
    }
    for (const std::string& line : check.shell_lines) {
      absl::StrAppend(&out, "# Not a sysctl (", check.limit, "): ", line, "\n");
    }
    if (check.status == CheckStatus::kOnServer) {
      absl::StrAppend(&out, "# Check ", check.limit, " ", check.fix, "\n");
    }
  }
  return out;
}

}  // namespace socklab::client

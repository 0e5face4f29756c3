#include "core/limits/limit_hints.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "core/base/units.h"
#include "core/limits/derivations.h"

namespace socklab {
namespace {

constexpr int64_t kUnknown = KernelLimits::kUnknown;

std::string Num(int64_t value) {
  if (value == kUnknown) {
    return "?";
  }
  if (value == std::numeric_limits<int64_t>::max()) {
    return "unlimited";
  }
  return absl::StrCat(value);
}

std::string PortsHint(const KernelLimits& limits, const HintContext& context) {
  int64_t ports = UsableEphemeralPorts(limits);
  if (ports == kUnknown) {
    return "";
  }
  double hold = PortHoldSeconds(limits, context.loopback_destination);
  double rate = MaxConnectRate(limits, context.source_addresses, context.loopback_destination);
  bool reuse = TimeWaitReuseApplies(limits, context.loopback_destination);
  std::string sources = context.source_addresses > 1
                            ? absl::StrCat(" x ", context.source_addresses, " source addresses")
                            : "";
  std::string hold_text = reuse ? absl::StrFormat("a %g s tcp_tw_reuse delay", hold)
                                : absl::StrFormat("%g s TIME_WAIT", hold);
  // Only what changes a value in force: a wider range, tcp_tw_reuse=1 (timestamps=1 when that
  // is what keeps reuse off), more source addresses.
  std::vector<std::string> fixes;
  const PortRange range = RecommendedPortRange(context.destination_port);
  KernelLimits wide = limits;
  wide.port_range_low = range.low;
  wide.port_range_high = range.high;
  if (UsableEphemeralPorts(wide) > ports) {
    fixes.push_back(absl::StrCat("widen it (", range.Command(), ")"));
  }
  if (!reuse) {
    fixes.push_back(limits.tcp_tw_reuse == 1 ? "set net.ipv4.tcp_timestamps=1 (tcp_tw_reuse "
                                               "needs it)"
                                             : "set net.ipv4.tcp_tw_reuse=1");
  }
  fixes.push_back("add source addresses");
  std::string fix =
      fixes.size() == 1
          ? fixes[0]
          : absl::StrCat(absl::StrJoin(fixes.begin(), fixes.end() - 1, ", "), " or ", fixes.back());
  // MaxConnectRate() applies the tcp_max_tw_buckets cap, as the plan does.
  std::string rate_text =
      std::isinf(rate)
          ? absl::StrCat("no limit on new connections/s to one destination (",
                         "tcp_max_tw_buckets ", limits.tcp_max_tw_buckets,
                         " destroys TIME_WAIT beyond it), so open connections hold "
                         "them all")
          : absl::StrCat(FormatRateNumber(rate), " new connections/s to one destination");
  double scan_free =
      ScanFreeConnectRate(limits, context.source_addresses, context.loopback_destination);
  if (scan_free > 0 && !std::isinf(scan_free) && scan_free < rate) {
    // Where a churn from one address levels off when the range is large (ScanFreeConnectRate).
    absl::StrAppend(&rate_text, ", of which connect() finds a port at once ",
                    FormatRateNumber(scan_free), "/s (past that, every connect() first checks the ",
                    ports / 2, " ports of the half of the range it tries first)");
  }
  return absl::StrFormat("ip_local_port_range %d-%d gives %d ports%s; at %s that is %s; %s",
                         limits.port_range_low, limits.port_range_high, ports, sources, hold_text,
                         rate_text, fix);
}

std::string FdHint(const KernelLimits& limits) {
  if (limits.nofile_soft == kUnknown) {
    return "";
  }
  int64_t target = limits.nofile_hard;
  if (limits.nr_open != kUnknown && (target == kUnknown || target > limits.nr_open)) {
    target = limits.nr_open;
  }
  std::string raise =
      limits.nofile_soft < target
          ? absl::StrCat("raise it with 'ulimit -n ", target, "'")
          : absl::StrCat(
                "raise the hard limit (limits.conf / systemd LimitNOFILE=, up to fs.nr_open ",
                Num(limits.nr_open), ")");
  return absl::StrCat(
      "RLIMIT_NOFILE is ", Num(limits.nofile_soft), " (hard ", Num(limits.nofile_hard),
      "): at most ", Num(MaxOpenConnectionsPerProcess(limits)), " connections per process; ", raise,
      "; ENFILE means fs.file-max ", Num(limits.file_max), " for the whole system");
}

// Why SYNs go unanswered, the same for the kernel's ETIMEDOUT and for our own deadline: the
// server's accept queue (or, with tcp_syncookies=0, its SYN queue) is full, or conntrack is.
std::string UnansweredSynCauses(const KernelLimits& limits, const HintContext& context) {
  int64_t backlog = EffectiveBacklog(limits, context.requested_backlog);
  std::string queue = context.requested_backlog > 0
                          ? absl::StrCat("min(backlog ", context.requested_backlog, ", somaxconn ",
                                         Num(limits.somaxconn), ") = ", Num(backlog))
                          : absl::StrCat("somaxconn ", Num(limits.somaxconn));
  std::string syn_queue =
      limits.tcp_syncookies == 0
          ? absl::StrCat(
                "; with tcp_syncookies=0 also its SYN queue (the same backlog, 3/4 of "
                "tcp_max_syn_backlog ",
                Num(limits.tcp_max_syn_backlog), " for unproven peers)")
          : "";
  std::string conntrack =
      limits.conntrack_loaded
          ? absl::StrCat(", or nf_conntrack_max ", Num(limits.nf_conntrack_max), " is full")
          : "";
  return absl::StrCat("the server's accept queue (", queue,
                      ", holding one more) may be full and dropping SYNs "
                      "(TcpExt.ListenOverflows on the server)",
                      syn_queue, conntrack);
}

std::string SynRetriesText(const KernelLimits& limits) {
  return absl::StrCat("tcp_syn_retries ", Num(limits.tcp_syn_retries),
                      " + tcp_syn_linear_timeouts ", SynLinearTimeouts(limits));
}

std::string ConnectTimeoutHint(const KernelLimits& limits, const HintContext& context) {
  SynSchedule syn = SynSentSchedule(limits);
  if (syn.give_up_seconds < 0) {
    return "";
  }
  return absl::StrCat(SynRetriesText(limits), ": connect gives up on unanswered SYNs (sent at ",
                      SynSendTimesText(syn, 8), ") after ", SynGiveUpText(syn),
                      "; a socket's TCP_SYNCNT overrides tcp_syn_retries; ",
                      UnansweredSynCauses(limits, context));
}

// Our own --connect-timeout (2 s by default) fires long before the kernel's ETIMEDOUT, so an
// accept queue that drops SYNs is seen as (connect, deadline), not (connect, timed_out).
std::string ConnectDeadlineHint(const KernelLimits& limits, const HintContext& context) {
  SynSchedule syn = SynSentSchedule(limits);
  if (syn.give_up_seconds < 0) {
    return "";
  }
  std::string sent;
  if (context.connect_deadline_seconds > 0) {
    size_t before = 0;
    for (double at : syn.sends) {
      before += at < context.connect_deadline_seconds ? 1 : 0;
    }
    sent = absl::StrFormat(
        "the %g s connect deadline fired after %d SYN%s (sent at %s) went "
        "unanswered",
        context.connect_deadline_seconds, before, before == 1 ? "" : "s", SynSendTimesText(syn, 8));
  } else {
    sent = absl::StrCat("the connect deadline (--connect-timeout) fired while SYNs (sent at ",
                        SynSendTimesText(syn, 8), ") went unanswered");
  }
  const HintContext::ConnectDeadlines& seen = context.deadlines;
  const std::string kernel_gives_up =
      absl::StrCat("the kernel itself would give up only after ",
                   FormatSeconds(syn.give_up_seconds), " (", SynRetriesText(limits), ")");
  if (seen.answered == HintContext::kUnknownCount ||
      seen.unanswered == HintContext::kUnknownCount) {
    return absl::StrCat(sent, "; ", UnansweredSynCauses(limits, context), "; ", kernel_gives_up);
  }
  std::vector<std::string> parts;
  if (seen.answered > 0) {
    parts.push_back(absl::StrCat(
        seen.answered, " of ", seen.answered + seen.unanswered,
        " fired after the kernel had completed the handshake (TCP_INFO: ESTABLISHED): this client "
        "saw the answer too late, not the server (its loop thread was busy or not scheduled: see "
        "client cpu, -t, -c per thread)",
        seen.local_shortage_errors > 0 ? absl::StrCat("; it also met its own limits ",
                                                      seen.local_shortage_errors, " times (above)")
                                       : ""));
  }
  if (seen.unanswered > 0) {
    const bool overflow_known = seen.listener_local && seen.listen_overflows >= 0;
    const bool queue_known =
        seen.listener_local && seen.listener_queue_max >= 0 && seen.listener_backlog >= 0;
    // The kernel drops a SYN when the accept queue holds more than its backlog
    // (sk_acceptq_is_full).
    const bool queue_full = queue_known && seen.listener_queue_max > seen.listener_backlog;
    const std::string queue = queue_known ? absl::StrCat("its listener's accept queue held up to ",
                                                         seen.listener_queue_max, " (limit ",
                                                         seen.listener_backlog, ", netlink)")
                                          : "";
    const std::string counters =
        overflow_known ? absl::StrCat("TcpExt.ListenOverflows +", seen.listen_overflows,
                                      ", ListenDrops +", std::max<int64_t>(0, seen.listen_drops))
                       : "";
    const std::string evidence =
        absl::StrCat(counters, !counters.empty() && !queue.empty() ? "; " : "", queue);
    std::string cause;
    if ((overflow_known && seen.listen_overflows > 0) || queue_full) {
      cause = absl::StrCat(
          "the server's accept queue overflowed and dropped SYNs (", evidence,
          "): it does not accept() fast enough for this load; raise its listen backlog and "
          "somaxconn ",
          Num(limits.somaxconn), ", or make it accept sooner");
    } else if (overflow_known && seen.answered > 0) {
      // io_uring sends a connect's SYN when the loop next enters the kernel: a client late to
      // reap answers is late to send SYNs too.
      cause = absl::StrCat("the server's accept queue did not overflow (", evidence,
                           "): with this client late for the others, these SYNs most likely left "
                           "late too");
    } else if (overflow_known) {
      cause = absl::StrCat(
          "the server's accept queue did not overflow (", evidence,
          "): the SYNs or their answers were lost on the way (a firewall rule, a full conntrack "
          "table, tc), or the server's SYN queue dropped them");
    } else {
      cause = UnansweredSynCauses(limits, context);
    }
    parts.push_back(absl::StrCat(seen.unanswered, " of ", seen.answered + seen.unanswered,
                                 " fired in SYN_SENT: ", sent, "; ", cause));
  }
  parts.push_back(kernel_gives_up);
  return absl::StrJoin(parts, "; ");
}

std::string DataTimeoutHint(const KernelLimits& limits) {
  double dead = DeadPeerSeconds(limits);
  if (dead < 0) {
    return "";
  }
  int64_t keepalive = KeepaliveDetectSeconds(limits);
  return absl::StrCat("tcp_retries2 ", Num(limits.tcp_retries2),
                      ": a peer that stops acknowledging is given up after ", FormatSeconds(dead),
                      "; an idle one with SO_KEEPALIVE after ",
                      keepalive == kUnknown ? "?" : FormatSeconds(static_cast<double>(keepalive)),
                      " (keepalive time+intvl*probes); TCP_USER_TIMEOUT shortens both");
}

std::string OverflowResetHint(const KernelLimits& limits, const HintContext& context) {
  if (limits.tcp_abort_on_overflow != 1) {
    return "";
  }
  return absl::StrCat("tcp_abort_on_overflow=1: a full accept queue (",
                      Num(EffectiveBacklog(limits, context.requested_backlog)),
                      " = min(backlog, somaxconn ", Num(limits.somaxconn),
                      ")) answers with RST; raise somaxconn and the listen backlog");
}

std::string NoBufsHint(const KernelLimits& limits) {
  BufferMemory memory = BufferMemoryFor(limits, 1);
  if (memory.limit_bytes < 0) {
    return "";
  }
  return absl::StrCat("tcp_mem allows ", FormatBytes(memory.limit_bytes),
                      " of TCP buffers in total (pressure from ",
                      FormatBytes(memory.pressure_bytes), "); each connection may take up to ",
                      FormatBytes(memory.at_max_bytes),
                      " (tcp_rmem+tcp_wmem max); use smaller SO_RCVBUF/SO_SNDBUF or raise "
                      "net.ipv4.tcp_mem");
}

}  // namespace

std::string PortRecycleHint(int64_t recycled, int64_t connects, bool ports_named,
                            const KernelLimits& limits, const HintContext& context) {
  // A connect's scan of the range recycles the first port whose TIME_WAIT is old enough. Now and
  // then that is routine; for most of a run's connects to do it, TIME_WAITs (60 s each) must hold
  // nearly the whole range.
  constexpr int64_t kFewestConnects = 100;
  if (connects < kFewestConnects || recycled * 2 < connects) {
    return "";
  }
  const std::string ports = ports_named ? "" : PortsHint(limits, context);
  return absl::StrCat(recycled, " of ", connects,
                      " connects took a local port still in TIME_WAIT (TcpExt.TWRecycled): "
                      "TIME_WAITs held the port range toward the target, so this machine's "
                      "ports bounded the rate of new connections, not the target",
                      ports.empty() ? "" : "; ", ports);
}

std::string LimitHint(Phase phase, ErrorClass error_class, const KernelLimits& limits,
                      const HintContext& context) {
  switch (error_class) {
    case ErrorClass::kAddrNotAvail:
      // On bind() EADDRNOTAVAIL means the address is not local: no limit explains that.
      return phase == Phase::kConnect ? PortsHint(limits, context) : "";
    case ErrorClass::kAddrInUse:
      // bind(port 0) runs out of ports as EADDRINUSE; a bound port reserves it for every
      // destination, which IP_BIND_ADDRESS_NO_PORT (4.2+) avoids. A named port that is taken is
      // no limit.
      if (phase != Phase::kBind || !context.bind_port_zero) {
        return "";
      }
      return absl::StrCat(PortsHint(limits, context),
                          "; bind(port 0) holds a port for every destination: set "
                          "IP_BIND_ADDRESS_NO_PORT before bind");
    case ErrorClass::kNoFds:
      return FdHint(limits);
    case ErrorClass::kTimedOut:
      return phase == Phase::kConnect ? ConnectTimeoutHint(limits, context)
                                      : DataTimeoutHint(limits);
    case ErrorClass::kDeadline:
      // A read deadline is the client's own patience with the server, no kernel limit.
      return phase == Phase::kConnect ? ConnectDeadlineHint(limits, context) : "";
    case ErrorClass::kReset:
      return phase == Phase::kRead || phase == Phase::kWrite || phase == Phase::kConnect
                 ? OverflowResetHint(limits, context)
                 : "";
    case ErrorClass::kNoBufs:
      return NoBufsHint(limits);
    default:
      return "";
  }
}

const KernelLimits& ThisMachineLimits() {
  static const KernelLimits limits = ReadKernelLimits();
  return limits;
}

}  // namespace socklab

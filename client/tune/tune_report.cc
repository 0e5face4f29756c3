#include "client/tune/tune_report.h"

#include <sys/socket.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "client/tune/text_layout.h"
#include "core/base/units.h"
#include "nlohmann/json.hpp"

namespace socklab::client {
namespace {

constexpr int64_t kUnknown = KernelLimits::kUnknown;

std::string Value(int64_t value) {
  if (value == kUnknown) {
    return "unreadable";
  }
  if (value == std::numeric_limits<int64_t>::max()) {
    return "unlimited";
  }
  return absl::StrCat(value);
}

std::string Triple(const std::array<int64_t, 3>& values) {
  if (values[0] == kUnknown) {
    return "unreadable";
  }
  return absl::StrCat(values[0], " ", values[1], " ", values[2]);
}

// Status of a row when no plan was given: "ok", or a word that flags a value worth a look.
std::string Judge(int64_t value, bool flag, const char* word = "low") {
  if (value == kUnknown) {
    return "unreadable";
  }
  return flag ? word : "ok";
}

std::vector<ParamRow> MakeRows(const KernelLimits& l) {
  std::vector<ParamRow> rows;
  auto add = [&rows](std::string name, std::string value, std::string meaning, std::string status) {
    rows.push_back({std::move(name), std::move(value), std::move(meaning), std::move(status)});
  };
  int64_t ports = UsableEphemeralPorts(l);
  double connect_timeout = ConnectTimeoutSeconds(l);

  add("net.core.somaxconn", Value(l.somaxconn),
      absl::StrCat("listen(B) gets a backlog of min(B, ", Value(l.somaxconn),
                   "): the accept queue holds one more, the SYN queue as many"),
      Judge(l.somaxconn, l.somaxconn < 1024));
  // Since ~4.4 the SYN queue is full at the listener's backlog (inet_csk_reqsk_queue_is_full()
  // against sk_max_ack_backlog); tcp_max_syn_backlog is read only by tcp_conn_request()'s
  // tcp_syncookies=0 branch.
  add("net.ipv4.tcp_max_syn_backlog", Value(l.tcp_max_syn_backlog),
      l.tcp_syncookies == 0
          ? absl::StrCat("with tcp_syncookies=0: SYNs of peers not proven alive are dropped once a "
                         "listener's SYN queue holds 3/4 of this (",
                         l.tcp_max_syn_backlog == kUnknown
                             ? std::string("?")
                             : absl::StrCat(l.tcp_max_syn_backlog - l.tcp_max_syn_backlog / 4),
                         "); the queue itself is capped by the listen backlog")
          : "not a limit here: the SYN queue is capped by the listen backlog, then SYN cookies; "
            "this only counts with tcp_syncookies=0",
      Judge(l.tcp_max_syn_backlog, false));
  add("net.ipv4.tcp_syncookies", Value(l.tcp_syncookies),
      l.tcp_syncookies == 0 ? "off: SYNs beyond a listener's backlog in SYN_RECV are dropped"
      : l.tcp_syncookies == 2
          ? "cookies for every SYN (options like window scaling are lost)"
          : "cookies once a listener's SYN queue holds its backlog; no help for a full accept "
            "queue",
      Judge(l.tcp_syncookies, l.tcp_syncookies == 0, "note"));
  add("net.ipv4.tcp_abort_on_overflow", Value(l.tcp_abort_on_overflow),
      l.tcp_abort_on_overflow == 1
          ? "full accept queue: RST, the client sees ECONNRESET"
          : absl::StrCat("full accept queue: SYNs dropped, the client retries and connect() may "
                         "ETIMEDOUT after ",
                         FormatSeconds(connect_timeout)),
      Judge(l.tcp_abort_on_overflow, false));
  add("net.core.netdev_max_backlog", Value(l.netdev_max_backlog),
      "packets queued per CPU before the stack drops them (softnet_stat column 2)",
      Judge(l.netdev_max_backlog, false));
  add("net.ipv4.ip_local_port_range",
      l.port_range_low == kUnknown ? "unreadable"
                                   : absl::StrCat(l.port_range_low, " ", l.port_range_high),
      absl::StrCat(ports == kUnknown ? "?" : absl::StrCat(ports),
                   " ports per (source address, destination)"),
      Judge(l.port_range_low, ports != kUnknown && ports < 10000));
  int64_t reserved = ReservedPortsInRange(l);
  std::vector<std::string> reserved_text;
  for (const auto& [low, high] : l.reserved_ports) {
    reserved_text.push_back(low == high ? absl::StrCat(low) : absl::StrCat(low, "-", high));
  }
  add("net.ipv4.ip_local_reserved_ports",
      !l.reserved_ports_known ? "unreadable"
      : reserved_text.empty() ? "(none)"
                              : absl::StrJoin(reserved_text, ","),
      absl::StrCat(reserved == kUnknown ? "?" : absl::StrCat(reserved),
                   " ports of the range never picked by connect()"),
      l.reserved_ports_known ? "ok" : "unreadable");
  add("net.ipv4.tcp_tw_reuse", Value(l.tcp_tw_reuse),
      l.tcp_tw_reuse == 0   ? "off: a closed port waits the full 60 s TIME_WAIT"
      : l.tcp_tw_reuse == 1 ? "connect() reuses TIME_WAIT ports after the reuse delay"
                            : "reuse TIME_WAIT ports for loopback only; others wait 60 s",
      Judge(l.tcp_tw_reuse, false));
  if (l.tcp_tw_reuse_delay_ms != kUnknown) {
    add("net.ipv4.tcp_tw_reuse_delay", Value(l.tcp_tw_reuse_delay_ms),
        "ms a TIME_WAIT port must age before tcp_tw_reuse takes it (6.13+)", "ok");
  }
  add("net.ipv4.tcp_timestamps", Value(l.tcp_timestamps),
      l.tcp_timestamps == 0 ? "off: tcp_tw_reuse cannot work"
                            : "on: needed by tcp_tw_reuse and PAWS",
      Judge(l.tcp_timestamps, l.tcp_timestamps == 0, "note"));
  add("net.ipv4.tcp_fin_timeout", Value(l.tcp_fin_timeout),
      "FIN_WAIT2 lifetime only; TIME_WAIT stays 60 s (TCP_TIMEWAIT_LEN, compiled in)",
      Judge(l.tcp_fin_timeout, false));
  add("net.ipv4.tcp_max_tw_buckets", Value(l.tcp_max_tw_buckets),
      l.tcp_max_tw_buckets == kUnknown
          ? "?"
          : absl::StrFormat("TIME_WAIT sockets kept; beyond %.0f closes/s they are destroyed early",
                            std::floor(static_cast<double>(l.tcp_max_tw_buckets) / 60.0)),
      Judge(l.tcp_max_tw_buckets, false));
  add("net.ipv4.ip_unprivileged_port_start", Value(l.ip_unprivileged_port_start),
      "ports below this need CAP_NET_BIND_SERVICE to bind (EACCES)",
      Judge(l.ip_unprivileged_port_start, false));
  SynSchedule syn = SynSentSchedule(l);
  add("net.ipv4.tcp_syn_retries", Value(l.tcp_syn_retries),
      absl::StrCat("unanswered connect() fails with ETIMEDOUT after ",
                   FormatSeconds(connect_timeout), ", up to ",
                   FormatSeconds(std::round(syn.latest_give_up_seconds * 10) / 10),
                   " with timer lateness (SYNs at ", SynSendTimesText(syn, 8), ")"),
      Judge(l.tcp_syn_retries, false));
  if (l.tcp_syn_linear_timeouts != kUnknown) {
    add("net.ipv4.tcp_syn_linear_timeouts", Value(l.tcp_syn_linear_timeouts),
        absl::StrCat("the first ", l.tcp_syn_linear_timeouts,
                     " SYN retransmissions keep the 1 s RTO and add to tcp_syn_retries: ",
                     syn.max_retransmissions, " retransmissions at most (6.5+)"),
        "ok");
  }
  add("net.ipv4.tcp_synack_retries", Value(l.tcp_synack_retries),
      absl::StrCat("a server drops a half-open connection after ",
                   FormatSeconds(SynAckGiveUpSeconds(l))),
      Judge(l.tcp_synack_retries, false));
  add("net.ipv4.tcp_retries2", Value(l.tcp_retries2),
      absl::StrCat("a peer that stops acknowledging data: ETIMEDOUT after ",
                   FormatSeconds(DeadPeerSeconds(l))),
      Judge(l.tcp_retries2, false));
  if (l.tcp_rto_max_ms != kUnknown) {
    add("net.ipv4.tcp_rto_max_ms", Value(l.tcp_rto_max_ms),
        "ms the retransmission timeout backs off to at most (TCP_RTO_MAX before 6.15); enters "
        "the tcp_retries2 and SYN give-up times",
        "ok");
  }
  int64_t keepalive = KeepaliveDetectSeconds(l);
  add("net.ipv4.tcp_keepalive_time/intvl/probes",
      absl::StrCat(Value(l.tcp_keepalive_time), " ", Value(l.tcp_keepalive_intvl), " ",
                   Value(l.tcp_keepalive_probes)),
      absl::StrCat("an idle dead peer with SO_KEEPALIVE: noticed after ",
                   keepalive == kUnknown ? "?" : FormatSeconds(static_cast<double>(keepalive))),
      Judge(keepalive, false));
  add("net.ipv4.tcp_rmem", Triple(l.tcp_rmem),
      l.tcp_rmem[0] == kUnknown
          ? "?"
          : absl::StrCat("receive buffer: ", FormatBytes(static_cast<double>(l.tcp_rmem[1])),
                         " at start, autotuned up to ",
                         FormatBytes(static_cast<double>(l.tcp_rmem[2]))),
      Judge(l.tcp_rmem[0], false));
  add("net.ipv4.tcp_wmem", Triple(l.tcp_wmem),
      l.tcp_wmem[0] == kUnknown
          ? "?"
          : absl::StrCat("send buffer: ", FormatBytes(static_cast<double>(l.tcp_wmem[1])),
                         " at start, autotuned up to ",
                         FormatBytes(static_cast<double>(l.tcp_wmem[2]))),
      Judge(l.tcp_wmem[0], false));
  BufferMemory memory = BufferMemoryFor(l, 1);
  add("net.ipv4.tcp_mem", Triple(l.tcp_mem),
      memory.limit_bytes < 0
          ? "?"
          : absl::StrCat("all TCP buffers: pressure at ", FormatBytes(memory.pressure_bytes),
                         ", refused beyond ", FormatBytes(memory.limit_bytes), " (pages of ",
                         l.page_size, " B)"),
      Judge(l.tcp_mem[0], false));
  add("net.core.rmem_max", Value(l.rmem_max),
      "the most SO_RCVBUF can ask for (autotuning may go to tcp_rmem max)",
      Judge(l.rmem_max, false));
  add("net.core.wmem_max", Value(l.wmem_max), "the most SO_SNDBUF can ask for",
      Judge(l.wmem_max, false));
  add("RLIMIT_NOFILE", absl::StrCat(Value(l.nofile_soft), " ", Value(l.nofile_hard)),
      absl::StrCat("soft/hard: this process can hold ", Value(MaxOpenConnectionsPerProcess(l)),
                   " connections; 'ulimit -n' raises soft up to hard"),
      Judge(l.nofile_soft, l.nofile_soft != kUnknown && l.nofile_soft <= 1024));
  add("fs.nr_open", Value(l.nr_open), "the most any RLIMIT_NOFILE can be raised to",
      Judge(l.nr_open, false));
  add("fs.file-max", Value(l.file_max), "open files in the whole system (ENFILE beyond)",
      Judge(l.file_max, false));
  add("kernel.io_uring_disabled", Value(l.io_uring_disabled),
      l.io_uring_disabled == kUnknown ? "no such sysctl (kernel < 6.6): io_uring allowed"
      : l.io_uring_disabled == 0      ? "io_uring allowed"
      : l.io_uring_disabled == 1
          ? "io_uring only for the io_uring_group; --backend auto falls back to epoll"
          : "io_uring disabled; --backend auto falls back to epoll",
      l.io_uring_disabled > 0 ? "note" : "ok");
  if (l.conntrack_loaded) {
    add("net.netfilter.nf_conntrack_max", Value(l.nf_conntrack_max),
        absl::StrCat("tracked flows (", Value(l.nf_conntrack_count), " now; closed ones stay ",
                     Value(l.nf_conntrack_time_wait), " s); beyond it new SYNs are dropped"),
        Judge(l.nf_conntrack_max, false));
  }
  return rows;
}

void ApplyPlanStatus(const Plan& plan, std::vector<ParamRow>& rows) {
  for (const PlanCheck& check : plan.checks) {
    if (check.status == CheckStatus::kOk || check.status == CheckStatus::kOnServer) {
      continue;  // a server's limit is not this machine's row
    }
    for (ParamRow& row : rows) {
      if (row.name == check.limit) {
        row.status =
            check.status == CheckStatus::kBreaks ? "limits your plan" : "may limit your plan";
      }
    }
  }
}

std::string Quantity(double value) {
  if (value < 0) {
    return "?";
  }
  if (value >= 9.2e18) {
    return "unlimited";
  }
  return absl::StrFormat("%.0f", std::ceil(value));
}

std::string CheckQuantity(const PlanCheck& check, double value) {
  return check.unit == "bytes" && value >= 0 ? FormatBytes(value) : Quantity(value);
}

}  // namespace

TuneReport MakeTuneReport(const MachineInfo& machine, const KernelLimits& limits,
                          const Plan* plan) {
  TuneReport report;
  report.machine = machine;
  report.limits = limits;
  report.parameters = MakeRows(limits);
  DerivationInputs inputs;
  if (plan != nullptr) {
    report.has_plan = true;
    report.plan = *plan;
    ApplyPlanStatus(*plan, report.parameters);
    inputs.source_addresses = static_cast<int64_t>(plan->options.source_ips);
    inputs.loopback_destination = plan->loopback_target;
    inputs.ipv6 = plan->options.target.family() == AF_INET6;
    if (plan->options.backlog > 0) {
      inputs.requested_backlog = static_cast<int64_t>(plan->options.backlog);
    }
    if (plan->options.connections > 0) {
      inputs.connections = static_cast<int64_t>(plan->options.connections);
    }
  }
  report.derivations = DeriveAll(limits, inputs);
  return report;
}

std::string TuneReportToText(const TuneReport& report, size_t width) {
  std::string out = absl::StrCat(
      WrapParagraph("socklab tune: ", MachineInfoToText(report.machine), 2, width), "\n\n");
  std::vector<std::vector<std::string>> cells = {
      {"parameter", "value", "what it means here", "status"}};
  for (const ParamRow& row : report.parameters) {
    cells.push_back({row.name, row.value, row.meaning, row.status});
  }
  absl::StrAppend(&out, RenderAlignedTable(cells, width), "\n");
  std::vector<std::vector<std::string>> derived = {{"derived", "value", "formula"}};
  for (const Derivation& d : report.derivations) {
    derived.push_back({d.title, d.text, d.formula});
  }
  absl::StrAppend(&out, RenderAlignedTable(derived, width));
  if (!report.has_plan) {
    return out;
  }
  const Plan& plan = report.plan;
  absl::StrAppend(&out, "\n", WrapParagraph("plan: ", plan.assumptions, 6, width), "\n\n");
  std::vector<std::vector<std::string>> checks = {{"limit", "need", "have", "status", "how"}};
  for (const PlanCheck& check : plan.checks) {
    checks.push_back({check.limit, CheckQuantity(check, check.need),
                      CheckQuantity(check, check.have), std::string(CheckStatusName(check.status)),
                      check.formula});
  }
  absl::StrAppend(&out, RenderAlignedTable(checks, width), "\n");
  const PlanCheck* first = plan.FirstBreak();
  if (first == nullptr) {
    absl::StrAppend(&out, "verdict: the plan fits this machine's limits");
  } else {
    absl::StrAppend(&out, "verdict: ", first->limit, " breaks first (needs ",
                    absl::StrFormat("%.1f", first->ratio()), "x what it gives)");
  }
  absl::StrAppend(&out, "\n");
  // Continuation lines of a paragraph start under its text: "  you will see: " is 16 wide.
  constexpr size_t kIndent = 4;
  for (const PlanCheck& check : plan.checks) {
    if (check.status == CheckStatus::kOk) {
      continue;
    }
    if (check.status == CheckStatus::kOnServer) {
      absl::StrAppend(
          &out, "\ncheck on the server: ", check.limit, " (this machine cannot see it)\n",
          WrapParagraph("  if it is too small: ",
                        absl::StrCat(check.ErrorText(), ": ", check.symptom), kIndent, width),
          "\n", WrapParagraph("  look: ", check.fix, kIndent, width), "\n");
      continue;
    }
    absl::StrAppend(
        &out, "\n", check.status == CheckStatus::kBreaks ? "breaks: " : "warn:   ", check.limit,
        "\n",
        WrapParagraph("  you will see: ", absl::StrCat(check.ErrorText(), ": ", check.symptom),
                      kIndent, width),
        "\n", WrapParagraph("  fix: ", check.fix.empty() ? "-" : check.fix, kIndent, width), "\n");
  }
  return out;
}

nlohmann::json TuneReportToJson(const TuneReport& report) {
  nlohmann::json json;
  json["machine"] = MachineInfoToJson(report.machine);
  nlohmann::json& params = json["parameters"] = nlohmann::json::array();
  for (const ParamRow& row : report.parameters) {
    params.push_back({{"name", row.name},
                      {"value", row.value},
                      {"meaning", row.meaning},
                      {"status", row.status}});
  }
  nlohmann::json& derived = json["derivations"] = nlohmann::json::array();
  for (const Derivation& d : report.derivations) {
    derived.push_back({{"key", d.key},
                       {"title", d.title},
                       {"value", d.value},
                       {"text", d.text},
                       {"formula", d.formula}});
  }
  if (!report.has_plan) {
    return json;
  }
  const Plan& plan = report.plan;
  nlohmann::json& out = json["plan"];
  out["connections"] = plan.options.connections;
  out["conn_rate"] = plan.options.conn_rate;
  out["target"] = plan.options.target.ToString();
  out["source_ips"] = plan.options.source_ips;
  out["backlog"] = plan.options.backlog;
  out["loopback_target"] = plan.loopback_target;
  out["assumptions"] = plan.assumptions;
  const PlanCheck* first = plan.FirstBreak();
  out["breaks_first"] = first == nullptr ? nlohmann::json(nullptr) : nlohmann::json(first->key);
  out["error"] = first == nullptr ? nlohmann::json(nullptr) : nlohmann::json(first->ErrorText());
  nlohmann::json& checks = out["checks"] = nlohmann::json::array();
  for (const PlanCheck& check : plan.checks) {
    checks.push_back({{"key", check.key},
                      {"limit", check.limit},
                      {"need", check.need},
                      {"have", check.have},
                      {"unit", check.unit},
                      {"status", std::string(CheckStatusName(check.status))},
                      {"formula", check.formula},
                      {"error", check.ErrorText()},
                      {"symptom", check.symptom},
                      {"fix", check.fix},
                      {"sysctl", check.sysctl_lines},
                      {"shell", check.shell_lines}});
  }
  out["suggested_sysctls"] = plan.SuggestedSysctls();
  return json;
}

}  // namespace socklab::client

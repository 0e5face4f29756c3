#include "client/tune/try_settings.h"

#include <errno.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstring>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "core/base/errno_name.h"
#include "core/base/status.h"
#include "core/net/netns.h"

namespace socklab::client {
namespace {

constexpr absl::string_view kNofile = "nofile";

// Sysctls under net.* that the kernel keeps once for the whole system (only the initial
// namespace has them, or a namespace sees them read-only), with what they count.
struct SystemWide {
  absl::string_view name;
  absl::string_view what;
};
constexpr SystemWide kSystemWideNet[] = {
    {"net.ipv4.tcp_mem", "the TCP memory of the whole system, shared by every namespace"},
    {"net.ipv4.udp_mem", "the UDP memory of the whole system, shared by every namespace"},
    {"net.core.rmem_max", "one cap for the whole system"},
    {"net.core.wmem_max", "one cap for the whole system"},
    {"net.core.netdev_max_backlog", "one per-CPU queue length for the whole system"},
    {"net.netfilter.nf_conntrack_max", "the size of the one conntrack table of the system"},
};

// The per-namespace sysctls among those core/limits/kernel_limits.cc reads.
constexpr absl::string_view kPerNamespace[] = {
    "net.core.somaxconn",
    "net.ipv4.tcp_max_syn_backlog",
    "net.ipv4.tcp_syncookies",
    "net.ipv4.tcp_abort_on_overflow",
    "net.ipv4.ip_local_port_range",
    "net.ipv4.ip_local_reserved_ports",
    "net.ipv4.tcp_tw_reuse",
    "net.ipv4.tcp_tw_reuse_delay",
    "net.ipv4.tcp_timestamps",
    "net.ipv4.tcp_fin_timeout",
    "net.ipv4.tcp_max_tw_buckets",
    "net.ipv4.tcp_syn_retries",
    "net.ipv4.tcp_syn_linear_timeouts",
    "net.ipv4.tcp_synack_retries",
    "net.ipv4.tcp_retries2",
    "net.ipv4.tcp_rto_max_ms",
    "net.ipv4.tcp_keepalive_time",
    "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",
    "net.ipv4.tcp_rmem",
    "net.ipv4.tcp_wmem",
};

std::string JoinWords(absl::string_view text) {
  std::vector<absl::string_view> words =
      absl::StrSplit(text, absl::ByAnyChar(" \t\n"), absl::SkipEmpty());
  return absl::StrJoin(words, " ");
}

std::string SysctlPath(absl::string_view name) {
  return absl::StrCat("/proc/sys/", absl::StrReplaceAll(name, {{".", "/"}}));
}

absl::Status RefuseSystemWide(absl::string_view name, absl::string_view what) {
  std::string instead =
      (name == "fs.file-max" || name == "fs.nr_open")
          ? "give the processes more descriptors with --try nofile=N instead, or compare two "
            "socklab load runs around sysctl -w on a test machine"
          : absl::StrCat("compare two socklab load runs around sysctl -w ", name,
                         "=... on a test machine");
  return UsageError(absl::StrCat("--try ", name, " is not per network namespace (", what,
                                 "): trying it would change this host"),
                    instead);
}

}  // namespace

std::string TrySetting::ShortForm() const {
  absl::string_view short_name = name;
  for (absl::string_view prefix : {"net.ipv4.", "net.core.", "net.ipv6."}) {
    if (absl::ConsumePrefix(&short_name, prefix)) {
      break;
    }
  }
  return absl::StrCat(short_name, "=", proposed);
}

absl::StatusOr<TrySetting> ParseTrySetting(absl::string_view text) {
  size_t eq = text.find('=');
  if (eq == absl::string_view::npos) {
    return UsageError(absl::StrCat("--try '", text, "' has no value"),
                      "use NAME=VALUE, e.g. --try net.ipv4.tcp_tw_reuse=1");
  }
  TrySetting setting;
  setting.name = std::string(absl::StripAsciiWhitespace(text.substr(0, eq)));
  // Multi-value sysctls print with tabs; one space between the numbers reads the same.
  std::vector<absl::string_view> words =
      absl::StrSplit(text.substr(eq + 1), absl::ByAnyChar(" \t"), absl::SkipEmpty());
  setting.proposed = absl::StrJoin(words, " ");
  if (setting.name.empty() || setting.proposed.empty()) {
    return UsageError(absl::StrCat("--try '", text, "' needs a name and a value"),
                      "use NAME=VALUE, e.g. --try net.ipv4.tcp_tw_reuse=1");
  }
  if (setting.name == kNofile || setting.name == "RLIMIT_NOFILE") {
    uint64_t value = 0;
    if (!absl::SimpleAtoi(setting.proposed, &value) || value == 0) {
      return UsageError(absl::StrCat("--try nofile=", setting.proposed, " is not a count"),
                        "give the descriptor limit as a number, e.g. --try nofile=65536");
    }
    setting.name = std::string(kNofile);
    setting.kind = TrySetting::Kind::kNofile;
    return setting;
  }
  if (!absl::StartsWith(setting.name, "net.")) {
    if (absl::StartsWith(setting.name, "fs.") || absl::StartsWith(setting.name, "kernel.") ||
        absl::StartsWith(setting.name, "vm.")) {
      return RefuseSystemWide(setting.name,
                              "only net.* sysctls have a copy in each network namespace");
    }
    return UsageError(absl::StrCat("--try ", setting.name, " is neither a net.* sysctl nor nofile"),
                      "name a sysctl as sysctl -a prints it, e.g. net.core.somaxconn");
  }
  for (const SystemWide& known : kSystemWideNet) {
    if (setting.name == known.name) {
      return RefuseSystemWide(setting.name, known.what);
    }
  }
  return setting;
}

std::vector<std::string> TryArgumentsFromPlan(const Plan& plan, std::vector<std::string>* skipped) {
  std::vector<std::string> arguments;
  for (const std::string& line : plan.SuggestedSysctls()) {
    std::vector<std::string> parts = absl::StrSplit(line, absl::MaxSplits(" = ", 1));
    if (parts.size() != 2) {
      continue;
    }
    std::string argument = absl::StrCat(parts[0], "=", parts[1]);
    if (absl::StatusOr<TrySetting> setting = ParseTrySetting(argument); setting.ok()) {
      arguments.push_back(argument);
    } else {
      skipped->push_back(std::string(setting.status().message()));
    }
  }
  // The plan writes the descriptor limit as shell: "ulimit -n 65536" or
  // "ulimit -Hn 65536 && ulimit -n 65536"; the soft limit (-n) is the one the program sees.
  std::set<std::string> seen;
  for (const PlanCheck& check : plan.checks) {
    if (check.status != CheckStatus::kBreaks && check.status != CheckStatus::kWarn) {
      continue;
    }
    for (const std::string& shell : check.shell_lines) {
      size_t at = shell.rfind("ulimit -n ");
      if (at == std::string::npos) {
        continue;
      }
      std::string argument = absl::StrCat(kNofile, "=", shell.substr(at + 10));
      if (seen.insert(argument).second) {
        arguments.push_back(argument);
      }
    }
  }
  return arguments;
}

absl::Status ReadCurrentValues(const ProcFs& proc, std::vector<TrySetting>* settings) {
  std::set<std::string> names;
  for (TrySetting& setting : *settings) {
    if (!names.insert(setting.name).second) {
      return UsageError(absl::StrCat("--try ", setting.name, " is given twice"),
                        "give each parameter once");
    }
    if (setting.kind == TrySetting::Kind::kNofile) {
      rlimit limit{};
      getrlimit(RLIMIT_NOFILE, &limit);
      setting.current = absl::StrCat(limit.rlim_cur);
      uint64_t proposed = 0;
      (void)absl::SimpleAtoi(setting.proposed, &proposed);
      absl::StatusOr<int64_t> nr_open = proc.ReadSysctlInt("fs.nr_open");
      if (nr_open.ok() && proposed > static_cast<uint64_t>(*nr_open)) {
        return UsageError(absl::StrCat("--try nofile=", proposed, " is above fs.nr_open (",
                                       *nr_open, "), which is system-wide and not changed here"),
                          absl::StrCat("try nofile=", *nr_open, " or less"));
      }
      if (proposed > limit.rlim_max) {
        // Raising the hard limit needs CAP_SYS_RESOURCE, which root in a container may lack:
        // ask the kernel in a throwaway child rather than guess.
        absl::StatusOr<ChildOutput> raised = RunInChild({.timeout = absl::Seconds(10)}, [&] {
          rlimit wanted{proposed, proposed};
          return setrlimit(RLIMIT_NOFILE, &wanted) == 0 ? std::string() : absl::StrCat(errno);
        });
        int err = 0;
        if (!raised.ok() || absl::SimpleAtoi(raised->output, &err)) {
          return UsageError(
              absl::StrCat("--try nofile=", proposed, " is above the hard limit ", limit.rlim_max,
                           ", which this process may not raise (",
                           ErrnoName(err == 0 ? EPERM : err), ", no CAP_SYS_RESOURCE)"),
              absl::StrCat("try nofile=", limit.rlim_max,
                           " or less, or run socklab where root has CAP_SYS_RESOURCE"));
        }
      }
      continue;
    }
    absl::StatusOr<std::string> value = proc.ReadSysctl(setting.name);
    if (!value.ok()) {
      return UsageError(absl::StrCat("--try ", setting.name, ": this host has no such sysctl (",
                                     SysctlPath(setting.name), " is missing)"),
                        "check the name with sysctl -a");
    }
    std::vector<absl::string_view> words =
        absl::StrSplit(*value, absl::ByAnyChar(" \t"), absl::SkipEmpty());
    setting.current = absl::StrJoin(words, " ");
  }
  return absl::OkStatus();
}

std::vector<TrySetting> HostBaseline(const ProcFs& proc, const std::vector<TrySetting>& settings) {
  std::vector<TrySetting> baseline;
  for (absl::string_view name : kPerNamespace) {
    bool named = false;
    for (const TrySetting& setting : settings) {
      named = named || setting.name == name;
    }
    absl::StatusOr<std::string> value = proc.ReadSysctl(name);
    if (named || !value.ok()) {
      continue;  // tried, or this kernel has no such parameter
    }
    TrySetting setting;
    setting.name = std::string(name);
    setting.current = JoinWords(*value);
    setting.proposed = setting.current;
    baseline.push_back(std::move(setting));
  }
  return baseline;
}

absl::Status CheckSettingsInNamespace(const std::vector<TrySetting>& settings) {
  // One line per problem: "absent NAME", "readonly NAME", or "rejected NAME VALUE-INDEX ERRNO".
  absl::StatusOr<ChildOutput> out =
      RunInChild({.new_netns = true, .timeout = absl::Seconds(10)}, [&settings] {
        std::string problems;
        for (const TrySetting& setting : settings) {
          if (setting.kind != TrySetting::Kind::kNetnsSysctl) {
            continue;
          }
          std::string path = SysctlPath(setting.name);
          if (access(path.c_str(), F_OK) != 0) {
            absl::StrAppend(&problems, "absent ", setting.name, "\n");
            continue;
          }
          if (access(path.c_str(), W_OK) != 0) {
            absl::StrAppend(&problems, "readonly ", setting.name, "\n");
            continue;
          }
          for (const std::string* value : {&setting.proposed, &setting.current}) {
            if (absl::Status written = WriteNetnsSysctl(setting.name, *value); !written.ok()) {
              absl::StrAppend(&problems, "rejected ", setting.name, " ",
                              value == &setting.proposed ? "proposed" : "current", " ",
                              ErrnoOf(written).value_or(EINVAL), "\n");
              break;
            }
          }
        }
        return problems;
      });
  if (!out.ok()) {
    return out.status();
  }
  if (out->exit.exit_code != 0) {
    return absl::InternalError("checking the settings in a network namespace: the child failed");
  }
  for (absl::string_view line : absl::StrSplit(out->output, '\n', absl::SkipEmpty())) {
    std::vector<std::string> f = absl::StrSplit(line, ' ');
    const std::string& name = f[1];
    if (f[0] == "absent" || f[0] == "readonly") {
      return RefuseSystemWide(name, f[0] == "absent"
                                        ? "a new namespace has no copy of it on this kernel"
                                        : "a new namespace can only read it");
    }
    const TrySetting* setting = nullptr;
    for (const TrySetting& s : settings) {
      if (s.name == name) {
        setting = &s;
      }
    }
    int err = 0;
    (void)absl::SimpleAtoi(f.size() > 3 ? f[3] : "", &err);
    const std::string& value = f[2] == "proposed" ? setting->proposed : setting->current;
    return UsageError(
        absl::StrCat("--try ", name, "=", value, ": the kernel refuses the value (", ErrnoName(err),
                     ")"),
        absl::StrCat("see the kernel's ip-sysctl documentation for what ", name, " accepts"));
  }
  return absl::OkStatus();
}

}  // namespace socklab::client

#include "client/repro/runner.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "client/repro/recorder.h"
#include "client/repro/report.h"
#include "core/base/errno_name.h"
#include "core/base/status.h"
#include "core/capture/kernel_events.h"
#include "core/net/netns.h"
#include "core/sysinfo/proc_fs.h"
#include "core/sysinfo/tcp_counters.h"
#include "nlohmann/json.hpp"

namespace socklab::repro {
namespace {

// Namespace support does not change during a run: probe once.
const absl::Status& NetnsAvailability() {
  static const absl::Status* const kStatus = new absl::Status(CheckNetnsAvailable());
  return *kStatus;
}

bool IsDirectory(const std::string& path) {
  struct stat st {};
  return stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

// "dir" of "dir/file", "." of "file".
absl::string_view Dirname(absl::string_view path) {
  size_t slash = path.rfind('/');
  if (slash == absl::string_view::npos) {
    return ".";
  }
  return slash == 0 ? "/" : path.substr(0, slash);
}

ScenarioResult Stopped(const std::string& name, Outcome outcome, std::string reason) {
  ScenarioResult r;
  r.name = name;
  r.outcome = outcome;
  r.reason = std::move(reason);
  return r;
}

// The body of the child: counters before and after, and the limits behind the errnos, in the
// child's own namespace (the parent's would be the host's).
std::string RunInThisProcess(const Scenario& scenario, const std::string& pcap_path) {
  Recorder rec(scenario.info.name);
  // Opened first, inside the scenario's namespace, before the scenario drops any privilege.
  rec.StartCapture(scenario.info.wire, pcap_path);
  rec.TraceKernelEvents();
  rec.ExpectKernelEvents(scenario.info.events);
  if (scenario.info.limit_hints) {
    rec.ExplainLimits(scenario.info.needs_netns ? "limit in the scenario's namespace: "
                                                : "limit here: ");
  }
  absl::StatusOr<TcpCounters> before = ReadTcpCounters();
  scenario.body(rec);
  absl::StatusOr<TcpCounters> after = ReadTcpCounters();
  std::vector<CounterDelta> deltas;
  if (before.ok() && after.ok()) {
    deltas = DiffCounters(*before, *after);
  }
  std::string scope = scenario.info.needs_netns
                          ? "private namespace: only this scenario's packets"
                          : "host namespace: includes other traffic on this machine";
  return ResultToJson(rec.Finish(std::move(deltas), std::move(scope))).dump();
}

// The scenario's kernel knobs with their values on this host (where a reader would change them),
// after the limit lines the child sent.
void AddKnobLines(const ScenarioInfo& info, ScenarioResult& r) {
  ProcFs proc;
  for (const KernelKnob& knob : info.kernel) {
    r.kernel_lines.push_back(KnobLine(knob, proc.ReadSysctl(knob.sysctl)));
  }
}

// The value `advice` sets with "sysctl -w NAME=VALUE" or "NAME=\"A B\"", white space collapsed;
// nullopt when it sets none.
std::optional<std::string> AdvisedValue(absl::string_view advice, absl::string_view sysctl) {
  const std::string key = absl::StrCat(sysctl, "=");
  size_t at = advice.find(key);
  if (at == absl::string_view::npos) {
    return std::nullopt;
  }
  absl::string_view rest = advice.substr(at + key.size());
  absl::string_view value;
  if (absl::ConsumePrefix(&rest, "\"")) {
    value = rest.substr(0, rest.find('"'));
  } else {
    value = rest.substr(0, rest.find_first_of(" \t);,"));
  }
  return absl::StrJoin(absl::StrSplit(value, absl::ByAnyChar(" \t"), absl::SkipEmpty()), " ");
}

}  // namespace

std::string KnobLine(const KernelKnob& knob, const absl::StatusOr<std::string>& host_value) {
  if (!host_value.ok()) {
    return absl::StrCat(knob.sysctl, " = ? on this host: ", knob.advice);
  }
  const std::string value =
      absl::StrJoin(absl::StrSplit(*host_value, absl::ByAnyChar(" \t"), absl::SkipEmpty()), " ");
  std::string line = absl::StrCat(knob.sysctl, " = \"", value, "\" on this host: ");
  std::optional<std::string> advised = AdvisedValue(knob.advice, knob.sysctl);
  if (advised.has_value() && *advised == value) {
    // Never a command that sets what is already set. (Only equality: whether more is better
    // depends on the knob; a lower tcp_fin_timeout is the advice, a higher wmem_max.)
    return absl::StrCat(line, "already the value this would set; nothing to change");
  }
  return absl::StrCat(line, knob.advice);
}

absl::Status ReproOptions::Validate() const {
  if (!find.empty() && (list || all || !names.empty())) {
    return UsageError("--find with --list, --all or scenario names",
                      "--find TEXT alone lists the scenarios for a symptom; run one by name after");
  }
  if (list || !find.empty()) {
    return absl::OkStatus();
  }
  if (!all && names.empty()) {
    return UsageError("no scenario given", "name one or more, or use --all; --list shows them");
  }
  if (all && !names.empty()) {
    return UsageError("--all and scenario names together", "use one or the other");
  }
  for (const std::string& name : names) {
    if (FindScenario(name) == nullptr) {
      return UsageError(absl::StrCat("unknown scenario '", name, "'"),
                        absl::StrCat("choose from: ", absl::StrJoin(ScenarioNames(), ", ")));
    }
  }
  if (!pcap.empty()) {
    const bool several = all || names.size() > 1;
    const bool directory = absl::EndsWith(pcap, "/") || IsDirectory(pcap);
    if (several && !directory) {
      return UsageError(absl::StrCat("--pcap ", pcap, " with several scenarios"),
                        "give a directory (--pcap DIR/): each scenario writes DIR/NAME.pcap");
    }
    const std::string dir = directory ? pcap : std::string(Dirname(pcap));
    if (!IsDirectory(dir)) {
      return UsageError(absl::StrCat("--pcap ", pcap, ": no directory ", dir),
                        "create it first, or write the pcap somewhere that exists");
    }
  }
  return absl::OkStatus();
}

std::string ReproOptions::PcapPathFor(absl::string_view name) const {
  if (pcap.empty()) {
    return "";
  }
  if (absl::EndsWith(pcap, "/") || IsDirectory(pcap)) {
    return absl::StrCat(absl::StripSuffix(pcap, "/"), "/", name, ".pcap");
  }
  return pcap;
}

std::vector<const Scenario*> ReproOptions::Selected() const {
  std::vector<const Scenario*> out;
  if (all) {
    for (const Scenario& s : AllScenarios()) {
      out.push_back(&s);
    }
    return out;
  }
  for (const std::string& name : names) {
    if (const Scenario* s = FindScenario(name); s != nullptr) {
      out.push_back(s);
    }
  }
  return out;
}

ScenarioResult RunScenario(const Scenario& scenario, const std::string& pcap_path) {
  const ScenarioInfo& info = scenario.info;
  if ((info.needs_root || info.needs_netns) && geteuid() != 0) {
    ScenarioResult r = Stopped(info.name, Outcome::kSkipped,
                               "needs root (a private network namespace / a privilege drop)");
    AddKnobLines(info, r);
    return r;
  }
  if (info.needs_netns && !NetnsAvailability().ok()) {
    ScenarioResult r =
        Stopped(info.name, Outcome::kSkipped, std::string(NetnsAvailability().message()));
    AddKnobLines(info, r);
    return r;
  }
  ChildOptions options;
  options.new_netns = info.needs_netns;
  options.timeout = info.timeout;
  absl::StatusOr<ChildOutput> child =
      RunInChild(options, [&] { return RunInThisProcess(scenario, pcap_path); });
  ScenarioResult result;
  if (!child.ok()) {
    std::optional<int> err = ErrnoOf(child.status());
    result = Stopped(
        info.name,
        err.has_value() && (*err == EPERM || *err == EACCES) ? Outcome::kSkipped : Outcome::kError,
        std::string(child.status().message()));
  } else if (child->exit.timed_out) {
    result = Stopped(info.name, Outcome::kError,
                     absl::StrCat("did not finish within ", absl::FormatDuration(info.timeout),
                                  "; the child was killed"));
  } else if (child->output.empty()) {
    result = Stopped(info.name, Outcome::kError,
                     child->exit.signal != 0
                         ? absl::StrCat("the scenario's child died of signal ", child->exit.signal)
                         : absl::StrCat("the scenario's child exited with ", child->exit.exit_code,
                                        " and no result"));
  } else {
    nlohmann::json json = nlohmann::json::parse(child->output, nullptr, /*allow_exceptions=*/false);
    absl::StatusOr<ScenarioResult> parsed = ResultFromJson(json);
    result = parsed.ok() ? *std::move(parsed)
                         : Stopped(info.name, Outcome::kError,
                                   absl::StrCat("unreadable result: ", parsed.status().message()));
  }
  if (result.wire.trace_instance_left ||
      (child.ok() && (child->exit.timed_out || child->exit.signal != 0))) {
    // A child that dropped its privileges (permission) or was killed could not remove its trace
    // instance: do it now that it is gone.
    RunInChild({}, [] { return std::string(RemoveStaleTraceInstances().message()); }).IgnoreError();
  }
  AddKnobLines(info, result);
  return result;
}

int ExitCodeForResults(const std::vector<ScenarioResult>& results) {
  bool skipped = false;
  for (const ScenarioResult& r : results) {
    if (r.outcome == Outcome::kNotReproduced || r.outcome == Outcome::kError) {
      return 1;
    }
    skipped = skipped || r.outcome == Outcome::kSkipped;
  }
  return skipped ? 3 : 0;
}

}  // namespace socklab::repro

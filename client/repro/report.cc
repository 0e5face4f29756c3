#include "client/repro/report.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "client/repro/other_systems.h"
#include "core/base/errno_name.h"
#include "core/base/units.h"

namespace socklab::repro {
namespace {

absl::StatusOr<Outcome> OutcomeFromName(const std::string& name) {
  for (Outcome o :
       {Outcome::kReproduced, Outcome::kNotReproduced, Outcome::kSkipped, Outcome::kError}) {
    if (OutcomeName(o) == name) {
      return o;
    }
  }
  return absl::InvalidArgumentError(absl::StrCat("unknown outcome ", name));
}

absl::StatusOr<Phase> PhaseFromName(const std::string& name) {
  for (int p = 0; p < kPhaseCount; ++p) {
    if (PhaseName(static_cast<Phase>(p)) == name) {
      return static_cast<Phase>(p);
    }
  }
  return absl::InvalidArgumentError(absl::StrCat("unknown phase ", name));
}

// Wraps `text` at 96 columns with `indent` spaces on continuation lines.
std::string Wrap(absl::string_view text, size_t indent) {
  std::string out;
  size_t col = indent;
  for (absl::string_view word : absl::StrSplit(text, ' ', absl::SkipEmpty())) {
    if (col + word.size() + 1 > 96 && col > indent) {
      absl::StrAppend(&out, "\n", std::string(indent, ' '));
      col = indent;
    } else if (!out.empty()) {
      out += ' ';
      ++col;
    }
    absl::StrAppend(&out, word);
    col += word.size();
  }
  return out;
}

nlohmann::json WireToJson(const WireView& wire) {
  nlohmann::json segments = nlohmann::json::array();
  for (const WireSegmentLine& s : wire.segments) {
    segments.push_back({{"at_seconds", s.at_seconds},
                        {"connection", s.connection},
                        {"direction", s.from_client ? "client -> server" : "server -> client"},
                        {"flags", s.flags},
                        {"seq", s.seq},
                        {"ack", s.ack},
                        {"window", s.window},
                        {"length", s.length},
                        {"options", s.options},
                        {"retransmission", s.retransmission},
                        {"cause", s.cause},
                        {"ttl", s.ttl},
                        {"ip_id", s.ip_id},
                        {"explanation", s.explanation}});
  }
  nlohmann::json events = nlohmann::json::array();
  for (const KernelEventLine& e : wire.events) {
    events.push_back({{"at_seconds", e.at_seconds},
                      {"event", e.name},
                      {"src", e.src},
                      {"dst", e.dst},
                      {"text", e.text},
                      {"cause", e.cause}});
  }
  return {{"missing", wire.missing},
          {"expected", wire.expected},
          {"observed", wire.observed},
          {"ok", wire.ok},
          {"dropped", wire.dropped},
          {"pcap", wire.pcap_path},
          {"segments", std::move(segments)},
          {"events", std::move(events)},
          {"events_missing", wire.events_missing},
          {"events_expected", wire.events_expected},
          {"events_unmet", wire.events_unmet},
          {"trace_instance_left", wire.trace_instance_left}};
}

WireView WireFromJson(const nlohmann::json& j) {
  WireView wire;
  if (!j.is_object()) {
    return wire;
  }
  wire.missing = j.value("missing", "");
  wire.expected = j.value("expected", "");
  wire.observed = j.value("observed", "");
  wire.ok = j.value("ok", false);
  wire.dropped = j.value("dropped", uint64_t{0});
  wire.pcap_path = j.value("pcap", "");
  const nlohmann::json segments = j.value("segments", nlohmann::json::array());
  for (const nlohmann::json& s : segments) {
    WireSegmentLine line;
    line.at_seconds = s.value("at_seconds", 0.0);
    line.connection = s.value("connection", 1);
    line.from_client = s.value("direction", "") == "client -> server";
    line.flags = s.value("flags", "");
    line.seq = s.value("seq", uint32_t{0});
    line.ack = s.value("ack", uint32_t{0});
    line.window = s.value("window", uint32_t{0});
    line.length = s.value("length", uint32_t{0});
    line.options = s.value("options", "");
    line.retransmission = s.value("retransmission", false);
    line.cause = s.value("cause", "");
    line.ttl = s.value("ttl", uint8_t{0});
    line.ip_id = s.value("ip_id", int32_t{-1});
    line.explanation = s.value("explanation", "");
    wire.segments.push_back(std::move(line));
  }
  const nlohmann::json events = j.value("events", nlohmann::json::array());
  for (const nlohmann::json& e : events) {
    wire.events.push_back({e.value("at_seconds", 0.0), e.value("event", ""), e.value("src", ""),
                           e.value("dst", ""), e.value("text", ""), e.value("cause", "")});
  }
  wire.events_missing = j.value("events_missing", "");
  wire.trace_instance_left = j.value("trace_instance_left", false);
  wire.events_expected = j.value("events_expected", std::vector<std::string>{});
  wire.events_unmet = j.value("events_unmet", std::vector<std::string>{});
  return wire;
}

// The segments, one line each: time, connection (when there are several), direction, header,
// and the call that caused it.
std::string RenderWire(const WireView& wire) {
  if (!wire.missing.empty()) {
    return absl::StrCat("wire       not captured: ", Wrap(wire.missing, 11), "\n");
  }
  if (wire.expected.empty()) {
    return "";
  }
  std::string out = absl::StrCat("wire       expected ", wire.expected, "\n           observed ",
                                 wire.observed, wire.ok ? "" : "   (differs)", "\n");
  bool several = false;
  for (const WireSegmentLine& s : wire.segments) {
    several = several || s.connection != 1;
  }
  // Segments and kernel events on one timeline (a stable sort keeps each one's own order).
  std::vector<std::pair<double, std::string>> timeline;
  for (const KernelEventLine& e : wire.events) {
    std::string line = absl::StrFormat("  %+8.6fs  kernel %s: %s", e.at_seconds, e.src, e.text);
    if (!e.cause.empty()) {
      absl::StrAppend(&line, "  <- ", e.cause);
    }
    timeline.push_back({e.at_seconds, std::move(line)});
  }
  for (const WireSegmentLine& s : wire.segments) {
    std::string line =
        absl::StrFormat("  %+8.6fs  %s%s  %-7s seq %u ack %u win %u len %u", s.at_seconds,
                        several ? absl::StrCat("#", s.connection, " ") : "",
                        s.from_client ? "client -> server" : "server -> client", s.flags, s.seq,
                        s.ack, s.window, s.length);
    if (!s.options.empty()) {
      absl::StrAppend(&line, "  ", s.options);
    }
    if (s.flags.find("RST") != std::string::npos) {
      // Who built the reset shows in the IP header (a firewall's differs from a TCP stack's).
      absl::StrAppend(&line, "  ttl ", s.ttl, s.ip_id >= 0 ? absl::StrCat(" id ", s.ip_id) : "");
    }
    if (s.retransmission) {
      absl::StrAppend(&line, "  (retransmission)");
    }
    if (!s.cause.empty()) {
      absl::StrAppend(&line, "  <- ", s.cause);
    }
    if (!s.explanation.empty()) {
      absl::StrAppend(&line, "\n              ", Wrap(s.explanation, 14));
    }
    timeline.push_back({s.at_seconds, std::move(line)});
  }
  std::stable_sort(timeline.begin(), timeline.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  for (const auto& [at, line] : timeline) {
    absl::StrAppend(&out, line, "\n");
  }
  if (!wire.events_missing.empty()) {
    absl::StrAppend(&out, "           no kernel events: ", Wrap(wire.events_missing, 11), "\n");
  } else if (!wire.events_expected.empty()) {
    absl::StrAppend(
        &out,
        "           kernel events expected: ", Wrap(absl::StrJoin(wire.events_expected, "; "), 11),
        wire.events_unmet.empty()
            ? "  (all seen)"
            : absl::StrCat("\n           NOT MET: ", absl::StrJoin(wire.events_unmet, "; ")),
        "\n");
  }
  if (!wire.pcap_path.empty()) {
    absl::StrAppend(&out, "           written to ", wire.pcap_path, " (tshark -r ", wire.pcap_path,
                    ")\n");
  }
  return out;
}

}  // namespace

nlohmann::json ResultToJson(const ScenarioResult& r) {
  nlohmann::json j;
  j["name"] = r.name;
  j["outcome"] = std::string(OutcomeName(r.outcome));
  j["reason"] = r.reason;
  j["seconds"] = r.seconds;
  j["checks"] = nlohmann::json::array();
  for (const Check& c : r.checks) {
    j["checks"].push_back({{"call", c.call},
                           {"phase", std::string(PhaseName(c.phase))},
                           {"expected", c.expected},
                           {"observed", c.observed},
                           {"errno", c.observed_errno},
                           {"errno_name", c.observed_errno != 0 ? ErrnoName(c.observed_errno) : ""},
                           {"class", c.error_class},
                           {"seconds", c.seconds},
                           {"ok", c.ok}});
  }
  j["steps"] = nlohmann::json::array();
  for (const StepLine& s : r.steps) {
    j["steps"].push_back({{"at_seconds", s.at_seconds}, {"text", s.text}});
  }
  j["states"] = nlohmann::json::array();
  for (const StateSnapshot& snap : r.states) {
    nlohmann::json sockets = nlohmann::json::array();
    for (const SocketState& s : snap.sockets) {
      sockets.push_back({{"who", s.who},
                         {"local", s.local},
                         {"remote", s.remote},
                         {"state", s.state},
                         {"timer", s.timer},
                         {"detail", s.detail}});
    }
    j["states"].push_back(
        {{"label", snap.label}, {"at_seconds", snap.at_seconds}, {"sockets", sockets}});
  }
  j["counters"] = CounterDeltasToJson(r.counters);
  j["counters_scope"] = r.counters_scope;
  j["notes"] = r.notes;
  j["kernel"] = r.kernel_lines;
  j["wire"] = WireToJson(r.wire);
  return j;
}

absl::StatusOr<ScenarioResult> ResultFromJson(const nlohmann::json& j) {
  if (!j.is_object()) {
    return absl::InvalidArgumentError("scenario result is not a JSON object");
  }
  ScenarioResult r;
  r.name = j.value("name", "");
  absl::StatusOr<Outcome> outcome = OutcomeFromName(j.value("outcome", ""));
  if (!outcome.ok()) {
    return outcome.status();
  }
  r.outcome = *outcome;
  r.reason = j.value("reason", "");
  r.seconds = j.value("seconds", 0.0);
  const nlohmann::json checks = j.value("checks", nlohmann::json::array());
  for (const nlohmann::json& c : checks) {
    Check check;
    check.call = c.value("call", "");
    absl::StatusOr<Phase> phase = PhaseFromName(c.value("phase", ""));
    if (!phase.ok()) {
      return phase.status();
    }
    check.phase = *phase;
    check.expected = c.value("expected", "");
    check.observed = c.value("observed", "");
    check.observed_errno = c.value("errno", 0);
    check.error_class = c.value("class", "");
    check.seconds = c.value("seconds", 0.0);
    check.ok = c.value("ok", false);
    r.checks.push_back(std::move(check));
  }
  const nlohmann::json steps = j.value("steps", nlohmann::json::array());
  for (const nlohmann::json& s : steps) {
    r.steps.push_back({s.value("at_seconds", 0.0), s.value("text", "")});
  }
  const nlohmann::json states = j.value("states", nlohmann::json::array());
  for (const nlohmann::json& snap : states) {
    StateSnapshot out;
    out.label = snap.value("label", "");
    out.at_seconds = snap.value("at_seconds", 0.0);
    const nlohmann::json sockets = snap.value("sockets", nlohmann::json::array());
    for (const nlohmann::json& s : sockets) {
      out.sockets.push_back({s.value("who", ""), s.value("local", ""), s.value("remote", ""),
                             s.value("state", ""), s.value("timer", ""), s.value("detail", "")});
    }
    r.states.push_back(std::move(out));
  }
  // value() returns a copy: keep it alive while iterating.
  const nlohmann::json counters = j.value("counters", nlohmann::json::object());
  for (const auto& [name, delta] : counters.items()) {
    r.counters.push_back({name, delta.is_number() ? delta.get<int64_t>() : 0});
  }
  r.counters_scope = j.value("counters_scope", "");
  r.notes = j.value("notes", std::vector<std::string>{});
  r.kernel_lines = j.value("kernel", std::vector<std::string>{});
  r.wire = WireFromJson(j.value("wire", nlohmann::json::object()));
  return r;
}

std::string ObservedSummary(const ScenarioResult& r) {
  if (r.outcome == Outcome::kSkipped || (r.outcome == Outcome::kError && r.checks.empty())) {
    return "-";
  }
  std::vector<std::string> parts;
  for (const Check& c : r.checks) {
    if (std::find(parts.begin(), parts.end(), c.observed) == parts.end()) {
      parts.push_back(c.observed);
    }
  }
  return absl::StrJoin(parts, ", ");
}

std::string RenderScenarioText(const ScenarioInfo& info, const ScenarioResult& r) {
  std::string out = absl::StrCat("== ", info.name, ": ", info.title, "\n");
  absl::StrAppend(&out, "expected   ", info.expected, "\n");
  for (const Check& c : r.checks) {
    std::string observed = c.observed_errno != 0 ? DescribeErrno(c.observed_errno) : c.observed;
    absl::StrAppend(&out, "observed   ", c.call, ": ", observed, " after ",
                    FormatElapsed(c.seconds),
                    c.ok ? "" : absl::StrCat("   (expected ", c.expected, ")"), "\n");
  }
  if (!r.steps.empty()) {
    absl::StrAppend(&out, "steps\n");
    for (const StepLine& s : r.steps) {
      absl::StrAppend(&out, absl::StrFormat("  %+8.3fs  ", s.at_seconds), s.text, "\n");
    }
  }
  if (!r.states.empty()) {
    absl::StrAppend(&out, "tcp states\n");
    for (const StateSnapshot& snap : r.states) {
      absl::StrAppend(&out, absl::StrFormat("  %+8.3fs  ", snap.at_seconds), snap.label, "\n");
      if (snap.sockets.empty()) {
        absl::StrAppend(&out, "             (no socket of this scenario is left)\n");
      }
      // Columns as wide as this snapshot needs ("(not accepted)" is wider than "client").
      size_t w_who = 12, w_local = 21, w_remote = 21, w_state = 0;
      for (const SocketState& s : snap.sockets) {
        w_who = std::max(w_who, s.who.size());
        w_local = std::max(w_local, s.local.size());
        w_remote = std::max(w_remote, s.remote.size());
        w_state = std::max(w_state, s.state.size());
      }
      for (const SocketState& s : snap.sockets) {
        std::string extra;
        for (const std::string* part : {&s.timer, &s.detail}) {
          if (!part->empty()) {
            absl::StrAppend(&extra, extra.empty() ? "" : ", ", *part);
          }
        }
        std::string line =
            absl::StrFormat("             %-*s %-*s -> %-*s %-*s  %s", w_who, s.who, w_local,
                            s.local, w_remote, s.remote, w_state, s.state, extra);
        // No trailing blanks when there is nothing after the state.
        line.erase(line.find_last_not_of(' ') + 1);
        absl::StrAppend(&out, line, "\n");
      }
    }
  }
  absl::StrAppend(&out, RenderWire(r.wire));
  absl::StrAppend(&out, "counters   (", r.counters_scope.empty() ? "-" : r.counters_scope, ") ",
                  r.counters.empty() ? "none of the explanatory counters moved"
                                     : CounterDeltasToText(r.counters),
                  "\n");
  absl::StrAppend(&out, "java       ", Wrap(info.java, 11), "\n");
  absl::StrAppend(&out, "cause      ", Wrap(info.cause, 11), "\n");
  absl::StrAppend(&out, "fix/code   ", Wrap(info.fix_code, 11), "\n");
  for (const std::string& k : r.kernel_lines) {
    absl::StrAppend(&out, "fix/kernel ", Wrap(k, 11), "\n");
  }
  for (const std::string& n : r.notes) {
    absl::StrAppend(&out, "note       ", Wrap(n, 11), "\n");
  }
  if (!info.see_also.empty()) {
    absl::StrAppend(&out, "see also   ", Wrap(SeeAlsoText(info), 11), "\n");
  }
  absl::StrAppend(&out, "verdict    ", OutcomeName(r.outcome));
  if (r.outcome == Outcome::kReproduced) {
    absl::StrAppend(&out, " (reproduced in ", FormatElapsed(r.seconds), ")");
  } else if (!r.reason.empty()) {
    absl::StrAppend(&out, ": ", r.reason);
  }
  absl::StrAppend(&out, "\n");
  return out;
}

std::string RenderTable(const std::vector<ScenarioResult>& results) {
  struct Row {
    std::string name, expected, observed, time, verdict;
  };
  std::vector<Row> rows = {{"scenario", "expected", "observed", "time", "ok"}};
  for (const ScenarioResult& r : results) {
    const Scenario* s = FindScenario(r.name);
    Row row{r.name, s != nullptr ? s->info.expected : "?", ObservedSummary(r),
            r.outcome == Outcome::kSkipped ? "-" : FormatElapsed(r.seconds),
            std::string(OutcomeName(r.outcome))};
    if (r.outcome != Outcome::kReproduced && !r.reason.empty()) {
      absl::StrAppend(&row.verdict, ": ", r.reason);
    }
    rows.push_back(std::move(row));
  }
  size_t w[4] = {0, 0, 0, 0};
  for (const Row& row : rows) {
    w[0] = std::max(w[0], row.name.size());
    w[1] = std::max(w[1], row.expected.size());
    w[2] = std::max(w[2], row.observed.size());
    w[3] = std::max(w[3], row.time.size());
  }
  std::string out;
  for (const Row& row : rows) {
    absl::StrAppend(
        &out, absl::StrFormat("%-*s  %-*s  %-*s  %*s  %s\n", w[0], row.name, w[1], row.expected,
                              w[2], row.observed, w[3], row.time, row.verdict));
  }
  // What each scenario put on the wire, checked with the rest; why there is no capture, once.
  std::string missing;
  std::string wire;
  for (const ScenarioResult& r : results) {
    if (!r.wire.missing.empty()) {
      missing = r.wire.missing;
    } else if (!r.wire.expected.empty()) {
      absl::StrAppend(
          &wire,
          absl::StrFormat("  %-*s  %s%s\n", w[0], r.name, r.wire.observed,
                          r.wire.ok ? "" : absl::StrCat("   (expected ", r.wire.expected, ")")));
    }
  }
  if (!wire.empty()) {
    absl::StrAppend(&out, "\non the wire ('>' client to server, '<' back)\n", wire);
  }
  if (!missing.empty()) {
    absl::StrAppend(&out, "\nno packet capture: ", missing, "\n");
  }
  return out;
}

nlohmann::json RenderRunJson(const MachineInfo& machine,
                             const std::vector<ScenarioResult>& results) {
  nlohmann::json j;
  j["machine"] = MachineInfoToJson(machine);
  j["scenarios"] = nlohmann::json::array();
  int counts[4] = {0, 0, 0, 0};
  for (const ScenarioResult& r : results) {
    nlohmann::json one = ResultToJson(r);
    if (const Scenario* s = FindScenario(r.name); s != nullptr) {
      one.update(ScenarioInfoJson(s->info));
    }
    j["scenarios"].push_back(std::move(one));
    ++counts[static_cast<int>(r.outcome)];
  }
  j["summary"] = {{"reproduced", counts[0]},
                  {"not_reproduced", counts[1]},
                  {"skipped", counts[2]},
                  {"error", counts[3]}};
  return j;
}

namespace {

// The strerror texts of a scenario's errnos, quoted: what a log shows.
std::string ErrorTexts(const ScenarioInfo& info) {
  std::vector<std::string> texts;
  for (int err : ExpectedErrnos(info)) {
    texts.push_back(absl::StrCat("\"", ErrnoMessage(err), "\""));
  }
  return absl::StrJoin(texts, ", ");
}

}  // namespace

std::string RenderList() {
  // Columns as wide as their longest entry, so a long "expected" cannot shift the titles.
  size_t w_name = 0;
  size_t w_expected = 0;
  size_t w_texts = 0;
  for (const Scenario& s : AllScenarios()) {
    w_name = std::max(w_name, s.info.name.size());
    w_expected = std::max(w_expected, s.info.expected.size());
    w_texts = std::max(w_texts, ErrorTexts(s.info).size());
  }
  std::string out;
  for (const Scenario& s : AllScenarios()) {
    absl::StrAppend(&out, absl::StrFormat("%-*s  %-*s  %-*s  %s%s\n", w_name, s.info.name,
                                          w_expected, s.info.expected, w_texts, ErrorTexts(s.info),
                                          s.info.title, s.info.needs_netns ? " [netns]" : ""));
  }
  absl::StrAppend(&out, "\nnot from Linux (the same failure on Linux in brackets):\n");
  for (const OtherSystemText& t : OtherSystemTexts()) {
    absl::StrAppend(&out, "  \"", t.text, "\"\n    ", Wrap(t.origin, 4), "\n    ",
                    Wrap(absl::StrCat("[scenario ", t.scenario, ": ", t.linux_text, "]"), 4), "\n");
  }
  return out;
}

nlohmann::json ScenarioInfoJson(const ScenarioInfo& info) {
  nlohmann::json errors = nlohmann::json::array();
  for (int err : ExpectedErrnos(info)) {
    errors.push_back({{"errno", ErrnoName(err)}, {"text", ErrnoMessage(err)}});
  }
  return {{"name", info.name},
          {"title", info.title},
          {"expected_text", info.expected},
          {"errors", std::move(errors)},
          {"java", info.java},
          {"cause", info.cause},
          {"fix_code", info.fix_code},
          {"see_also", info.see_also},
          {"needs_netns", info.needs_netns},
          {"needs_root", info.needs_root || info.needs_netns}};
}

nlohmann::json RenderListJson() {
  nlohmann::json list = nlohmann::json::array();
  for (const Scenario& s : AllScenarios()) {
    list.push_back(ScenarioInfoJson(s.info));
  }
  nlohmann::json other = nlohmann::json::array();
  for (const OtherSystemText& t : OtherSystemTexts()) {
    other.push_back({{"text", t.text},
                     {"origin", t.origin},
                     {"linux_scenario", t.scenario},
                     {"linux_text", t.linux_text}});
  }
  return {{"scenarios", std::move(list)}, {"not_from_linux", std::move(other)}};
}

std::string SeeAlsoText(const ScenarioInfo& info) {
  std::vector<std::string> parts;
  for (const std::string& name : info.see_also) {
    const Scenario* other = FindScenario(name);
    parts.push_back(other != nullptr ? absl::StrCat(name, " (", other->info.title, ")") : name);
  }
  return absl::StrJoin(parts, "; ");
}

}  // namespace socklab::repro

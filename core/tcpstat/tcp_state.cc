#include "core/tcpstat/tcp_state.h"

#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "core/base/status.h"

namespace socklab::tcpstat {
namespace {

struct StateNames {
  TcpState state;
  absl::string_view name;     // the kernel's
  absl::string_view ss_name;  // what `ss` prints
};

constexpr StateNames kNames[] = {
    {TcpState::kEstablished, "ESTABLISHED", "estab"},
    {TcpState::kSynSent, "SYN_SENT", "syn-sent"},
    {TcpState::kSynRecv, "SYN_RECV", "syn-recv"},
    {TcpState::kFinWait1, "FIN_WAIT1", "fin-wait-1"},
    {TcpState::kFinWait2, "FIN_WAIT2", "fin-wait-2"},
    {TcpState::kTimeWait, "TIME_WAIT", "time-wait"},
    {TcpState::kClose, "CLOSE", "unconn"},
    {TcpState::kCloseWait, "CLOSE_WAIT", "close-wait"},
    {TcpState::kLastAck, "LAST_ACK", "last-ack"},
    {TcpState::kListen, "LISTEN", "listen"},
    {TcpState::kClosing, "CLOSING", "closing"},
    {TcpState::kNewSynRecv, "NEW_SYN_RECV", "new-syn-recv"},
};

// Lower case without '_' and '-': "TIME_WAIT", "time-wait" and "timewait" compare equal.
std::string Squash(absl::string_view text) {
  std::string out;
  for (char c : text) {
    if (c != '_' && c != '-') {
      out.push_back(absl::ascii_tolower(static_cast<unsigned char>(c)));
    }
  }
  return out;
}

}  // namespace

absl::string_view TcpStateName(TcpState state) {
  int code = static_cast<int>(state);
  if (code < kMinTcpState || code > kMaxTcpState) {
    return "UNKNOWN";
  }
  return kNames[code - 1].name;
}

std::optional<TcpState> TcpStateFromCode(int code) {
  if (code < kMinTcpState || code > kMaxTcpState) {
    return std::nullopt;
  }
  return static_cast<TcpState>(code);
}

std::optional<TcpState> ParseTcpStateName(absl::string_view text) {
  std::string want = Squash(text);
  if (want.empty()) {
    return std::nullopt;
  }
  for (const StateNames& names : kNames) {
    if (want == Squash(names.name) || want == Squash(names.ss_name)) {
      return names.state;
    }
  }
  return std::nullopt;
}

absl::StatusOr<TcpStateSet> ParseTcpStateSet(absl::string_view text) {
  TcpStateSet set = TcpStateSet::None();
  for (absl::string_view part : absl::StrSplit(text, ',', absl::SkipWhitespace())) {
    part = absl::StripAsciiWhitespace(part);
    if (Squash(part) == "all") {
      return TcpStateSet::All();
    }
    std::optional<TcpState> state = ParseTcpStateName(part);
    if (!state.has_value()) {
      std::vector<absl::string_view> names;
      for (TcpState s : kReportedTcpStates) {
        names.push_back(TcpStateName(s));
      }
      return UsageError(absl::StrCat("unknown TCP state '", part, "'"),
                        absl::StrCat("use one or more of ", absl::StrJoin(names, ","),
                                     " (any case, - or _) or all"));
    }
    set.Add(*state);
    // Request sockets are SYN_RECV to both sources; a filter naming either means both.
    if (*state == TcpState::kSynRecv || *state == TcpState::kNewSynRecv) {
      set.Add(TcpState::kSynRecv);
      set.Add(TcpState::kNewSynRecv);
    }
  }
  if (set.empty()) {
    return UsageError("--state names no state", "give e.g. --state established,time_wait");
  }
  return set;
}

std::string TcpStateSetToString(TcpStateSet set) {
  if (set.IsAll()) {
    return "all";
  }
  std::vector<absl::string_view> names;
  for (TcpState state : kReportedTcpStates) {
    if (set.Contains(state)) {
      names.push_back(TcpStateName(state));
    }
  }
  return absl::StrJoin(names, ",");
}

}  // namespace socklab::tcpstat

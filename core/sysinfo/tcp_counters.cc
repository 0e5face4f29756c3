#include "core/sysinfo/tcp_counters.h"

#include <algorithm>
#include <charconv>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "core/base/status_macros.h"
#include "nlohmann/json.hpp"

namespace socklab {

TcpCounters ParseSnmpText(absl::string_view text) {
  TcpCounters counters;
  std::vector<absl::string_view> lines = absl::StrSplit(text, '\n', absl::SkipEmpty());
  // Lines come in pairs with the same "Prefix:": names first, then values. A line without its
  // partner is skipped, so one odd line cannot shift every later pair.
  size_t i = 0;
  while (i + 1 < lines.size()) {
    std::vector<absl::string_view> names = absl::StrSplit(lines[i], ' ', absl::SkipEmpty());
    std::vector<absl::string_view> values = absl::StrSplit(lines[i + 1], ' ', absl::SkipEmpty());
    if (names.empty() || values.empty() || names[0] != values[0] ||
        !absl::EndsWith(names[0], ":")) {
      ++i;
      continue;
    }
    absl::string_view prefix = names[0].substr(0, names[0].size() - 1);
    for (size_t k = 1; k < names.size() && k < values.size(); ++k) {
      int64_t value = 0;
      auto [end, ec] =
          std::from_chars(values[k].data(), values[k].data() + values[k].size(), value);
      if (ec == std::errc() && end == values[k].data() + values[k].size()) {
        counters[absl::StrCat(prefix, ".", names[k])] = value;
      }
    }
    i += 2;
  }
  return counters;
}

absl::StatusOr<TcpCounters> ReadTcpCounters(const ProcFs& proc) {
  SOCKLAB_ASSIGN_OR_RETURN(std::string snmp, proc.ReadFile("proc/net/snmp"));
  SOCKLAB_ASSIGN_OR_RETURN(std::string netstat, proc.ReadFile("proc/net/netstat"));
  TcpCounters counters = ParseSnmpText(snmp);
  counters.merge(ParseSnmpText(netstat));
  return counters;
}

const std::vector<absl::string_view>& ExplanatoryCounterNames() {
  static const auto* names = new std::vector<absl::string_view>{
      "Tcp.ActiveOpens",
      "Tcp.PassiveOpens",
      "Tcp.AttemptFails",
      "Tcp.EstabResets",
      "Tcp.OutRsts",
      "Tcp.RetransSegs",
      "TcpExt.ListenOverflows",
      "TcpExt.ListenDrops",
      "TcpExt.TCPTimeouts",
      "TcpExt.TCPSynRetrans",
      "TcpExt.TCPAbortOnData",
      "TcpExt.TCPAbortOnClose",
      "TcpExt.TCPAbortOnTimeout",
      "TcpExt.TCPAbortOnLinger",
      "TcpExt.TCPAbortOnMemory",
      "TcpExt.TCPAbortFailed",
      "TcpExt.TW",
      "TcpExt.TWRecycled",
      "TcpExt.TCPTimeWaitOverflow",
      "TcpExt.SyncookiesSent",
      "TcpExt.TCPReqQFullDrop",
      "TcpExt.TCPBacklogDrop",
      "TcpExt.PAWSEstab",
      "TcpExt.TCPRcvQDrop",
      // Errors that fail before TCP sees the packet. A connect() with no route (ENETUNREACH)
      // counts only Ip.OutNoRoutes; a route of type unreachable (EHOSTUNREACH) counts nothing
      // (checked on 6.18). A datagram that does not fit the send buffer (ENOBUFS) counts
      // Udp.SndbufErrors and Ip.OutDiscards.
      "Ip.OutNoRoutes",
      "Ip.OutDiscards",
      "Udp.SndbufErrors",
      "Udp.RcvbufErrors",
  };
  return *names;
}

std::vector<CounterDelta> DiffCounters(const TcpCounters& before, const TcpCounters& after,
                                       bool all) {
  std::vector<CounterDelta> deltas;
  auto delta_of = [&](absl::string_view name) -> int64_t {
    auto a = after.find(name);
    if (a == after.end()) {
      return 0;
    }
    auto b = before.find(name);
    return a->second - (b == before.end() ? 0 : b->second);
  };
  const std::vector<absl::string_view>& explanatory = ExplanatoryCounterNames();
  for (absl::string_view name : explanatory) {
    if (int64_t d = delta_of(name); d != 0) {
      deltas.push_back({std::string(name), d});
    }
  }
  if (all) {
    for (const auto& [name, value] : after) {
      if (std::find(explanatory.begin(), explanatory.end(), name) != explanatory.end()) {
        continue;
      }
      if (int64_t d = delta_of(name); d != 0) {
        deltas.push_back({name, d});
      }
    }
  }
  return deltas;
}

std::string CounterDeltasToText(const std::vector<CounterDelta>& deltas) {
  std::string text;
  for (const CounterDelta& d : deltas) {
    absl::StrAppend(&text, text.empty() ? "" : ", ", d.name, d.delta > 0 ? " +" : " ", d.delta);
  }
  return text;
}

nlohmann::json CounterDeltasToJson(const std::vector<CounterDelta>& deltas) {
  nlohmann::json object = nlohmann::json::object();
  for (const CounterDelta& d : deltas) {
    object[d.name] = d.delta;
  }
  return object;
}

}  // namespace socklab

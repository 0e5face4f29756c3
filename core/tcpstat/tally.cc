#include "core/tcpstat/tally.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace socklab::tcpstat {

void StateTally::Add(const TcpSocket& socket) {
  ++counts[static_cast<int>(socket.state)];
  ++total;
  if (socket.is_listen()) {
    listen_queue += socket.rx_queue;
    listen_backlog += socket.accept_backlog.value_or(0);
  }
}

StateTally TallyStates(absl::Span<const TcpSocket> sockets) {
  StateTally tally;
  for (const TcpSocket& socket : sockets) {
    tally.Add(socket);
  }
  return tally;
}

nlohmann::json TallyToJson(const StateTally& tally) {
  nlohmann::json out = nlohmann::json::object();
  for (TcpState state : kReportedTcpStates) {
    out[std::string(TcpStateName(state))] = tally.Count(state);
  }
  out["total"] = tally.total;
  return out;
}

std::string TallyToString(const StateTally& tally) {
  std::vector<std::string> parts;
  for (TcpState state : kReportedTcpStates) {
    if (tally.Count(state) != 0) {
      parts.push_back(absl::StrCat(TcpStateName(state), " ", tally.Count(state)));
    }
  }
  if (parts.empty()) {
    return "no sockets";
  }
  return absl::StrJoin(parts, ", ");
}

}  // namespace socklab::tcpstat

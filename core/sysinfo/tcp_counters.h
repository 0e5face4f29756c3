#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "core/sysinfo/proc_fs.h"
#include "nlohmann/json_fwd.hpp"

namespace socklab {

// The kernel's protocol counters from /proc/net/snmp and /proc/net/netstat (every section: Ip,
// Icmp, Tcp, Udp, TcpExt, IpExt...), keyed "Tcp.ActiveOpens", "TcpExt.ListenOverflows",
// "Ip.OutNoRoutes". They are per network namespace.
using TcpCounters = std::map<std::string, int64_t, std::less<>>;

// Parses the "Name: key key ...\nName: value value ..." pairs of either file (pure).
TcpCounters ParseSnmpText(absl::string_view text);

// Reads both files below `proc` and merges them.
absl::StatusOr<TcpCounters> ReadTcpCounters(const ProcFs& proc = ProcFs());

// The counters that explain socket errors, in report order: TCP's, then the IP and UDP ones that
// move when a call fails before TCP is involved (no route, a full datagram send buffer).
const std::vector<absl::string_view>& ExplanatoryCounterNames();

struct CounterDelta {
  std::string name;
  int64_t delta;
};

// after - before for the explanatory counters that moved (non-zero), in report order. With
// `all`, every counter that moved, explanatory ones first.
std::vector<CounterDelta> DiffCounters(const TcpCounters& before, const TcpCounters& after,
                                       bool all = false);

// "Tcp.OutRsts +3, TcpExt.ListenOverflows +12" / {"Tcp.OutRsts": 3, ...}.
std::string CounterDeltasToText(const std::vector<CounterDelta>& deltas);
nlohmann::json CounterDeltasToJson(const std::vector<CounterDelta>& deltas);

}  // namespace socklab

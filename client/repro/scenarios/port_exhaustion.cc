#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <vector>

#include "absl/strings/str_cat.h"
#include "client/repro/scenarios/scenarios.h"
#include "client/repro/sock_util.h"
#include "core/base/errno_name.h"
#include "core/limits/derivations.h"
#include "core/sysinfo/proc_fs.h"

namespace socklab::repro {
namespace {

constexpr uint16_t kServerPort = 5000;  // a fixed port is safe in a private namespace

CallResult ConnectNew(Recorder& rec, std::vector<UniqueFd>& clients) {
  CallResult s = NewTcpSocket(rec, "client");
  if (s.failed()) {
    // Not the error this scenario is about: its setup broke.
    rec.Fail(absl::StrCat("socket() for a client failed: ", ErrnoName(s.err)));
    return s;
  }
  UniqueFd fd(static_cast<int>(s.ret));
  CallResult c = ConnectTo(rec, fd.get(), INADDR_LOOPBACK, kServerPort, "client");
  if (!c.failed()) {
    clients.push_back(std::move(fd));
  }
  return c;
}

void Run(Recorder& rec) {
  if (!SetNamespaceSysctl(rec, "net.ipv4.ip_local_port_range", "40000 40007") ||
      !SetNamespaceSysctl(rec, "net.ipv4.tcp_tw_reuse", "0")) {
    return;
  }
  UniqueFd listener = OpenListener(rec, "server", 64, kServerPort);
  if (rec.stopped()) {
    return;
  }
  rec.SetDestinationPort(kServerPort);
  rec.Step("connect to 127.0.0.1:5000 until the 8 ephemeral ports run out");
  std::vector<UniqueFd> clients;
  CallResult last;
  for (int i = 0; i < 32; ++i) {
    last = ConnectNew(rec, clients);
    if (last.failed()) {
      break;
    }
  }
  if (rec.stopped()) {
    return;
  }
  rec.CheckErrno("connect with every ephemeral port in use", Phase::kConnect, EADDRNOTAVAIL, last);
  rec.Step(absl::StrCat(clients.size(), " connections hold all the ports"));

  std::vector<UniqueFd> accepted;
  std::vector<uint16_t> ports = {kServerPort};
  for (size_t i = 0; i < clients.size(); ++i) {
    accepted.push_back(AcceptOne(rec, listener.get()));
  }
  rec.Step(
      "the clients close first (active close: their ports go to TIME_WAIT for 60 s); the "
      "server reads EOF and closes");
  for (UniqueFd& c : clients) {
    CloseFd(rec, "client", c);
  }
  for (UniqueFd& a : accepted) {
    if (a.valid()) {
      RecvSome(rec, "server", a.get());
      CloseFd(rec, "server", a);
    }
  }
  clients.clear();
  const StateSnapshot& snap =
      rec.States("after every connection closed", {{"server", listener.get()}}, ports);
  int time_wait = 0;
  for (const SocketState& s : snap.sockets) {
    time_wait += StateOfRow(s) == tcpstat::TcpState::kTimeWait ? 1 : 0;
  }
  rec.Step(absl::StrCat("TIME_WAIT tally: ", time_wait, " sockets"));
  CallResult again = ConnectNew(rec, clients);
  if (rec.stopped()) {
    return;
  }
  rec.CheckErrno("connect while every port sits in TIME_WAIT (tcp_tw_reuse=0)", Phase::kConnect,
                 EADDRNOTAVAIL, again);

  if (!SetNamespaceSysctl(rec, "net.ipv4.tcp_tw_reuse", "1")) {
    return;
  }
  // Linux 6.13 added tcp_tw_reuse_delay (ms); before it the TIME_WAIT socket had to be at least
  // one second old (by its timestamp) to be reused.
  if (ProcFs().ReadSysctl("net.ipv4.tcp_tw_reuse_delay").ok()) {
    if (!SetNamespaceSysctl(rec, "net.ipv4.tcp_tw_reuse_delay", "1")) {
      return;
    }
    usleep(20'000);
  } else {
    rec.Step(
        "this kernel has no tcp_tw_reuse_delay: wait 1.1 s (a TIME_WAIT socket must be "
        "at least 1 s old to be reused)");
    usleep(1'100'000);
  }
  CallResult reused = ConnectNew(rec, clients);
  rec.CheckOk("connect with tcp_tw_reuse=1 (reuses a TIME_WAIT port)", Phase::kConnect, reused);
  if (!clients.empty()) {
    rec.States("the new connection", {{"client", clients.back().get()}});
  }
}

}  // namespace

Scenario PortExhaustionScenario() {
  return {{.name = "port-exhaustion",
           .title = "no ephemeral port left for connect()",
           .expected = "EADDRNOTAVAIL on connect",
           .wire = "> SYN, < SYN/ACK, > ACK, > FIN/ACK, < FIN/ACK, > ACK",
           .java = "JDK 13+ (NioSocketImpl): java.net.BindException: Cannot assign requested "
                   "address; JDK 12 and older: java.net.NoRouteToHostException: Cannot assign "
                   "requested address (Address not available); on Windows: "
                   "java.net.BindException: Address already in use: connect; on Windows: "
                   "java.net.SocketException: No buffer space available (maximum connections "
                   "reached?)",
           .cause = "Each connection to one destination (IP, port) needs its own local port from "
                    "net.ipv4.ip_local_port_range. Open connections and the TIME_WAIT leftovers "
                    "of connections this side closed first hold them all (60 s each), so connect "
                    "has none left. Here the range is narrowed to 8 ports inside a private "
                    "namespace to get there quickly.",
           .fix_code = "Reuse connections (keep-alive, pools) instead of one per request; let the "
                       "server close first so TIME_WAIT lands there; spread over more destination "
                       "IPs/ports or source IPs (IP_BIND_ADDRESS_NO_PORT before bind).",
           .kernel = {{"net.ipv4.ip_local_port_range",
                       absl::StrCat("widen, keeping the server's port ", kServerPort,
                                    " out of it: ", RecommendedPortRange(kServerPort).Command())},
                      {"net.ipv4.tcp_tw_reuse",
                       "1 lets connect() reuse TIME_WAIT ports (2 = loopback only): "
                       "sysctl -w net.ipv4.tcp_tw_reuse=1"}},
           .see_also = {"time-wait", "client-port-in-use"},
           .needs_netns = true},
          &Run};
}

}  // namespace socklab::repro

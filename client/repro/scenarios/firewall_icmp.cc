#include <netinet/in.h>

#include "absl/strings/str_cat.h"
#include "client/repro/scenarios/scenarios.h"
#include "client/repro/sock_util.h"

namespace socklab::repro {
namespace {

// A connect that lasted this long waited for its SYN's retransmission (the first ICMP only set
// a soft error).
constexpr int64_t kSoftErrorNs = 500'000'000;

// One rule per port: the ICMP type the firewall answers that port's SYNs with.
bool Reject(Recorder& rec, uint16_t port, const std::string& icmp_type) {
  return RunNamespaceTool(rec, {"nft", "add", "rule", "ip", "socklab", "input", "tcp", "dport",
                                absl::StrCat(port), "reject", "with", "icmp", "type", icmp_type});
}

void Run(Recorder& rec) {
  rec.Step("two servers listen; the firewall rejects each port with another ICMP error");
  UniqueFd host_listener = OpenListener(rec, "server 1", 16);
  UniqueFd net_listener = OpenListener(rec, "server 2", 16);
  if (rec.stopped()) {
    return;
  }
  const uint16_t host_port = LocalPort(host_listener.get());
  const uint16_t net_port = LocalPort(net_listener.get());
  if (!RunNamespaceTool(rec, {"nft", "add", "table", "ip", "socklab"}) ||
      !RunNamespaceTool(rec, {"nft", "add", "chain", "ip", "socklab", "input",
                              "{ type filter hook input priority 0; policy accept; }"}) ||
      !Reject(rec, host_port, "host-unreachable") || !Reject(rec, net_port, "net-unreachable")) {
    return;
  }
  UniqueFd a = OpenTcpSocket(rec, "client");
  if (rec.stopped()) {
    return;
  }
  CallResult c1 = ConnectTo(rec, a.get(), INADDR_LOOPBACK, host_port, "client");
  rec.CheckErrno("connect behind 'reject with icmp type host-unreachable'", Phase::kConnect,
                 EHOSTUNREACH, c1);
  UniqueFd b = OpenTcpSocket(rec, "client");
  if (rec.stopped()) {
    return;
  }
  CallResult c2 = ConnectTo(rec, b.get(), INADDR_LOOPBACK, net_port, "client");
  rec.CheckErrno("connect behind 'reject with icmp type net-unreachable'", Phase::kConnect,
                 ENETUNREACH, c2);
  rec.States("after both rejected connects", {{"client 1", a.get()}, {"client 2", b.get()}});
  rec.Step(
      "each SYN left and was answered by an ICMP destination-unreachable, not by TCP: the "
      "capture (TCP only) shows the SYNs and nothing back, and the kernel turns the ICMP code "
      "into the errno (host unreachable: EHOSTUNREACH, network unreachable: ENETUNREACH)");
  if (c1.end_ns - c1.start_ns > kSoftErrorNs) {
    rec.Step(
        "why the connect took 1 s: on loopback the ICMP comes back while connect() is still "
        "sending the SYN and holds the socket, so the kernel only notes the error "
        "(sk_err_soft); the SYN's retransmission 1 s later meets the next ICMP with the socket "
        "free, which ends the connect. Across a network the first ICMP arrives later and ends "
        "it at once");
  }
  rec.Note(
      "unlike a route that says unreachable (scenario unreachable: no packet at all), here the "
      "SYN went out: a firewall or a router on the way answered. `tcpdump -n icmp` shows the "
      "ICMP; nft's plain 'reject' sends port-unreachable, which connect() reports as "
      "ECONNREFUSED, and 'reject with icmp type admin-prohibited' gives EHOSTUNREACH too");
}

}  // namespace

Scenario FirewallIcmpScenario() {
  return {{.name = "firewall-icmp",
           .title = "a firewall rejects with ICMP host- or network-unreachable",
           .expected = "EHOSTUNREACH and ENETUNREACH on connect",
           .wire = "> SYN, nothing back",
           .java = "JDK 13+ (NioSocketImpl): java.net.NoRouteToHostException: No route to host; "
                   "java.net.SocketException: Network is unreachable",
           .cause = "A firewall rule 'reject with icmp type host-unreachable' (or "
                    "net-unreachable) answers the SYN with an ICMP error instead of dropping it, "
                    "so connect() fails at once with the matching errno while the server "
                    "listens behind it.",
           .fix_code = "Check the firewall on the way (`nft list ruleset`, `iptables -S`) and "
                       "`tcpdump -n icmp` on the client for the router or host that answers.",
           .kernel = {},
           .see_also = {"unreachable", "firewall-reset", "prohibit-route"},
           .needs_netns = true,
           .events = {"SYN_SENT -> CLOSE", "!RST"}},
          &Run};
}

}  // namespace socklab::repro

#include <netinet/in.h>

#include "client/repro/scenarios/scenarios.h"
#include "client/repro/sock_util.h"

namespace socklab::repro {
namespace {

// 192.0.2.1 is TEST-NET-1 (RFC 5737), and the namespace has nothing but lo: no packet can leave.
constexpr uint32_t kTestNet1 = 0xC0000201;

void Run(Recorder& rec) {
  rec.Step("the private namespace has only lo: no default route");
  RunNamespaceTool(rec, {"ip", "-4", "route", "show"});
  if (rec.stopped()) {
    return;
  }
  UniqueFd a = OpenTcpSocket(rec, "client");
  if (rec.stopped()) {
    return;
  }
  CallResult c1 = ConnectTo(rec, a.get(), kTestNet1, 80, "client");
  rec.CheckErrno("connect with no route to the network", Phase::kConnect, ENETUNREACH, c1);
  rec.States("after the failed connect", {{"client", a.get()}});
  rec.Step(
      "there is no SYN_SENT to see: connect() looked up the route inside the call, found none "
      "and failed before building a SYN, so the socket never left CLOSE (Ip.OutNoRoutes "
      "counts it)");

  rec.Step("an explicit unreachable route, as a router (or `ip route add unreachable`) sets up");
  if (!RunNamespaceTool(rec, {"ip", "route", "add", "unreachable", "192.0.2.0/24"})) {
    return;
  }
  UniqueFd b = OpenTcpSocket(rec, "client");
  if (rec.stopped()) {
    return;
  }
  CallResult c2 = ConnectTo(rec, b.get(), kTestNet1, 80, "client");
  rec.CheckErrno("connect through an unreachable route", Phase::kConnect, EHOSTUNREACH, c2);
  rec.States("after the second failed connect", {{"client", b.get()}});
  rec.Step(
      "again no SYN left: the route lookup returned the unreachable route and connect() "
      "failed at once; the kernel counts this case in no SNMP counter");
  rec.Note(
      "on a real network EHOSTUNREACH also arrives as an ICMP host-unreachable from a "
      "router, or when ARP/neighbour discovery gets no answer on the local segment (after "
      "about 3 s); a firewall rule 'reject with icmp host-unreachable' does the same");
}

}  // namespace

Scenario UnreachableScenario() {
  return {{.name = "unreachable",
           .title = "no route to the network / an unreachable route",
           .expected = "ENETUNREACH and EHOSTUNREACH on connect",
           .wire = "no packet",
           .java = "JDK 13+ (NioSocketImpl): java.net.SocketException: Network is unreachable; "
                   "JDK 13+ (NioSocketImpl), EHOSTUNREACH: "
                   "java.net.NoRouteToHostException: No route to host; "
                   "JDK 12 and older: java.net.SocketException: Network is unreachable (connect "
                   "failed); JDK 12 and older: java.net.NoRouteToHostException: No route to "
                   "host (Host unreachable)",
           .cause = "The routing table has no route to the destination (ENETUNREACH: typically "
                    "no default route, or IPv6 without IPv6 connectivity), or the route says "
                    "unreachable / a router answered ICMP host-unreachable (EHOSTUNREACH). Both "
                    "fail at once, without a timeout.",
           .fix_code = "Check the address and `ip route get ADDR`; prefer IPv4 or IPv6 "
                       "consistently (Java: -Djava.net.preferIPv4Stack=true when IPv6 has no "
                       "route); look for firewall reject rules.",
           .kernel = {},
           .see_also = {"refused", "firewall-icmp", "prohibit-route"},
           .needs_netns = true},
          &Run};
}

}  // namespace socklab::repro

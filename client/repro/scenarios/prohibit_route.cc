#include <netinet/in.h>

#include "client/repro/scenarios/scenarios.h"
#include "client/repro/sock_util.h"

namespace socklab::repro {
namespace {

// 192.0.2.1 is TEST-NET-1 (RFC 5737): no real host.
constexpr uint32_t kTestNet1 = 0xC0000201;

void Run(Recorder& rec) {
  rec.Step("a prohibit route, as `ip route add prohibit` (or a policy that uses it) sets up");
  if (!RunNamespaceTool(rec, {"ip", "route", "add", "prohibit", "192.0.2.0/24"})) {
    return;
  }
  UniqueFd client = OpenTcpSocket(rec, "client");
  if (rec.stopped()) {
    return;
  }
  CallResult c = ConnectTo(rec, client.get(), kTestNet1, 80, "client");
  rec.CheckErrno("connect through a prohibit route", Phase::kConnect, EACCES, c);
  rec.States("after the prohibited connect", {{"client", client.get()}});
  rec.Step(
      "no SYN left: the route lookup inside connect() found the prohibit route, which answers "
      "-EACCES, so the call failed before TCP built a segment");
  rec.Note(
      "EACCES on connect is not about file permissions: the JVM maps it to BindException, "
      "which misleads people into looking at ports; `ip route get 192.0.2.1` prints "
      "'RTNETLINK answers: Permission denied' for the same reason, and `ip route show table "
      "all` lists the rule");
}

}  // namespace

Scenario ProhibitRouteScenario() {
  return {{.name = "prohibit-route",
           .title = "a prohibit route: connect fails with EACCES",
           .expected = "EACCES on connect",
           .wire = "no packet",
           .java = "JDK 13+ (NioSocketImpl): java.net.BindException: Permission denied",
           .cause = "A route of type prohibit covers the destination (`ip route add prohibit "
                    "NET`, often left by a VPN, a container runtime or a policy-routing "
                    "setup), so the kernel refuses the connect with EACCES before any packet "
                    "leaves.",
           .fix_code = "`ip route get ADDR` and `ip route show table all` (and `ip rule`) show "
                       "the route; remove it or route the destination elsewhere.",
           .kernel = {},
           .see_also = {"unreachable", "firewall-icmp"},
           .needs_netns = true},
          &Run};
}

}  // namespace socklab::repro

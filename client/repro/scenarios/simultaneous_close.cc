#include <netinet/tcp.h>
#include <sys/socket.h>

#include "absl/strings/str_cat.h"
#include "client/repro/scenarios/scenarios.h"
#include "client/repro/sock_util.h"

namespace socklab::repro {
namespace {

void Run(Recorder& rec) {
  Pair p = ConnectedPair(rec);
  if (rec.stopped()) {
    return;
  }
  const int a = p.client.get();
  const int b = p.server.get();
  std::vector<Watched> both = {{"A (client)", a}, {"B (server)", b}};
  uint16_t a_port = LocalPort(a);
  rec.Step(
      "on loopback a FIN is delivered before shutdown() even returns, so two closes can "
      "never cross by chance; an nftables rule holds A's FIN \"in flight\" instead");
  if (!RunNamespaceTool(rec, {"nft", "add", "table", "inet", "socklab"}) ||
      !RunNamespaceTool(rec, {"nft", "add", "chain", "inet", "socklab", "output",
                              "{ type filter hook output priority 0; policy accept; }"}) ||
      !RunNamespaceTool(rec,
                        {"nft", "add", "rule", "inet", "socklab", "output", "tcp", "sport",
                         absl::StrCat(a_port), "tcp", "flags", "&", "fin", "==", "fin", "drop"})) {
    return;
  }
  rec.Call(absl::StrCat("A: shutdown(fd ", a, ", SHUT_WR)"), [&] { return shutdown(a, SHUT_WR); });
  rec.States("A sent FIN (held)", both);
  rec.Call(absl::StrCat("B: shutdown(fd ", b, ", SHUT_WR)"), [&] { return shutdown(b, SHUT_WR); });
  bool closing = WaitForTcpState(a, TCP_CLOSING, absl::Seconds(2));
  rec.States("B's FIN reached A while A's own FIN was unacknowledged", both);
  rec.CheckState("A after receiving B's FIN in FIN_WAIT1", "CLOSING",
                 closing ? "CLOSING" : TcpStateName(TcpStateOf(a)), rec.SecondsSinceStart());
  rec.Step("the rule goes away; A's FIN is retransmitted and ACKed");
  if (!RunNamespaceTool(rec, {"nft", "delete", "table", "inet", "socklab"})) {
    return;
  }
  bool done = WaitForTcpState(a, TCP_CLOSE, absl::Seconds(5));
  WaitForTcpState(b, TCP_CLOSE, absl::Seconds(2));
  rec.States(
      "both FINs ACKed: each fd shows CLOSE, the connection lives on as TIME_WAIT on "
      "both sides",
      both, {a_port});
  rec.CheckState("A after its FIN was ACKed (its fd; TIME_WAIT lives on without an fd)", "CLOSE",
                 done ? "CLOSE" : TcpStateName(TcpStateOf(a)), rec.SecondsSinceStart());
  rec.Note(
      "here B went FIN_WAIT1 -> FIN_WAIT2 -> TIME_WAIT and only A passed CLOSING; both "
      "pass CLOSING only when both FINs are in flight at once, which needs real latency");
}

}  // namespace

Scenario SimultaneousCloseScenario() {
  return {{.name = "simultaneous-close",
           .title = "both sides close at once: CLOSING",
           .expected = "CLOSING, then TIME_WAIT",
           .java = "(no exception)",
           .cause = "A side that receives the peer's FIN while its own FIN is still "
                    "unacknowledged goes FIN_WAIT1 -> CLOSING -> TIME_WAIT instead of "
                    "FIN_WAIT2. Both sides of a simultaneous close end in TIME_WAIT. Many "
                    "CLOSING sockets that stay usually mean lost ACKs.",
           .fix_code = "Nothing to fix: it is a normal path of the TCP state diagram.",
           .kernel = {},
           .needs_netns = true},
          &Run};
}

}  // namespace socklab::repro

#include <netinet/in.h>

#include "absl/strings/str_cat.h"
#include "client/repro/scenarios/scenarios.h"
#include "client/repro/sock_util.h"

namespace socklab::repro {
namespace {

void Run(Recorder& rec) {
  rec.Step("a server listens, as `ss -ltn` would show; a firewall in front of it rejects");
  UniqueFd listener = OpenListener(rec, "server", 16);
  if (rec.stopped()) {
    return;
  }
  const std::string port = absl::StrCat(LocalPort(listener.get()));
  if (!RunNamespaceTool(rec, {"nft", "add", "table", "inet", "socklab"}) ||
      !RunNamespaceTool(rec, {"nft", "add", "chain", "inet", "socklab", "input",
                              "{ type filter hook input priority 0; policy accept; }"}) ||
      !RunNamespaceTool(rec, {"nft", "add", "rule", "inet", "socklab", "input", "tcp", "dport",
                              port, "reject", "with", "tcp", "reset"})) {
    return;
  }
  UniqueFd client = OpenTcpSocket(rec, "client");
  if (rec.stopped()) {
    return;
  }
  CallResult c = ConnectTo(rec, client.get(), INADDR_LOOPBACK, LocalPort(listener.get()), "client");
  rec.CheckErrno("connect to a listening port behind 'reject with tcp reset'", Phase::kConnect,
                 ECONNREFUSED, c);
  rec.States("after the rejected connect", {{"client", client.get()}, {"server", listener.get()}},
             {LocalPort(listener.get())});
  rec.Step(
      "the listener never saw the SYN: the firewall's input hook answered it before TCP did, so "
      "the accept queue stays empty and the server's kernel sent no reset of its own");
  rec.Note(
      "telling it from a missing listener (scenario refused), where the wire shows the same "
      "'> SYN, < RST/ACK': there the kernel's event 'RST sent (reason NO_SOCKET)' comes with "
      "the RST and Tcp.OutRsts counts it; here no tcp_send_reset fires and Tcp.OutRsts stays "
      "still, only the client's 'RST received' (nftables builds the reset itself, in "
      "nf_reject). On one host both RSTs carry TTL 64 and IP id 0; across a network the "
      "firewall's RST gives itself away by its TTL, which counts the hops to the firewall, not "
      "to the server. From the client, a port that refuses while `ss -ltn` on the server lists "
      "it is a firewall");
}

}  // namespace

Scenario FirewallResetScenario() {
  return {{.name = "firewall-reset",
           .title = "a firewall rejects with tcp reset: refused although the server listens",
           .expected = "ECONNREFUSED on connect",
           .wire = "> SYN, < RST/ACK",
           .java = "JDK 13+ (NioSocketImpl): java.net.ConnectException: Connection refused",
           .cause = "An nftables (or iptables) rule 'reject with tcp reset' answers the SYN "
                    "with an RST built by the firewall, so connect() fails exactly as if nothing "
                    "listened, while the server is up and listening behind it.",
           .fix_code = "Look at the firewall on the way and on the server's host (`nft list "
                       "ruleset`, `iptables -S`); `socklab trace --port P` on the server's host "
                       "shows the RST without the kernel's 'RST sent' event.",
           .kernel = {},
           .see_also = {"refused", "firewall-icmp"},
           .needs_netns = true,
           .events = {"RST received", "!RST sent"}},
          &Run};
}

}  // namespace socklab::repro

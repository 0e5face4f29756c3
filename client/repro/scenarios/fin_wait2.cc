#include <netinet/tcp.h>
#include <sys/socket.h>

#include "absl/strings/str_cat.h"
#include "client/repro/scenarios/scenarios.h"
#include "client/repro/sock_util.h"
#include "core/sysinfo/proc_fs.h"

namespace socklab::repro {
namespace {

void Run(Recorder& rec) {
  Pair p = ConnectedPair(rec);
  if (rec.stopped()) {
    return;
  }
  uint16_t port = LocalPort(p.client.get());
  rec.Call(absl::StrCat("client: shutdown(fd ", p.client.get(), ", SHUT_WR)"),
           [&] { return shutdown(p.client.get(), SHUT_WR); });
  bool reached = WaitForTcpState(p.client.get(), TCP_FIN_WAIT2, absl::Seconds(2));
  rec.States("the client sent FIN and got the ACK; the server never closes",
             {{"client", p.client.get()}, {"server", p.server.get()}}, {port});
  rec.CheckState("the client after its FIN was ACKed", tcpstat::TcpState::kFinWait2,
                 KnownTcpStateOf(p.client.get()), reached ? rec.SecondsSinceStart() : 0);
  rec.CheckState("the server (got FIN, has not closed)", tcpstat::TcpState::kCloseWait,
                 KnownTcpStateOf(p.server.get()), rec.SecondsSinceStart());
  rec.Step("the client may still read: FIN_WAIT2 is a half-closed connection");
  SendBytes(rec, "server", p.server.get(), 10);
  RecvSome(rec, "client", p.client.get());
  absl::StatusOr<std::string> fin = ProcFs().ReadSysctl("net.ipv4.tcp_fin_timeout");
  rec.Note(
      absl::StrCat("with shutdown() the socket stays in FIN_WAIT2 as long as the peer "
                   "does; after close() it becomes an orphan that the kernel kills after "
                   "net.ipv4.tcp_fin_timeout (",
                   fin.ok() ? *fin : "?", " s here) or TCP_LINGER2"));
}

}  // namespace

Scenario FinWait2Scenario() {
  return {{.name = "fin-wait-2",
           .title = "we closed, the peer never does",
           .expected = "FIN_WAIT2 here, CLOSE_WAIT on the peer",
           .wire = "> SYN, < SYN/ACK, > ACK, > FIN/ACK, < ACK",
           .java = "(no exception: the peer leaks CLOSE_WAIT)",
           .cause = "Our FIN was acknowledged, but the peer's application has not closed its "
                    "end, so we wait for its FIN in FIN_WAIT2. Many FIN_WAIT2 sockets on a server "
                    "mean clients that do not close; on their side the sockets sit in "
                    "CLOSE_WAIT.",
           .fix_code = "Fix the peer's missing close(); bound orphaned FIN_WAIT2 per socket with "
                       "TCP_LINGER2.",
           .kernel = {{"net.ipv4.tcp_fin_timeout",
                       "lifetime of orphaned FIN_WAIT2 sockets: "
                       "sysctl -w net.ipv4.tcp_fin_timeout=30"}},
           .see_also = {"close-wait-leak"}},
          &Run};
}

}  // namespace socklab::repro

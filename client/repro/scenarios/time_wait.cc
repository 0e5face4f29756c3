#include <netinet/in.h>
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
  uint16_t client_port = LocalPort(p.client.get());
  const std::string client_local = LocalText(p.client.get());
  const std::string client_remote = PeerText(p.client.get());
  std::vector<Watched> both = {{"client", p.client.get()}, {"server", p.server.get()}};
  rec.States("connected", both);
  rec.Step(
      "the client closes first (the active closer); shutdown(SHUT_WR) keeps its fd so "
      "TCP_INFO can still show its state");
  rec.Call(absl::StrCat("client: shutdown(fd ", p.client.get(), ", SHUT_WR)"),
           [&] { return shutdown(p.client.get(), SHUT_WR); });
  WaitForTcpState(p.client.get(), TCP_FIN_WAIT2, absl::Seconds(2));
  rec.States("client sent FIN, server ACKed it", both);
  RecvSome(rec, "server", p.server.get());
  CloseFd(rec, "server", p.server);
  WaitForTcpState(p.client.get(), TCP_CLOSE, absl::Seconds(2));
  rec.States("server closed (LAST_ACK), the client ACKed its FIN", {{"client", p.client.get()}},
             {client_port});
  rec.Step(
      "the client's fd now shows CLOSE: the kernel moved the connection into a small "
      "TIME_WAIT socket that no fd points at (`ss -tan state time-wait` shows it)");
  CloseFd(rec, "client", p.client);

  const StateSnapshot& snap = rec.States("after both closed", {}, {client_port});
  std::optional<tcpstat::TcpState> seen;
  for (const SocketState& s : snap.sockets) {
    if (s.local == client_local && s.remote == client_remote) {
      seen = StateOfRow(s);
    }
  }
  rec.CheckState("the client's connection after the close", tcpstat::TcpState::kTimeWait, seen,
                 rec.SecondsSinceStart());
  rec.Step("the proof without /proc/net/tcp: the port is still taken by the TIME_WAIT socket");
  UniqueFd probe = OpenTcpSocket(rec, "probe");
  if (rec.stopped()) {
    return;
  }
  CallResult b = BindLoopback(rec, probe.get(), client_port, "probe");
  rec.CheckErrno("bind to the client's old port (held by TIME_WAIT)", Phase::kBind, EADDRINUSE, b);
  absl::StatusOr<std::string> fin = ProcFs().ReadSysctl("net.ipv4.tcp_fin_timeout");
  rec.Note(
      absl::StrCat("TIME_WAIT lasts TCP_TIMEWAIT_LEN = 60 s, a constant compiled into the "
                   "kernel (include/net/tcp.h); net.ipv4.tcp_fin_timeout (",
                   fin.ok() ? *fin : "?",
                   " s here) only limits orphaned FIN_WAIT2 sockets and does not shorten "
                   "TIME_WAIT"));
}

}  // namespace

Scenario TimeWaitScenario() {
  return {{.name = "time-wait",
           .title = "the active closer waits in TIME_WAIT",
           .expected = "TIME_WAIT on the side that closed first",
           .wire = "> SYN, < SYN/ACK, > ACK, > FIN/ACK, < ACK, < FIN/ACK, > ACK",
           .java = "(no exception: shows up later as BindException: Address already in use, or "
                   "as port exhaustion)",
           .cause = "The side that sends the first FIN ends in TIME_WAIT for 2*MSL, which Linux "
                    "fixes at 60 s, so that late segments of this connection cannot corrupt a "
                    "new one with the same 4-tuple. Clients that open and close many short "
                    "connections collect thousands of them; each holds a local port.",
           .fix_code = "Reuse connections; let the server close first where the protocol allows; "
                       "SO_REUSEADDR on servers. Do not use SO_LINGER {1,0} to skip TIME_WAIT "
                       "(it turns every close into a reset).",
           .kernel = {{"net.ipv4.tcp_max_tw_buckets",
                       "the cap on TIME_WAIT sockets; beyond it new ones are destroyed at once "
                       "(TcpExt.TCPTimeWaitOverflow): raise it on a busy client with "
                       "sysctl -w net.ipv4.tcp_max_tw_buckets=262144"},
                      {"net.ipv4.tcp_tw_reuse",
                       "lets outgoing connects reuse TIME_WAIT ports: "
                       "sysctl -w net.ipv4.tcp_tw_reuse=1"},
                      {"net.ipv4.tcp_fin_timeout",
                       "does NOT change TIME_WAIT; it bounds orphaned FIN_WAIT2 sockets: "
                       "sysctl -w net.ipv4.tcp_fin_timeout=30"}},
           .see_also = {"bind-in-use", "server-restart", "client-port-in-use", "port-exhaustion"}},
          &Run};
}

}  // namespace socklab::repro

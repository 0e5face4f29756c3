#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include "client/repro/scenarios/scenarios.h"
#include "client/repro/sock_util.h"

namespace socklab::repro {
namespace {

void Run(Recorder& rec) {
  Pair p = ConnectedPair(rec);
  if (rec.stopped()) {
    return;
  }
  uint16_t port = LocalPort(p.client.get());
  rec.Step(
      "the server closes (idle timeout, say); the application on the client side reads "
      "EOF and forgets to close()");
  CloseFd(rec, "server", p.server);
  RecvSome(rec, "client", p.client.get());
  usleep(200'000);
  rec.States("200 ms later: nothing changes until the client closes", {{"client", p.client.get()}},
             {port});
  rec.CheckState("the leaked client socket", tcpstat::TcpState::kCloseWait,
                 KnownTcpStateOf(p.client.get()), rec.SecondsSinceStart());
  rec.Note(
      "CLOSE_WAIT has no timer: the socket, its fd and its port stay until the process "
      "closes the fd or exits. `ss -tan state close-wait` counting up = a leak; the peer's "
      "end sits in FIN_WAIT2 until tcp_fin_timeout");
  CloseFd(rec, "client", p.client);
}

}  // namespace

Scenario CloseWaitLeakScenario() {
  return {{.name = "close-wait-leak",
           .title = "an application that never closes after EOF",
           .expected = "CLOSE_WAIT that never goes away",
           .wire = "> SYN, < SYN/ACK, > ACK, < FIN/ACK, > ACK",
           .java = "(no exception at first; later \"Too many open files\")",
           .cause = "The peer closed (FIN), our kernel acknowledged it and moved the socket to "
                    "CLOSE_WAIT, and now waits for the application to close() it. The kernel "
                    "never times this out: a missing close() on some error path leaks one fd per "
                    "connection until EMFILE.",
           .fix_code = "Close on every path (try-with-resources, RAII, finally); treat read() == 0 "
                       "or -1 as the end; return pooled connections that saw EOF to nobody.",
           .kernel = {{"net.ipv4.tcp_fin_timeout",
                       "bounds the PEER's orphaned FIN_WAIT2, not "
                       "our CLOSE_WAIT"}},
           .see_also = {"eof", "fin-wait-2", "too-many-files"}},
          &Run};
}

}  // namespace socklab::repro

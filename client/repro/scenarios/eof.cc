#include "client/repro/scenarios/scenarios.h"
#include "client/repro/sock_util.h"

namespace socklab::repro {
namespace {

void Run(Recorder& rec) {
  Pair p = ConnectedPair(rec);
  if (rec.stopped()) {
    return;
  }
  rec.Step("the server closes normally: FIN, nothing unread");
  CallResult c = CloseFd(rec, "server", p.server);
  CallResult r = RecvSome(rec, "client", p.client.get());
  rec.CheckEof("read", r, c.end_ns);
  rec.States("after the client's read", {{"client", p.client.get()}}, {LocalPort(p.client.get())});
}

}  // namespace

Scenario EofScenario() {
  return {
      {.name = "eof",
       .title = "the peer closes normally",
       .expected = "read returns 0 (EOF)",
       .wire = "> SYN, < SYN/ACK, > ACK, < FIN/ACK",
       .java = "JDK 13+ (NioSocketImpl): java.io.EOFException; from DataInputStream.readFully()",
       .cause = "The peer closed its side (FIN) before we read all we expected. read() "
                "returning 0 is not an error for the kernel: it is the end of the stream. "
                "Our socket is now in CLOSE_WAIT until we close it.",
       .fix_code = "Treat read() == 0 as the end: close the socket (else it leaks in "
                   "CLOSE_WAIT). If the protocol expected more, the peer gave up: check its "
                   "idle timeout against yours (pooled connections).",
       .kernel = {},
       .see_also = {"close-wait-leak"}},
      &Run};
}

}  // namespace socklab::repro

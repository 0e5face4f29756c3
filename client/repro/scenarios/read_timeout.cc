#include <sys/socket.h>
#include <sys/time.h>

#include "client/repro/scenarios/scenarios.h"
#include "client/repro/sock_util.h"

namespace socklab::repro {
namespace {

void Run(Recorder& rec) {
  Pair p = ConnectedPair(rec);
  if (rec.stopped()) {
    return;
  }
  rec.Step("the server accepted and never writes");
  timeval tv{0, 300'000};
  rec.Call("client: setsockopt(SO_RCVTIMEO, 300 ms)",
           [&] { return setsockopt(p.client.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)); });
  CallResult r = RecvSome(rec, "client", p.client.get());
  rec.CheckErrno("read", Phase::kRead, EAGAIN, r);
  rec.States("after the timeout", {{"client", p.client.get()}, {"server", p.server.get()}});
  rec.Note(
      "the connection is still ESTABLISHED: a read timeout says nothing about the peer "
      "being gone (that is peer-vanished)");
}

}  // namespace

Scenario ReadTimeoutScenario() {
  return {{.name = "read-timeout",
           .title = "the peer never answers",
           .expected = "EAGAIN on read (SO_RCVTIMEO)",
           .wire = "> SYN, < SYN/ACK, > ACK",
           .java = "JDK 13+ (NioSocketImpl): java.net.SocketTimeoutException: Read timed out; the "
                   "same in older JDKs; unlike a C program, the JVM never sets SO_RCVTIMEO: "
                   "setSoTimeout makes each read() wait in poll() for at most that long (JDK 13+ "
                   "on a socket it turned nonblocking), so it bounds each read, not a message",
           .cause = "No byte arrived within SO_RCVTIMEO (Java: setSoTimeout), so the blocking "
                    "recv() returned -1 with EAGAIN. The connection itself is fine: the peer is "
                    "slow, stuck, or waiting for us.",
           .fix_code = "Set a read timeout that matches the peer's worst case; on timeout, do not "
                       "reuse the connection mid-request (the late answer would be read by the "
                       "next request).",
           .kernel = {},
           .see_also = {"connect-timeout", "peer-vanished"}},
          &Run};
}

}  // namespace socklab::repro

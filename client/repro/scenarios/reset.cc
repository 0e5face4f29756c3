#include <errno.h>
#include <poll.h>
#include <sys/socket.h>

#include "client/repro/scenarios/scenarios.h"
#include "client/repro/sock_util.h"

namespace socklab::repro {
namespace {

void RunLinger(Recorder& rec) {
  Pair p = ConnectedPair(rec);
  if (rec.stopped()) {
    return;
  }
  rec.States("connected", {{"client", p.client.get()}, {"server", p.server.get()}});
  rec.Step("the server sets SO_LINGER {l_onoff=1, l_linger=0}: close() will send RST, not FIN");
  linger lg{1, 0};
  rec.Call("server: setsockopt(SO_LINGER, {1, 0})",
           [&] { return setsockopt(p.server.get(), SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)); });
  int64_t closed_at = 0;
  {
    CallResult c = CloseFd(rec, "server", p.server);
    closed_at = c.end_ns;
  }
  CallResult r = RecvSome(rec, "client", p.client.get());
  rec.CheckErrno("read", Phase::kRead, ECONNRESET, r, closed_at);
  rec.States("after the client's read", {{"client", p.client.get()}});
}

void RunUnread(Recorder& rec) {
  Pair p = ConnectedPair(rec);
  if (rec.stopped()) {
    return;
  }
  SendBytes(rec, "client", p.client.get(), 100);
  if (!WaitReadable(p.server.get(), absl::Seconds(5))) {
    return rec.Fail("the 100 bytes never reached the server");
  }
  rec.Step(
      "the server has 100 unread bytes in its receive buffer and closes without reading "
      "them (RFC 2525 2.17: data would be lost, so the kernel sends RST instead of FIN)");
  rec.States("before the server's close", {{"client", p.client.get()}, {"server", p.server.get()}});
  CallResult c = CloseFd(rec, "server", p.server);
  CallResult r = RecvSome(rec, "client", p.client.get());
  rec.CheckErrno("read", Phase::kRead, ECONNRESET, r, c.end_ns);
  rec.States("after the client's read", {{"client", p.client.get()}});
}

const char kJava[] =
    "JDK 13+ (NioSocketImpl): java.net.SocketException: Connection reset; the same in older JDKs";
const char kFix[] =
    "Find why the peer aborted (its logs, its exceptions). Do not close a socket with unread "
    "input when you mean a normal close: read until EOF, or shutdown(SHUT_WR) and drain, then "
    "close. Never set SO_LINGER {1,0} to \"avoid TIME_WAIT\". Clients: treat reset as retryable "
    "only for idempotent requests.";

}  // namespace

Scenario ResetScenario() {
  return {{.name = "reset",
           .title = "the peer aborts with SO_LINGER {1,0}",
           .expected = "ECONNRESET on read",
           .wire = "> SYN, < SYN/ACK, > ACK, < RST/ACK",
           .java = kJava,
           .cause = "The peer closed with SO_LINGER {1,0}, so its kernel sent RST instead of FIN "
                    "and threw the connection away. The RST sets ECONNRESET on our socket: the "
                    "next read (or write) fails with it.",
           .fix_code = kFix,
           .kernel = {},
           .see_also = {"reset-unread", "broken-pipe"},
           .events = {"RST sent (reason TCP_STATE"}},
          &RunLinger};
}

Scenario ResetUnreadScenario() {
  return {{.name = "reset-unread",
           .title = "the peer closes with unread data in its receive buffer",
           .expected = "ECONNRESET on read",
           .wire = "> SYN, < SYN/ACK, > ACK, > PSH/ACK, < RST/ACK",
           .java = kJava,
           .cause = "The peer called close() while bytes we sent were still unread in its receive "
                    "buffer. Linux then sends RST rather than FIN (the data would be silently "
                    "lost otherwise), so our read fails with ECONNRESET instead of seeing EOF. "
                    "Typical with servers that answer an error and close without reading the "
                    "rest of the request.",
           .fix_code = kFix,
           .kernel = {},
           .see_also = {"reset", "broken-pipe"},
           .events = {"RST sent (reason TCP_ABORT_ON_CLOSE"}},
          &RunUnread};
}

}  // namespace socklab::repro

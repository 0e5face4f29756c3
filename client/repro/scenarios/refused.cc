#include <netinet/in.h>

#include "client/repro/scenarios/scenarios.h"
#include "client/repro/sock_util.h"

namespace socklab::repro {
namespace {

void Run(Recorder& rec) {
  // The port stays bound (so no other program can start listening on it mid-run) but nobody
  // calls listen(): the kernel answers the SYN with RST.
  CallResult holder = NewTcpSocket(rec, "holder");
  if (holder.failed()) {
    return rec.Fail("socket() failed");
  }
  UniqueFd hold(static_cast<int>(holder.ret));
  if (BindLoopback(rec, hold.get(), 0, "holder").failed()) {
    return rec.Fail("bind() failed");
  }
  uint16_t port = LocalPort(hold.get());
  rec.Step("the holder never calls listen(): the port is taken but closed");
  CallResult s = NewTcpSocket(rec, "client");
  if (s.failed()) {
    return rec.Fail("socket() failed");
  }
  UniqueFd client(static_cast<int>(s.ret));
  CallResult c = ConnectTo(rec, client.get(), INADDR_LOOPBACK, port, "client");
  rec.CheckErrno("connect", Phase::kConnect, ECONNREFUSED, c);
  rec.States("after the refused connect", {{"client", client.get()}, {"holder", hold.get()}});
}

}  // namespace

Scenario RefusedScenario() {
  return {{.name = "refused",
           .title = "connect to a port where nothing listens",
           .expected = "ECONNREFUSED on connect",
           .wire = "> SYN, < RST/ACK",
           .java = "JDK 13+ (NioSocketImpl): java.net.ConnectException: Connection refused; "
                   "JDK 12 and older: java.net.ConnectException: Connection refused (Connection "
                   "refused)",
           .cause = "The SYN reached the host, but no socket listens on that address and port, "
                    "so the kernel answered with RST and connect() failed at once. Usually the "
                    "server is not running (yet), listens on another port or address (127.0.0.1 "
                    "vs 0.0.0.0 vs ::1), or a firewall rejects with tcp-reset.",
           .fix_code = "Check host and port; retry with backoff while the server starts; `ss -ltn` "
                       "on the server shows what listens where.",
           .kernel = {},
           .see_also = {"connect-timeout", "unreachable", "firewall-reset"},
           .events = {"RST sent (reason NO_SOCKET"}},
          &Run};
}

}  // namespace socklab::repro

#include <errno.h>
#include <sys/socket.h>

#include "absl/strings/str_cat.h"
#include "client/repro/scenarios/scenarios.h"
#include "client/repro/sock_util.h"

namespace socklab::repro {
namespace {

// The old server: listens (with or without SO_REUSEADDR), serves one connection, closes it first
// (its side goes to TIME_WAIT, keeping the listener's SO_REUSEADDR flag), and exits. Returns
// its port, 0 on a setup error.
uint16_t ServeOneAndExit(Recorder& rec, bool reuse_addr) {
  UniqueFd listener = OpenListener(rec, "old server", 16, 0, reuse_addr);
  if (rec.stopped()) {
    return 0;
  }
  const uint16_t port = LocalPort(listener.get());
  UniqueFd client = ConnectLoopback(rec, "client", port);
  UniqueFd served = client.valid() ? AcceptOne(rec, listener.get()) : UniqueFd();
  if (rec.stopped()) {
    return 0;
  }
  CloseFd(rec, "old server", served);  // the server closes first: its side waits in TIME_WAIT
  RecvSome(rec, "client", client.get());
  CloseFd(rec, "client", client);
  CloseFd(rec, "old server", listener);  // the process exits
  return port;
}

// The new server's socket binding the old port; the socket is returned for a listen().
UniqueFd Rebind(Recorder& rec, uint16_t port, bool reuse_addr, CallResult& bind_result) {
  UniqueFd fd = OpenTcpSocket(rec, "new server");
  if (!fd.valid()) {
    return fd;
  }
  if (reuse_addr) {
    SetSockOptInt(rec, fd.get(), SOL_SOCKET, SO_REUSEADDR, 1, "SO_REUSEADDR");
  }
  bind_result = BindLoopback(rec, fd.get(), port, "new server");
  return fd;
}

void Run(Recorder& rec) {
  rec.Step(
      "case 1: the old server never set SO_REUSEADDR (Python's socketserver.TCPServer, a C "
      "server that forgot it); it closed its connections first and was restarted at once");
  const uint16_t port = ServeOneAndExit(rec, /*reuse_addr=*/false);
  if (port == 0) {
    return;
  }
  rec.States("the old server is gone; its connection is not", {}, {port});
  CallResult plain;
  UniqueFd first = Rebind(rec, port, /*reuse_addr=*/false, plain);
  if (rec.stopped()) {
    return;
  }
  rec.CheckErrno("the new server's bind, no SO_REUSEADDR anywhere", Phase::kBind, EADDRINUSE,
                 plain);
  first.Reset();

  rec.Step(
      "case 2: the new server sets SO_REUSEADDR, the old one did not: the TIME_WAIT socket "
      "carries the old listener's flag, and both must have it");
  CallResult half;
  UniqueFd second = Rebind(rec, port, /*reuse_addr=*/true, half);
  if (rec.stopped()) {
    return;
  }
  rec.CheckErrno("the new server's bind with SO_REUSEADDR, the old one without", Phase::kBind,
                 EADDRINUSE, half);
  second.Reset();

  rec.Step("case 3: both the old and the new server set SO_REUSEADDR before bind()");
  const uint16_t port3 = ServeOneAndExit(rec, /*reuse_addr=*/true);
  if (port3 == 0) {
    return;
  }
  CallResult both;
  UniqueFd third = Rebind(rec, port3, /*reuse_addr=*/true, both);
  if (rec.stopped()) {
    return;
  }
  rec.CheckOk("the new server's bind, SO_REUSEADDR on both", Phase::kBind, both);
  CallResult listened = rec.Call(absl::StrCat("new server: listen(fd ", third.get(), ", 16)"),
                                 [&] { return listen(third.get(), 16); });
  rec.CheckOk("the new server's listen beside the old TIME_WAIT", Phase::kListen, listened);
  rec.States("the restarted server listens beside its predecessor's TIME_WAIT",
             {{"new server", third.get()}}, {port3});
}

}  // namespace

Scenario ServerRestartScenario() {
  return {{.name = "server-restart",
           .title = "a server restarts while its old connections sit in TIME_WAIT",
           .expected = "EADDRINUSE on bind (and OK with SO_REUSEADDR on the old and new server)",
           .wire = "> SYN, < SYN/ACK, > ACK, < FIN/ACK, > FIN/ACK, < ACK",
           .java = "JDK 13+ (NioSocketImpl): java.net.BindException: Address already in use; "
                   "JDK 12 and older: java.net.BindException: Address already in use (Bind "
                   "failed); Java's ServerSocket sets SO_REUSEADDR by default on Linux, "
                   "setReuseAddress(false) brings this back",
           .cause = "A server that closes connections first leaves their TIME_WAIT sockets on its "
                    "own port for 60 s after it exits. A new listener may bind that port only "
                    "if both it and the TIME_WAIT sockets have SO_REUSEADDR; the TIME_WAIT "
                    "socket keeps the flag its listener had. So a restart fails for a minute, "
                    "even after the new code sets the option, until the old TIME_WAITs expire.",
           .fix_code = "Set SO_REUSEADDR on every listening socket before bind() (Python: "
                       "allow_reuse_address = True; Java: setReuseAddress(true) before bind); "
                       "it does not allow two listeners on one port (see bind-in-use). Never "
                       "SO_LINGER {1,0} to avoid TIME_WAIT.",
           .kernel = {},
           .see_also = {"bind-in-use", "time-wait", "client-port-in-use"}},
          &Run};
}

}  // namespace socklab::repro

#include <netinet/in.h>
#include <sys/socket.h>

#include "absl/strings/str_cat.h"
#include "client/repro/scenarios/scenarios.h"
#include "client/repro/sock_util.h"

namespace socklab::repro {
namespace {

// Connects a client bound to `local_port` (0: ephemeral) to the listener, closes it first so it
// sits in TIME_WAIT, and lets the server close its side. Returns the client's port, 0 on error.
uint16_t ConnectAndActiveClose(Recorder& rec, int listener, bool reuse_addr) {
  UniqueFd client = OpenTcpSocket(rec, "client");
  if (!client.valid()) {
    return 0;
  }
  if (reuse_addr) {
    SetSockOptInt(rec, client.get(), SOL_SOCKET, SO_REUSEADDR, 1, "SO_REUSEADDR");
  }
  if (BindLoopback(rec, client.get(), 0, "client").failed()) {
    rec.Fail("bind failed");
    return 0;
  }
  uint16_t port = LocalPort(client.get());
  if (ConnectTo(rec, client.get(), INADDR_LOOPBACK, LocalPort(listener), "client").failed()) {
    rec.Fail("connect failed");
    return 0;
  }
  UniqueFd server = AcceptOne(rec, listener);
  if (!server.valid()) {
    return 0;
  }
  CloseFd(rec, "client", client);
  RecvSome(rec, "server", server.get());
  CloseFd(rec, "server", server);
  return port;
}

void Run(Recorder& rec) {
  UniqueFd listener = OpenListener(rec, "server", 16);
  if (rec.stopped()) {
    return;
  }
  uint16_t server_port = LocalPort(listener.get());

  rec.Step(
      "case 1: like socket.bind(new InetSocketAddress(ip, PORT)) without setReuseAddress: "
      "the client closed first, its PORT is in TIME_WAIT, the program restarts");
  uint16_t port = ConnectAndActiveClose(rec, listener.get(), /*reuse_addr=*/false);
  if (port == 0) {
    return;
  }
  rec.States("the old connection from the fixed port", {}, {port});
  UniqueFd again = OpenTcpSocket(rec, "client");
  if (rec.stopped()) {
    return;
  }
  CallResult b1 = BindLoopback(rec, again.get(), port, "client");
  rec.CheckErrno("bind to the fixed port in TIME_WAIT, no SO_REUSEADDR", Phase::kBind, EADDRINUSE,
                 b1);
  again.Reset();

  rec.Step(
      "case 2: SO_REUSEADDR only on the new socket is not enough: the TIME_WAIT socket "
      "inherited the old socket's flag");
  UniqueFd half = OpenTcpSocket(rec, "client");
  if (rec.stopped()) {
    return;
  }
  SetSockOptInt(rec, half.get(), SOL_SOCKET, SO_REUSEADDR, 1, "SO_REUSEADDR");
  CallResult b2 = BindLoopback(rec, half.get(), port, "client");
  rec.CheckErrno("bind with SO_REUSEADDR on the new socket only", Phase::kBind, EADDRINUSE, b2);
  half.Reset();

  rec.Step("case 3: SO_REUSEADDR on both the old and the new socket");
  uint16_t port3 = ConnectAndActiveClose(rec, listener.get(), /*reuse_addr=*/true);
  if (port3 == 0) {
    return;
  }
  UniqueFd both = OpenTcpSocket(rec, "client");
  if (rec.stopped()) {
    return;
  }
  SetSockOptInt(rec, both.get(), SOL_SOCKET, SO_REUSEADDR, 1, "SO_REUSEADDR");
  CallResult b3 = BindLoopback(rec, both.get(), port3, "client");
  rec.CheckOk("bind with SO_REUSEADDR on both sockets", Phase::kBind, b3);
  CallResult c3 = ConnectTo(rec, both.get(), INADDR_LOOPBACK, server_port, "client");
  rec.CheckOk("connect over the same 4-tuple as the TIME_WAIT socket", Phase::kConnect, c3);
  rec.Note(
      "case 3 works because TCP timestamps (net.ipv4.tcp_timestamps) let the kernel tell "
      "old segments from new ones, so a connect from an explicitly bound port may recycle "
      "the TIME_WAIT 4-tuple; without timestamps this connect fails with EADDRNOTAVAIL");
  rec.States("after the reconnect: the same 4-tuple, a new connection (not yet accepted)",
             {{"client", both.get()}}, {port3});
}

}  // namespace

Scenario ClientPortInUseScenario() {
  return {{.name = "client-port-in-use",
           .title = "a client binds a fixed local port and reconnects",
           .expected = "EADDRINUSE on bind (and OK with SO_REUSEADDR on both)",
           .wire = "> SYN, < SYN/ACK, > ACK, > FIN/ACK, < FIN/ACK, > ACK",
           .java = "JDK 13+ (NioSocketImpl): java.net.BindException: Address already in use; "
                   "JDK 12 and older: java.net.BindException: Address already in use (Bind "
                   "failed)",
           .cause = "The client closed first, so its end of the last connection from that port "
                    "waits in TIME_WAIT for 60 s and still owns the port. bind() to the same "
                    "port refuses unless both the old and the new socket set SO_REUSEADDR.",
           .fix_code = "Do not bind clients to a fixed port: let connect() pick an ephemeral one. "
                       "If a fixed source port is required, set SO_REUSEADDR on every socket "
                       "before bind (Java: setReuseAddress(true) before bind()).",
           .kernel = {{"net.ipv4.tcp_timestamps",
                       "must be 1 for the kernel to recycle a TIME_WAIT 4-tuple "
                       "(sysctl -w net.ipv4.tcp_timestamps=1)"}},
           .see_also = {"time-wait", "server-restart", "port-exhaustion"}},
          &Run};
}

}  // namespace socklab::repro

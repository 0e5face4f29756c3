#include <sys/socket.h>

#include "absl/strings/str_cat.h"
#include "client/repro/scenarios/scenarios.h"
#include "client/repro/sock_util.h"

namespace socklab::repro {
namespace {

void Run(Recorder& rec) {
  UniqueFd first = OpenListener(rec, "first", 16);
  if (rec.stopped()) {
    return;
  }
  uint16_t port = LocalPort(first.get());
  rec.Step("case 1: a second socket binds the port a listener holds");
  CallResult s = NewTcpSocket(rec, "second");
  if (s.failed()) {
    return rec.Fail("socket() failed");
  }
  UniqueFd second(static_cast<int>(s.ret));
  SetSockOptInt(rec, second.get(), SOL_SOCKET, SO_REUSEADDR, 1, "SO_REUSEADDR");
  CallResult b = BindLoopback(rec, second.get(), port, "second");
  rec.CheckErrno("bind (port held by a listener, even with SO_REUSEADDR)", Phase::kBind, EADDRINUSE,
                 b);

  rec.Step(
      "case 2: two sockets with SO_REUSEADDR bind the same port while neither listens: "
      "both binds succeed, the conflict shows up at listen()");
  CallResult a1 = NewTcpSocket(rec, "a");
  CallResult a2 = NewTcpSocket(rec, "b");
  if (a1.failed() || a2.failed()) {
    return rec.Fail("socket() failed");
  }
  UniqueFd a(static_cast<int>(a1.ret));
  UniqueFd bb(static_cast<int>(a2.ret));
  SetSockOptInt(rec, a.get(), SOL_SOCKET, SO_REUSEADDR, 1, "SO_REUSEADDR");
  SetSockOptInt(rec, bb.get(), SOL_SOCKET, SO_REUSEADDR, 1, "SO_REUSEADDR");
  if (BindLoopback(rec, a.get(), 0, "a").failed()) {
    return rec.Fail("bind failed");
  }
  uint16_t shared = LocalPort(a.get());
  CallResult b2 = BindLoopback(rec, bb.get(), shared, "b");
  rec.CheckOk("second bind with SO_REUSEADDR, nobody listening", Phase::kBind, b2);
  CallResult l1 = rec.Call(absl::StrCat("a: listen(fd ", a.get(), ", 16)"),
                           [&] { return listen(a.get(), 16); });
  if (l1.failed()) {
    return rec.Fail("the first listen failed");
  }
  CallResult l2 = rec.Call(absl::StrCat("b: listen(fd ", bb.get(), ", 16)"),
                           [&] { return listen(bb.get(), 16); });
  rec.CheckErrno("listen on the shared port", Phase::kListen, EADDRINUSE, l2);
  rec.States("end", {{"first", first.get()}, {"a", a.get()}, {"b", bb.get()}});
}

}  // namespace

Scenario BindInUseScenario() {
  return {{.name = "bind-in-use",
           .title = "a second listener on a port that is taken",
           .expected = "EADDRINUSE on bind, and on listen",
           .wire = "no packet",
           .java = "JDK 13+ (NioSocketImpl): java.net.BindException: Address already in use; "
                   "JDK 12 and older: java.net.BindException: Address already in use (Bind "
                   "failed); JDK 12 and older on Windows: "
                   "java.net.BindException: Address already in use: JVM_Bind",
           .cause = "Another socket holds the address and port. SO_REUSEADDR does not let two "
                    "sockets listen on one port: it only lets bind() succeed past TIME_WAIT "
                    "leftovers (and past other bound, non-listening sockets, in which case "
                    "listen() is the call that fails).",
           .fix_code = "Find the owner (`ss -ltnp 'sport = :PORT'`) and stop it or pick another "
                       "port; set SO_REUSEADDR on servers so restarts survive TIME_WAIT; use "
                       "SO_REUSEPORT only when several listeners should share the load.",
           .kernel = {},
           .see_also = {"server-restart", "time-wait"}},
          &Run};
}

}  // namespace socklab::repro

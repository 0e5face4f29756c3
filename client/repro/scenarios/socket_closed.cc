#include <sys/socket.h>
#include <unistd.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "client/repro/scenarios/scenarios.h"
#include "client/repro/sock_util.h"
#include "client/repro/state_sampler.h"
#include "core/base/clock.h"

namespace socklab::repro {
namespace {

// Polls the sampler (no fd is left to ask) until the socket bound to `local` is in `state`, for
// up to 2 s: the peer's ACK of our FIN may be delayed.
void WaitForOrphanState(const std::string& local, tcpstat::TcpState state, uint16_t port) {
  const int64_t deadline = MonotonicNanos() + 2'000'000'000;
  while (MonotonicNanos() < deadline) {
    for (const SampledSocket& s : SampleSocketsOnPorts({port})) {
      if (s.state.local == local && StateOfRow(s.state) == state) {
        return;
      }
    }
    usleep(1000);
  }
}

void Run(Recorder& rec) {
  Pair p = ConnectedPair(rec);
  if (rec.stopped()) {
    return;
  }
  int stale = p.client.get();
  uint16_t client_port = LocalPort(stale);
  const std::string client_text = LocalText(stale);
  rec.States("before the close", {{"client", stale}, {"server", p.server.get()}}, {client_port});
  rec.Step(absl::StrCat("the client closes fd ", stale, " and later uses the same number again"));
  CloseFd(rec, "client", p.client);
  char buf[16];
  CallResult r = rec.Call(absl::StrCat("client: recv(fd ", stale, ", 16)"),
                          [&] { return recv(stale, buf, sizeof(buf), 0); });
  rec.CheckErrno("read on a closed fd", Phase::kRead, EBADF, r);
  // The number is not watched any more: it names nothing (or, in a real program, whatever was
  // opened next). The sampler shows what became of the connection without it.
  WaitForOrphanState(client_text, tcpstat::TcpState::kFinWait2, client_port);
  rec.States(absl::StrCat("after close(): fd ", stale,
                          " is gone; its connection finishes without an fd (FIN_WAIT2, an orphan)"),
             {{"server", p.server.get()}}, {client_port});
  rec.Note(
      "a real program rarely gets EBADF: the fd number is reused by the next open(), "
      "socket() or accept(), and the stale read/write silently goes to the wrong file; "
      "socklab aborts on EBADF in its data path for that reason");
}

}  // namespace

Scenario SocketClosedScenario() {
  return {{.name = "socket-closed",
           .title = "use a socket after close()",
           .expected = "EBADF on read",
           .wire = "> SYN, < SYN/ACK, > ACK, > FIN/ACK, < ACK",
           .java = "JDK 13+ (NioSocketImpl): java.net.SocketException: Socket closed; the same in "
                   "older JDKs; thrown by the JVM itself, before any syscall; unlike close() in "
                   "C, a JVM close() also wakes a thread blocked in read() on the socket, which "
                   "throws the same (the JVM first dup2()s a dead socket over the fd, so the "
                   "number is not reused while the read leaves)",
           .cause = "The descriptor was closed (often by another thread, or a finally block that "
                    "ran first) and then used. The kernel no longer knows the number, so every "
                    "call returns EBADF; Java checks its own closed flag and throws before "
                    "calling the kernel.",
           .fix_code = "One owner per socket (RAII); to wake up a thread blocked in read, call "
                       "shutdown(SHUT_RDWR), not close(), then close after it returned.",
           .kernel = {}},
          &Run};
}

}  // namespace socklab::repro

#include <sys/socket.h>

#include "absl/strings/str_cat.h"
#include "client/repro/scenarios/scenarios.h"
#include "client/repro/sock_util.h"

namespace socklab::repro {
namespace {

void Run(Recorder& rec) {
  Pair p = ConnectedPair(rec);
  if (rec.stopped()) {
    return;
  }
  int stale = p.client.get();
  rec.Step(absl::StrCat("the client closes fd ", stale, " and later uses the same number again"));
  CloseFd(rec, "client", p.client);
  char buf[16];
  CallResult r = rec.Call(absl::StrCat("client: recv(fd ", stale, ", 16)"),
                          [&] { return recv(stale, buf, sizeof(buf), 0); });
  rec.CheckErrno("read on a closed fd", Phase::kRead, EBADF, r);
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
           .java = "java.net.SocketException: Socket closed (thrown by Java itself, before any "
                   "syscall)",
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

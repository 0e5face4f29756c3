#include <netinet/tcp.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "client/repro/scenarios/scenarios.h"
#include "client/repro/sock_util.h"
#include "core/net/netns.h"

namespace socklab::repro {
namespace {

void Run(Recorder& rec) {
  Pair p = ConnectedPair(rec);
  if (rec.stopped()) {
    return;
  }
  rec.Step(
      "the server closes normally (FIN) and is gone; the client does not notice, it does "
      "not read");
  CloseFd(rec, "server", p.server);
  if (!WaitForTcpState(p.client.get(), TCP_CLOSE_WAIT, absl::Seconds(5))) {
    return rec.Fail("the client never reached CLOSE_WAIT");
  }
  rec.States("after the server's close", {{"client", p.client.get()}}, {LocalPort(p.client.get())});
  CallResult w1 = SendBytes(rec, "client", p.client.get(), 100);
  rec.CheckOk("first write after the peer's FIN (the kernel accepts it)", Phase::kWrite, w1);
  rec.Step("the server's socket is closed, so the 100 bytes are answered with RST");
  if (!WaitForTcpState(p.client.get(), TCP_CLOSE, absl::Seconds(5))) {
    return rec.Fail("the RST never arrived");
  }
  rec.States("after the RST", {{"client", p.client.get()}});
  CallResult w2 = SendBytes(rec, "client", p.client.get(), 100);
  rec.CheckErrno("write after the peer's RST", Phase::kWrite, EPIPE, w2, w1.end_ns);

  // What the default SIGPIPE disposition does to the same write: a child that restores
  // SIG_DFL and sends without MSG_NOSIGNAL is killed by the signal before send() returns.
  rec.Step("in a forked child with SIGPIPE at its default: send(fd, 100 bytes, flags 0)");
  fflush(nullptr);
  pid_t pid = fork();
  if (pid == 0) {
    signal(SIGPIPE, SIG_DFL);
    char data[100] = {};
    ssize_t n = send(p.client.get(), data, sizeof(data), 0);
    _exit(n < 0 ? 1 : 0);
  }
  if (pid < 0) {
    return rec.Fail("fork failed");
  }
  ChildProcess child(pid);
  ChildProcess::Exit exit = child.Wait(absl::Seconds(10));
  std::string observed = exit.signal == SIGPIPE ? "killed by SIGPIPE"
                         : exit.signal != 0     ? absl::StrCat("killed by signal ", exit.signal)
                                                : absl::StrCat("exit ", exit.exit_code);
  rec.Step(absl::StrCat("the child: ", observed));
  rec.CheckText("send without MSG_NOSIGNAL, SIGPIPE default", Phase::kWrite, "killed by SIGPIPE",
                observed, 0);
}

}  // namespace

Scenario BrokenPipeScenario() {
  return {{.name = "broken-pipe",
           .title = "write after the peer closed and answered with RST",
           .expected = "EPIPE on write",
           .wire = "> SYN, < SYN/ACK, > ACK, < FIN/ACK, > PSH/ACK, < RST",
           .java = "JDK 13+ (NioSocketImpl): java.net.SocketException: Broken pipe; "
                   "JDK 12 and older: java.net.SocketException: Broken pipe (Write failed); "
                   "older JDKs through SSL sockets: "
                   "java.net.SocketException: Connection closed by remote host; "
                   "unlike a C program, a JVM is never killed by SIGPIPE (HotSpot handles the "
                   "signal itself): the write throws",
           .cause = "The peer closed; our first write was still accepted (the kernel cannot know "
                    "yet), the peer's kernel answered it with RST, and every write after that "
                    "fails with EPIPE. Without MSG_NOSIGNAL or SIG_IGN, the same write kills the "
                    "process with SIGPIPE (exit status 141 in a shell).",
           .fix_code = "Ignore SIGPIPE (signal(SIGPIPE, SIG_IGN)) or send with MSG_NOSIGNAL; read "
                       "the socket too, so EOF is seen before writing; stop writing after the "
                       "first error. A pooled connection may be dead: validate or retry once.",
           .kernel = {},
           .see_also = {"reset", "reset-unread"}},
          &Run};
}

}  // namespace socklab::repro

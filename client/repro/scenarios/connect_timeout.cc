#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "client/repro/scenarios/scenarios.h"
#include "client/repro/sock_util.h"
#include "core/base/clock.h"

namespace socklab::repro {
namespace {

void Run(Recorder& rec) {
  // backlog 0: the accept queue holds one connection; nobody ever calls accept().
  UniqueFd listener = OpenListener(rec, "server", 0);
  if (rec.stopped()) {
    return;
  }
  uint16_t port = LocalPort(listener.get());
  rec.Step("fill the accept queue: the server never calls accept()");
  std::vector<UniqueFd> fillers;
  std::vector<Watched> watched;
  for (int i = 0; i < 2; ++i) {
    const std::string who = absl::StrCat("filler ", i + 1);
    fillers.push_back(OpenTcpSocket(rec, who, /*nonblocking=*/true));
    if (rec.stopped()) {
      return;
    }
    ConnectTo(rec, fillers.back().get(), INADDR_LOOPBACK, port, who);
    watched.push_back({who, fillers.back().get()});
  }
  // Let the handshakes that can complete complete.
  WaitReadable(fillers.front().get(), absl::Milliseconds(200), POLLOUT);
  watched.push_back({"server", listener.get()});
  rec.States(
      "the accept queue is full: filler 1 is established and waits to be accepted, filler 2's "
      "SYN was dropped",
      watched, {port});

  rec.Step("case 1: the application's own timeout: nonblocking connect + poll(POLLOUT, 300 ms)");
  UniqueFd app = OpenTcpSocket(rec, "client", /*nonblocking=*/true);
  if (rec.stopped()) {
    return;
  }
  CallResult c1 = ConnectTo(rec, app.get(), INADDR_LOOPBACK, port, "client");
  if (!c1.failed() || c1.err != EINPROGRESS) {
    rec.CheckErrno("nonblocking connect", Phase::kConnect, EINPROGRESS, c1);
    return;
  }
  pollfd pfd{app.get(), POLLOUT, 0};
  CallResult p1 = rec.Call("client: poll(POLLOUT, 300 ms)", [&] { return poll(&pfd, 1, 300); });
  watched.push_back({"client", app.get()});
  rec.States("while the client's SYN is being dropped", watched, {port});
  watched.pop_back();
  rec.CheckText("poll for the connect", Phase::kConnect, "deadline",
                p1.ret == 0 ? "deadline" : absl::StrCat("poll returned ", p1.ret),
                static_cast<double>(p1.end_ns - c1.start_ns) / 1e9);
  app.Reset();

  rec.Step(
      "case 2: the kernel's timeout: a blocking connect with TCP_SYNCNT 1 (one SYN "
      "retransmission: 1 s + 2 s)");
  UniqueFd kernel = OpenTcpSocket(rec, "client");
  if (rec.stopped()) {
    return;
  }
  SetSockOptInt(rec, kernel.get(), IPPROTO_TCP, TCP_SYNCNT, 1, "TCP_SYNCNT");
  CallResult c2 = ConnectTo(rec, kernel.get(), INADDR_LOOPBACK, port, "client");
  rec.CheckErrno("connect", Phase::kConnect, ETIMEDOUT, c2);
  watched.push_back({"client", kernel.get()});
  rec.States("after the kernel gave up: the client's socket is back in CLOSE", watched, {port});
}

}  // namespace

Scenario ConnectTimeoutScenario() {
  return {{.name = "connect-timeout",
           .title = "the server's accept queue is full and its kernel drops our SYNs",
           .expected = "ETIMEDOUT on connect (and our own deadline first)",
           .java = "java.net.ConnectException: Connection timed out (kernel); "
                   "java.net.SocketTimeoutException: Connect timed out (connect(addr, timeout))",
           .cause = "No SYN-ACK came back: here the listener's accept queue is full (the "
                    "application does not call accept() fast enough), so the kernel drops "
                    "incoming SYNs (TcpExt.ListenOverflows/ListenDrops). The client retransmits "
                    "the SYN with exponential backoff (1, 2, 4 ... s) and gives up after "
                    "tcp_syn_retries. The same happens when a firewall drops or the host is gone.",
           .fix_code = "Always use a connect timeout of your own (nonblocking connect + poll, "
                       "Java connect(addr, ms)); on the server, accept faster and size the "
                       "backlog (listen(fd, 4096)); TCP_SYNCNT bounds one socket's retries.",
           .kernel = {{"net.ipv4.tcp_syn_retries",
                       "SYN retransmissions before ETIMEDOUT (6 = about 127 s): "
                       "sysctl -w net.ipv4.tcp_syn_retries=3"},
                      {"net.core.somaxconn",
                       "the cap on every listen() backlog: "
                       "sysctl -w net.core.somaxconn=4096"},
                      {"net.ipv4.tcp_max_syn_backlog",
                       "half-open connections per listener: "
                       "sysctl -w net.ipv4.tcp_max_syn_backlog=8192"}},
           .timeout = absl::Seconds(30)},
          &Run};
}

}  // namespace socklab::repro

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>

#include <cmath>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "client/repro/scenarios/scenarios.h"
#include "client/repro/sock_util.h"
#include "core/base/clock.h"
#include "core/base/units.h"
#include "core/limits/derivations.h"
#include "core/limits/kernel_limits.h"

namespace socklab::repro {
namespace {

// The accept queue holds backlog + 1 connections (sk_acceptq_is_full compares with >).
constexpr int kBacklog = 1;
constexpr int kQueued = kBacklog + 1;
// The kernel's own timeout, made short for the run: TCP_SYNCNT overrides tcp_syn_retries.
constexpr int kSynCount = 1;

void Run(Recorder& rec) {
  // Nobody ever calls accept(), so the queue stays full.
  UniqueFd listener = OpenListener(rec, "server", kBacklog);
  if (rec.stopped()) {
    return;
  }
  rec.SetListenBacklog(kBacklog);
  uint16_t port = LocalPort(listener.get());
  rec.Step(absl::StrCat("fill the accept queue (", kQueued, " connections for backlog ", kBacklog,
                        "): the server never calls accept()"));
  std::vector<UniqueFd> fillers;
  std::vector<Watched> watched;
  for (int i = 0; i < kQueued + 1; ++i) {
    const std::string who = absl::StrCat("filler ", i + 1);
    fillers.push_back(OpenTcpSocket(rec, who, /*nonblocking=*/true));
    if (rec.stopped()) {
      return;
    }
    ConnectTo(rec, fillers.back().get(), INADDR_LOOPBACK, port, who);
    watched.push_back({who, fillers.back().get()});
  }
  // Let the handshakes that can complete complete.
  for (int i = 0; i < kQueued; ++i) {
    WaitReadable(fillers[i].get(), absl::Milliseconds(200), POLLOUT);
  }
  watched.push_back({"server", listener.get()});
  rec.States(
      "the accept queue is full: fillers 1 and 2 are established and wait to be accepted, "
      "filler 3's SYN was dropped",
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

  // The same formula tune and the limit line use, for this socket's TCP_SYNCNT.
  const KernelLimits limits = ReadKernelLimits();
  const SynSchedule syn =
      SynSentSchedule(kSynCount, SynLinearTimeouts(limits), RtoMaxSeconds(limits));
  rec.Step(absl::StrCat("case 2: the kernel's timeout: a blocking connect with TCP_SYNCNT ",
                        kSynCount, " (SYNs at ", SynSendTimesText(syn), ", ETIMEDOUT at ",
                        FormatSeconds(syn.give_up_seconds), " by the formula)"));
  UniqueFd kernel = OpenTcpSocket(rec, "client");
  if (rec.stopped()) {
    return;
  }
  SetSockOptInt(rec, kernel.get(), IPPROTO_TCP, TCP_SYNCNT, kSynCount, "TCP_SYNCNT");
  CallResult c2 = ConnectTo(rec, kernel.get(), INADDR_LOOPBACK, port, "client");
  rec.CheckErrno("connect", Phase::kConnect, ETIMEDOUT, c2);
  const double measured = static_cast<double>(c2.end_ns - c2.start_ns) / 1e9;
  const SynSchedule host = SynSentSchedule(limits);
  rec.Note(absl::StrFormat(
      "TCP_SYNCNT %d: the formula gives %s (tcp_syn_linear_timeouts %d: SYNs at %s), measured "
      "%.3f s, %.0f ms later. The kernel is never early: each SYN's timer is armed when the "
      "previous one fires and fires up to 1/8 of its wait late (the timer wheel's granularity), "
      "up to %.0f ms here. With tcp_syn_retries %s: %s by the formula, up to %s",
      kSynCount, FormatSeconds(syn.give_up_seconds), SynLinearTimeouts(limits),
      SynSendTimesText(syn), measured, (measured - syn.give_up_seconds) * 1000,
      (syn.latest_give_up_seconds - syn.give_up_seconds) * 1000,
      limits.tcp_syn_retries == KernelLimits::kUnknown ? "?" : absl::StrCat(limits.tcp_syn_retries),
      FormatSeconds(host.give_up_seconds),
      FormatSeconds(std::round(host.latest_give_up_seconds * 10) / 10)));
  watched.push_back({"client", kernel.get()});
  rec.States("after the kernel gave up: the client's socket is back in CLOSE", watched, {port});
}

}  // namespace

Scenario ConnectTimeoutScenario() {
  return {{.name = "connect-timeout",
           .title = "the server's accept queue is full and its kernel drops our SYNs",
           .expected = "ETIMEDOUT on connect (and our own deadline first)",
           .wire = "> SYN, > SYN, nothing back",
           .java = "JDK 13+ (NioSocketImpl), connect(addr, timeout): "
                   "java.net.SocketTimeoutException: Connect timed out; "
                   "JDK 13+ (NioSocketImpl), connect(addr), the kernel's timeout: "
                   "java.net.ConnectException: Connection timed out; "
                   "JDK 12 and older: java.net.SocketTimeoutException: connect timed out; "
                   "JDK 12 and older: java.net.ConnectException: Connection timed out "
                   "(Connection timed out); "
                   "the JVM's connect timeout is its own: a nonblocking connect() and poll(), "
                   "then close(), not a socket option",
           .cause = "No SYN-ACK came back: here the listener's accept queue is full (the "
                    "application does not call accept() fast enough), so the kernel drops "
                    "incoming SYNs (TcpExt.ListenOverflows/ListenDrops). The client retransmits "
                    "the SYN (every 1 s for the first tcp_syn_linear_timeouts times on Linux "
                    "6.5+, then doubling the wait) and gives up when tcp_syn_retries' backoff "
                    "(1 + 2 + 4 ... s) has run out. The same happens when a firewall drops the "
                    "SYNs or the host is gone.",
           .fix_code = "Always use a connect timeout of your own (nonblocking connect + poll, "
                       "Java connect(addr, ms)); on the server, accept faster and size the "
                       "backlog (listen(fd, 4096), capped by somaxconn); TCP_SYNCNT bounds one "
                       "socket's retries.",
           .kernel = {{"net.ipv4.tcp_syn_retries",
                       "the backoff connect() waits out before ETIMEDOUT (the limit line gives "
                       "the time here); fail faster: sysctl -w net.ipv4.tcp_syn_retries=3"},
                      {"net.ipv4.tcp_syn_linear_timeouts",
                       "SYN retransmissions at the initial 1 s before the backoff doubles (6.5+)"},
                      {"net.core.somaxconn",
                       "the cap on every listen() backlog; a server that asks for more gets "
                       "this: sysctl -w net.core.somaxconn=65535"},
                      {"net.ipv4.tcp_max_syn_backlog",
                       "only with tcp_syncookies=0: SYNs from unproven peers are dropped once the "
                       "SYN queue is 3/4 of it: sysctl -w net.ipv4.tcp_max_syn_backlog=8192"}},
           .see_also = {"read-timeout", "peer-vanished", "refused"},
           .timeout = absl::Seconds(30),
           .events = {"retransmission (state SYN_SENT)"}},
          &Run};
}

}  // namespace socklab::repro

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "client/repro/scenarios/scenarios.h"
#include "client/repro/sock_util.h"
#include "core/base/clock.h"
#include "core/base/errno_name.h"

namespace socklab::repro {
namespace {

constexpr uint16_t kPortA = 6001;  // fixed ports are safe inside the private namespace
constexpr uint16_t kPortB = 6002;

UniqueFd BoundSocket(Recorder& rec, const std::string& who, uint16_t port) {
  UniqueFd fd = OpenTcpSocket(rec, who, /*nonblocking=*/true);
  if (!fd.valid()) {
    return fd;
  }
  if (BindLoopback(rec, fd.get(), port, who).failed()) {
    rec.Fail("bind failed");
    return UniqueFd();
  }
  return fd;
}

void Run(Recorder& rec) {
  UniqueFd a = BoundSocket(rec, "A", kPortA);
  UniqueFd b = BoundSocket(rec, "B", kPortB);
  if (rec.stopped()) {
    return;
  }
  rec.Step(
      "on loopback a packet is delivered inside the call that sends it: A's SYN would reach B "
      "before B calls connect(), and B (bound, not listening) would answer RST. Both SYNs must "
      "be in flight at once, so lo gets a token-bucket qdisc (private namespace): packets wait "
      "in its FIFO queue, about 260 ms per SYN at 2 kbit/s, and leave in the order they came");
  if (!HoldLoopbackPackets(rec)) {
    return;
  }
  CallResult ca = ConnectTo(rec, a.get(), INADDR_LOOPBACK, kPortB, "A");
  CallResult cb = ConnectTo(rec, b.get(), INADDR_LOOPBACK, kPortA, "B");
  const std::vector<Watched> both = {{"A", a.get()}, {"B", b.get()}};
  const std::vector<uint16_t> ports = {kPortA, kPortB};
  rec.States("both SYNs wait in lo's queue, A's first", both, ports);

  StatePath path_a, path_b;
  const int64_t deadline = MonotonicNanos() + 8'000'000'000;
  while (MonotonicNanos() < deadline) {
    int sa = TcpStateOf(a.get());
    int sb = TcpStateOf(b.get());
    bool a_moved = path_a.Add(sa);
    bool b_moved = path_b.Add(sb);
    if (sa == TCP_ESTABLISHED && sb == TCP_ESTABLISHED) {
      break;
    }
    if ((a_moved && sa == TCP_SYN_RECV) || (b_moved && sb == TCP_SYN_RECV)) {
      std::string who = a_moved && sa == TCP_SYN_RECV ? "A" : "B";
      rec.States(absl::StrCat(who,
                              " received the other's SYN while in SYN_SENT: it answered "
                              "SYN-ACK (queued) and moved to SYN_RECV"),
                 both, ports);
    }
    usleep(200);
  }
  rec.States("after the handshake", both, ports);
  rec.Step(absl::StrCat("A visited: ", path_a.text));
  rec.Step(absl::StrCat("B visited: ", path_b.text));
  const double since_connect = static_cast<double>(MonotonicNanos() - ca.start_ns) / 1e9;
  rec.CheckText("A: its SYN crossed B's", Phase::kConnect, "SYN_SENT -> SYN_RECV -> ESTABLISHED",
                path_a.text, since_connect);
  rec.CheckText("B: its SYN crossed A's", Phase::kConnect, "SYN_SENT -> SYN_RECV -> ESTABLISHED",
                path_b.text, since_connect);
  std::string one =
      LocalText(b.get()) == PeerText(a.get()) && LocalText(a.get()) == PeerText(b.get())
          ? absl::StrCat(LocalText(a.get()), " <-> ", PeerText(a.get()))
          : absl::StrCat("A ", LocalText(a.get()), " -> ", PeerText(a.get()), ", B ",
                         LocalText(b.get()), " -> ", PeerText(b.get()));
  rec.CheckText("one connection between A and B", Phase::kConnect,
                "127.0.0.1:6001 <-> 127.0.0.1:6002", one, since_connect);
  rec.Note(absl::StrCat(
      "connect() results: A ", ca.failed() ? ErrnoName(ca.err) : "0", ", B ",
      cb.failed() ? ErrnoName(cb.err) : "0",
      "; one connection, no listener, no accept(). Each side received the other's SYN while "
      "in SYN_SENT, so both passed SYN_RECV, as in RFC 793 figure 8; each SYN-ACK then "
      "completed the other side's handshake"));
}

}  // namespace

Scenario SimultaneousOpenScenario() {
  return {{.name = "simultaneous-open",
           .title = "two sockets connect to each other: one connection, no listener",
           .expected = "SYN_SENT -> SYN_RECV -> ESTABLISHED on both sides",
           .wire = "> SYN, < SYN, < SYN/ACK, > SYN/ACK",
           .java = "(no exception; a surprise when a client's ephemeral port equals the port it "
                   "connects to on the same host: it connects to itself)",
           .cause = "TCP allows two active opens to meet: a socket in SYN_SENT that receives a "
                    "SYN answers SYN-ACK and moves to SYN_RECV, then ESTABLISHED when the other "
                    "side's SYN-ACK arrives. This is also how a client connecting to a local port "
                    "inside the ephemeral range can end up connected to itself.",
           .fix_code = "Keep server ports outside net.ipv4.ip_local_port_range (or in "
                       "ip_local_reserved_ports); nothing else to fix.",
           .kernel = {{"net.ipv4.ip_local_port_range",
                       "keep every listening port of this host outside it"},
                      {"net.ipv4.ip_local_reserved_ports",
                       "or take a server's port out of the ephemeral range without narrowing it: "
                       "sysctl -w net.ipv4.ip_local_reserved_ports=7007"}},
           .see_also = {"simultaneous-close"},
           .needs_netns = true},
          &Run};
}

}  // namespace socklab::repro

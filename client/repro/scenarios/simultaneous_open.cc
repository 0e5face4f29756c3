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
constexpr uint16_t kPortDrain = 6003;  // UDP, to empty the token bucket

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

// Appends `state` to a "SYN_SENT -> ..." sequence when it differs from the last one; true when
// it did.
bool Track(std::string& seq, std::string& last, int state) {
  std::string name = TcpStateName(state);
  if (name == last) {
    return false;
  }
  seq += seq.empty() ? name : absl::StrCat(" -> ", name);
  last = name;
  return true;
}

// Sends empty datagrams to ourselves until one does not arrive at once: the bucket's tokens are
// used up and that datagram waits in the qdisc's queue, so the next packet (A's SYN) waits too.
// Loopback delivers a packet that passes the qdisc before sendto returns, so "not there yet"
// means "held". Returns how many were sent, 0 when none was held.
int EmptyTheTokenBucket(Recorder& rec) {
  UniqueFd rx(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  UniqueFd tx(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(kPortDrain);
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (!rx.valid() || !tx.valid() ||
      bind(rx.get(), reinterpret_cast<const sockaddr*>(&to), sizeof(to)) != 0) {
    rec.Fail(absl::StrCat("UDP socket for the token bucket: ", ErrnoName(errno)));
    return 0;
  }
  for (int sent = 1; sent <= 64; ++sent) {
    if (sendto(tx.get(), "", 0, 0, reinterpret_cast<const sockaddr*>(&to), sizeof(to)) != 0) {
      rec.Fail(absl::StrCat("sendto for the token bucket: ", ErrnoName(errno)));
      return 0;
    }
    char byte;
    if (recv(rx.get(), &byte, sizeof(byte), 0) < 0 && errno == EAGAIN) {
      return sent;
    }
  }
  rec.Fail("the tbf qdisc let 64 datagrams through at once: it holds nothing");
  return 0;
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
      "in its FIFO queue, about 300 ms per SYN at 2 kbit/s, and leave in the order they came");
  if (!RunNamespaceTool(rec, {"tc", "qdisc", "add", "dev", "lo", "root", "tbf", "rate", "2kbit",
                              "burst", "100", "limit", "100000"})) {
    return;
  }
  int drained = EmptyTheTokenBucket(rec);
  if (drained == 0) {
    return;
  }
  rec.Step(absl::StrCat("sent ", drained,
                        " empty UDP datagrams to 127.0.0.1:6003: the last one waits in the "
                        "queue, the bucket is empty"));
  CallResult ca = ConnectTo(rec, a.get(), INADDR_LOOPBACK, kPortB, "A");
  CallResult cb = ConnectTo(rec, b.get(), INADDR_LOOPBACK, kPortA, "B");
  const std::vector<Watched> both = {{"A", a.get()}, {"B", b.get()}};
  const std::vector<uint16_t> ports = {kPortA, kPortB};
  rec.States("both SYNs wait in lo's queue, A's first", both, ports);

  std::string seq_a, seq_b, last_a, last_b;
  const int64_t deadline = MonotonicNanos() + 8'000'000'000;
  while (MonotonicNanos() < deadline) {
    int sa = TcpStateOf(a.get());
    int sb = TcpStateOf(b.get());
    bool a_moved = Track(seq_a, last_a, sa);
    bool b_moved = Track(seq_b, last_b, sb);
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
  rec.Step(absl::StrCat("A visited: ", seq_a));
  rec.Step(absl::StrCat("B visited: ", seq_b));
  const double since_connect = static_cast<double>(MonotonicNanos() - ca.start_ns) / 1e9;
  rec.CheckText("A: its SYN crossed B's", Phase::kConnect, "SYN_SENT -> SYN_RECV -> ESTABLISHED",
                seq_a, since_connect);
  rec.CheckText("B: its SYN crossed A's", Phase::kConnect, "SYN_SENT -> SYN_RECV -> ESTABLISHED",
                seq_b, since_connect);
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
           .java = "(no exception; a surprise when a client's ephemeral port equals the port it "
                   "connects to on the same host: it connects to itself)",
           .cause = "TCP allows two active opens to meet: a socket in SYN_SENT that receives a "
                    "SYN answers SYN-ACK and moves to SYN_RECV, then ESTABLISHED when the other "
                    "side's SYN-ACK arrives. This is also how a client connecting to a local port "
                    "inside the ephemeral range can end up connected to itself.",
           .fix_code = "Keep server ports outside net.ipv4.ip_local_port_range; nothing else to "
                       "fix.",
           .kernel = {{"net.ipv4.ip_local_port_range",
                       "keep listening ports outside it (servers below 32768 with "
                       "sysctl -w net.ipv4.ip_local_port_range=\"32768 60999\")"},
                      {"net.ipv4.ip_local_reserved_ports",
                       "or take a server's port out of the ephemeral range: "
                       "sysctl -w net.ipv4.ip_local_reserved_ports=7007"}},
           .needs_netns = true},
          &Run};
}

}  // namespace socklab::repro

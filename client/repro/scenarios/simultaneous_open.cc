#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>

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
  CallResult s = NewTcpSocket(rec, who, /*nonblocking=*/true);
  if (s.failed()) {
    rec.Fail("socket() failed");
    return UniqueFd();
  }
  UniqueFd fd(static_cast<int>(s.ret));
  if (BindLoopback(rec, fd.get(), port, who).failed()) {
    rec.Fail("bind failed");
    return UniqueFd();
  }
  return fd;
}

// Appends `state` to a "SYN_SENT -> ..." sequence when it differs from the last one.
void Track(std::string& seq, std::string& last, int state) {
  std::string name = TcpStateName(state);
  if (name != last) {
    seq += seq.empty() ? name : absl::StrCat(" -> ", name);
    last = name;
  }
}

void Run(Recorder& rec) {
  UniqueFd a = BoundSocket(rec, "A", kPortA);
  UniqueFd b = BoundSocket(rec, "B", kPortB);
  if (rec.stopped()) {
    return;
  }
  rec.Step(
      "on loopback A's SYN would reach B before B calls connect(), and B's kernel would "
      "answer RST (B is bound, not listening); an nftables rule drops the first SYNs so "
      "both sockets are in SYN_SENT before either SYN arrives");
  if (!RunNamespaceTool(rec, {"nft", "add", "table", "inet", "socklab"}) ||
      !RunNamespaceTool(rec, {"nft", "add", "chain", "inet", "socklab", "output",
                              "{ type filter hook output priority 0; policy accept; }"}) ||
      !RunNamespaceTool(rec, {"nft", "add", "rule", "inet", "socklab", "output", "tcp", "flags",
                              "&", "(syn|ack)", "==", "syn", "drop"})) {
    return;
  }
  CallResult ca = ConnectTo(rec, a.get(), INADDR_LOOPBACK, kPortB, "A");
  CallResult cb = ConnectTo(rec, b.get(), INADDR_LOOPBACK, kPortA, "B");
  rec.States("both connects sent a SYN (dropped)", {{"A", a.get()}, {"B", b.get()}});
  rec.Step(
      "in one nft transaction, the SYN rule is replaced by one that drops SYN-ACKs, so the "
      "side that receives a SYN while in SYN_SENT stays visibly in SYN_RECV");
  if (!RunNamespaceTool(rec, {"nft",
                              "flush chain inet socklab output; add rule inet socklab "
                              "output tcp flags & (syn|ack) == syn|ack drop"})) {
    return;
  }
  rec.Step("the SYN retransmissions (after the 1 s initial RTO) go through");
  std::string seq_a, seq_b, last_a, last_b;
  Track(seq_a, last_a, TcpStateOf(a.get()));
  Track(seq_b, last_b, TcpStateOf(b.get()));
  const int64_t deadline = MonotonicNanos() + 8'000'000'000;
  bool rule_gone = false;
  while (MonotonicNanos() < deadline) {
    int sa = TcpStateOf(a.get());
    int sb = TcpStateOf(b.get());
    Track(seq_a, last_a, sa);
    Track(seq_b, last_b, sb);
    if (sa == TCP_ESTABLISHED && sb == TCP_ESTABLISHED) {
      break;
    }
    if (!rule_gone && (sa == TCP_SYN_RECV || sb == TCP_SYN_RECV)) {
      rec.States("a SYN met a socket in SYN_SENT", {{"A", a.get()}, {"B", b.get()}});
      if (!RunNamespaceTool(rec, {"nft", "delete", "table", "inet", "socklab"})) {
        return;
      }
      rule_gone = true;
    }
    usleep(200);
  }
  rec.States("after the handshake", {{"A", a.get()}, {"B", b.get()}});
  rec.Step(absl::StrCat("A visited: ", seq_a));
  rec.Step(absl::StrCat("B visited: ", seq_b));
  bool a_recv = seq_a.find("SYN_RECV") != std::string::npos;
  bool b_recv = seq_b.find("SYN_RECV") != std::string::npos;
  rec.CheckText("a side that got a SYN while in SYN_SENT", Phase::kConnect,
                "SYN_SENT -> SYN_RECV -> ESTABLISHED", a_recv ? seq_a : (b_recv ? seq_b : seq_a),
                rec.SecondsSinceStart());
  rec.CheckText(
      "both ends", Phase::kConnect, "ESTABLISHED/ESTABLISHED",
      absl::StrCat(TcpStateName(TcpStateOf(a.get())), "/", TcpStateName(TcpStateOf(b.get()))),
      rec.SecondsSinceStart());
  rec.Note(absl::StrCat(
      "connect() results: A ", ca.failed() ? ErrnoName(ca.err) : "0", ", B ",
      cb.failed() ? ErrnoName(cb.err) : "0", "; one connection, no listener, no accept(). ",
      a_recv && b_recv
          ? "Both SYN retransmissions left in the same timer run, so both SYNs crossed and both "
            "sides passed SYN_RECV, as in RFC 793 figure 8"
          : "Only the side whose SYN arrived second passed SYN_RECV in this run: the other "
            "received its SYN-ACK while still in SYN_SENT; both pass SYN_RECV when the SYNs "
            "cross"));
}

}  // namespace

Scenario SimultaneousOpenScenario() {
  return {{.name = "simultaneous-open",
           .title = "two sockets connect to each other: one connection, no listener",
           .expected = "SYN_SENT -> SYN_RECV -> ESTABLISHED",
           .java = "(no exception; a surprise when a client's ephemeral port equals the port it "
                   "connects to on the same host: it connects to itself)",
           .cause = "TCP allows two active opens to meet: a socket in SYN_SENT that receives a "
                    "SYN answers SYN-ACK and moves to SYN_RECV, then ESTABLISHED. This is also "
                    "how a client connecting to a local port inside the ephemeral range can end "
                    "up connected to itself.",
           .fix_code = "Keep server ports outside net.ipv4.ip_local_port_range; nothing else to "
                       "fix.",
           .kernel = {{"net.ipv4.ip_local_port_range", "keep listening ports outside it"}},
           .needs_netns = true},
          &Run};
}

}  // namespace socklab::repro

#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "client/repro/scenarios/scenarios.h"
#include "client/repro/sock_util.h"
#include "core/base/clock.h"

namespace socklab::repro {
namespace {

constexpr const char* kPath = "FIN_WAIT1 -> CLOSING -> TIME_WAIT";

// The state the sampler shows for the connection `local` -> `remote` in `snap`, "none" if absent.
std::string StateOfConnection(const StateSnapshot& snap, const std::string& local,
                              const std::string& remote) {
  for (const SocketState& s : snap.sockets) {
    if (s.local == local && s.remote == remote) {
      return s.state;
    }
  }
  return "none";
}

void Run(Recorder& rec) {
  Pair p = ConnectedPair(rec);
  if (rec.stopped()) {
    return;
  }
  const int a = p.client.get();
  const int b = p.server.get();
  const std::vector<Watched> both = {{"A (client)", a}, {"B (server)", b}};
  const std::string a_local = LocalText(a);
  const std::string b_local = LocalText(b);
  const std::vector<uint16_t> ports = {LocalPort(a)};
  rec.Step(
      "on loopback a FIN is delivered before shutdown() even returns, so two closes can never "
      "cross by chance: both FINs must be in flight at once, so lo gets a token-bucket qdisc "
      "(private namespace) and A's FIN waits in its queue while B sends its own");
  if (!HoldLoopbackPackets(rec)) {
    return;
  }
  CallResult sa = rec.Call(absl::StrCat("A: shutdown(fd ", a, ", SHUT_WR)"),
                           [&] { return shutdown(a, SHUT_WR); });
  rec.Call(absl::StrCat("B: shutdown(fd ", b, ", SHUT_WR)"), [&] { return shutdown(b, SHUT_WR); });
  rec.States("both FINs wait in lo's queue, A's first", both, ports);

  // Each fd shows FIN_WAIT1, then CLOSING when the other's FIN arrives before the ACK of its
  // own, then CLOSE once that ACK arrives: the kernel hands the connection to a TIME_WAIT
  // socket that no fd points at, which the sampler shows.
  StatePath path_a, path_b;
  const int64_t deadline = MonotonicNanos() + 10'000'000'000;
  while (MonotonicNanos() < deadline) {
    int state_a = TcpStateOf(a);
    int state_b = TcpStateOf(b);
    bool a_moved = path_a.Add(state_a);
    bool b_moved = path_b.Add(state_b);
    if ((a_moved && state_a == TCP_CLOSING) || (b_moved && state_b == TCP_CLOSING)) {
      rec.States(absl::StrCat(a_moved && state_a == TCP_CLOSING ? "A" : "B",
                              " received the other's FIN while its own was unacknowledged: "
                              "CLOSING"),
                 both, ports);
    }
    if (state_a == TCP_CLOSE && state_b == TCP_CLOSE) {
      break;
    }
    usleep(200);
  }
  const StateSnapshot& after = rec.States(
      "both FINs ACKed: each fd shows CLOSE, each side's connection lives on as TIME_WAIT", both,
      ports);
  rec.Step(absl::StrCat("A's fd visited: ", path_a.text));
  rec.Step(absl::StrCat("B's fd visited: ", path_b.text));
  // The fd's path up to CLOSING, then what the kernel lists for that side's 4-tuple.
  auto through = [](const StatePath& path, const std::string& listed) {
    return path.last == tcpstat::TcpStateName(tcpstat::TcpState::kClose)
               ? absl::StrCat(path.text.substr(0, path.text.rfind(" -> ")), " -> ", listed)
               : path.text;
  };
  const double since_close = static_cast<double>(MonotonicNanos() - sa.start_ns) / 1e9;
  rec.CheckText("A: its FIN crossed B's", Phase::kClose, kPath,
                through(path_a, StateOfConnection(after, a_local, b_local)), since_close);
  rec.CheckText("B: its FIN crossed A's", Phase::kClose, kPath,
                through(path_b, StateOfConnection(after, b_local, a_local)), since_close);
  rec.Note(
      "each side received the other's FIN while in FIN_WAIT1, so both passed CLOSING (RFC 793 "
      "figure 13) and both ended in TIME_WAIT: after a simultaneous close both 4-tuples wait "
      "60 s, not only the one of the side that closed first");
}

}  // namespace

Scenario SimultaneousCloseScenario() {
  return {{.name = "simultaneous-close",
           .title = "both sides close at once: CLOSING on both",
           .expected = "FIN_WAIT1 -> CLOSING -> TIME_WAIT on both sides",
           .wire = "> FIN/ACK, < FIN/ACK, < ACK, > ACK",
           .java = "(no exception)",
           .cause = "A side that receives the peer's FIN while its own FIN is still "
                    "unacknowledged goes FIN_WAIT1 -> CLOSING -> TIME_WAIT instead of "
                    "FIN_WAIT2. When both FINs cross, both sides do, and both end in TIME_WAIT. "
                    "Many CLOSING sockets that stay usually mean lost ACKs.",
           .fix_code = "Nothing to fix: it is a normal path of the TCP state diagram.",
           .kernel = {},
           .see_also = {"simultaneous-open"},
           .needs_netns = true},
          &Run};
}

}  // namespace socklab::repro

#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"
#include "client/repro/scenario.h"
#include "core/limits/limit_hints.h"
#include "core/net/error_class.h"
#include "core/tcpstat/tcp_state.h"

namespace socklab {
class KernelEventTrace;
class PacketCapture;
}  // namespace socklab

namespace socklab::repro {

// What one syscall did: its return value and the errno read right after it (never a canned
// value), with timestamps.
struct CallResult {
  long ret = 0;
  int err = 0;           // errno right after the call when ret < 0, else 0
  int64_t start_ns = 0;  // monotonic
  int64_t end_ns = 0;
  bool failed() const { return ret < 0; }
  double seconds() const { return static_cast<double>(end_ns - start_ns) / 1e9; }
};

// A socket of the scenario whose TCP state each snapshot shows.
struct Watched {
  std::string who;
  int fd = -1;  // not owned
};

// Collects one scenario run: steps, calls, checks, state snapshots. A scenario body gets one and
// fills it; the runner owns it. Thread affinity: the scenario's thread only.
class Recorder {
 public:
  explicit Recorder(std::string name);
  ~Recorder();
  Recorder(const Recorder&) = delete;
  Recorder& operator=(const Recorder&) = delete;

  // Captures the scenario's packets on lo (in this process's network namespace) from now until
  // Finish, where they become ScenarioResult::wire, checked against `pattern` (wire_pattern.h).
  // Only segments to or from the ports given to WatchPort are kept: sock_util's bind and connect
  // helpers give theirs. Without capture rights the scenario runs on and the wire view says why
  // it is missing. `pcap_path` (empty: none) is created now, while the process may still write
  // there, and filled at Finish.
  void StartCapture(std::string pattern, const std::string& pcap_path);
  // Also records the kernel's TCP events (state changes, resets with their reason,
  // retransmissions) on the watched ports from a private tracefs instance, into
  // ScenarioResult::wire.events. Only in a process of its own (the scenario's child): it may
  // mount tracefs in a private mount namespace. Without it the wire view says why.
  void TraceKernelEvents();
  // Keeps the segments and events to or from `port` from now on; a no-op without a capture.
  void WatchPort(uint16_t port);
  // The kernel events the run must show (ScenarioInfo::events), checked at Finish when the
  // events were recorded: an unmet one fails the run like a wrong errno.
  void ExpectKernelEvents(std::vector<std::string> events);
  // Explains each captured segment's header fields (sequence and acknowledgement numbers,
  // window, MSS and the other SYN options, flags) in WireSegmentLine::explanation.
  void ExplainSegments() { explain_segments_ = true; }

  // A step in words ("the server closes with SO_LINGER {1,0}").
  void Step(std::string text);
  // Runs `fn` (one syscall returning its raw result), reads errno right after it, and records
  // "<what> = <ret>" or "<what> = -1 ENAME (message)" with the time the call took.
  CallResult Call(std::string what, const std::function<long()>& fn);
  void Note(std::string text);

  // Checks. `since_ns` (monotonic) is where "time until it appeared" starts; 0 means the start
  // of the call itself.
  // The call failed with exactly `expected_errno`.
  void CheckErrno(std::string call, Phase phase, int expected_errno, const CallResult& result,
                  int64_t since_ns = 0);
  // The call succeeded (ret >= 0).
  void CheckOk(std::string call, Phase phase, const CallResult& result, int64_t since_ns = 0);
  // A read returned 0: the peer's FIN (Java's EOFException / read() == -1).
  void CheckEof(std::string call, const CallResult& result, int64_t since_ns = 0);
  // A socket was seen in TCP state `expected`; `observed` is the state the kernel showed
  // (nullopt: no such socket).
  void CheckState(std::string what, tcpstat::TcpState expected,
                  std::optional<tcpstat::TcpState> observed, double seconds);
  // A check of anything else, as text.
  void CheckText(std::string what, Phase phase, absl::string_view expected,
                 absl::string_view observed, double seconds);

  // A snapshot of the TCP states of `sockets` (TCP_INFO and queue sizes on each fd) plus the
  // scenario's own sockets on `ports` from the states sampler, including those without an fd
  // (TIME_WAIT, orphans, unaccepted connections). The ports only narrow the kernel's listing;
  // a sampled socket is the scenario's when this process holds it, or, without an fd, when its
  // 4-tuple (either way round) is a connection the scenario held (RememberConnection, or seen
  // on one of its fds in this or an earlier snapshot). Other programs' sockets on the same port
  // numbers are never shown. A sampled socket that is one of `sockets` (same inode) is not
  // listed twice: its timer and queues join the watched row. Returns the snapshot it added.
  const StateSnapshot& States(std::string label, const std::vector<Watched>& sockets,
                              const std::vector<uint16_t>& ports = {});
  // The connection of `fd` (its local and peer address) belongs to the scenario: after close()
  // its TIME_WAIT or orphan is shown in later snapshots. CloseFd calls it; a no-op for a socket
  // without a peer.
  void RememberConnection(int fd);

  // From now on, every errno a check observes is explained by the limit behind it (LimitHint),
  // with the kernel limits of this process and namespace at that moment, so a scenario that
  // narrowed a sysctl in its namespace is explained with those numbers, not the host's. Lines
  // start with `prefix` and end up in ScenarioResult::kernel_lines. EMFILE/ENFILE are explained
  // at Finish instead: with the fd table full, the /proc files the limits come from cannot be
  // opened. Off by default.
  void ExplainLimits(std::string prefix);
  // The backlog the scenario's listener asked for (> 0), so that a limit line names that
  // accept queue rather than somaxconn's.
  void SetListenBacklog(int64_t backlog) { hint_context_.requested_backlog = backlog; }
  // The server port the scenario's clients connect to, so that a recommended port range keeps
  // it out (the same range as the scenario's knob line and tune --plan).
  void SetDestinationPort(uint16_t port) { hint_context_.destination_port = port; }

  // The scenario could not run here / its setup broke: the body should return at once.
  void Skip(std::string reason);
  void Fail(std::string reason);
  bool stopped() const { return stopped_; }

  int64_t start_ns() const { return start_ns_; }
  double SecondsSinceStart() const;

  // Finishes the run: the outcome follows from the checks unless Skip/Fail was called.
  ScenarioResult Finish(std::vector<CounterDelta> counters, std::string counters_scope);

 private:
  void ExplainLimit(Phase phase, int err);
  void AddLimitLine(Phase phase, ErrorClass error_class);
  // Drains the capture and the kernel events into result_.wire: the segments and events with
  // their causes, and the check. Sets result_.seconds: the run ends where the wire view does.
  void FinishWire();
  // Waits until the capture has taken no new frame for a moment (bounded) and returns the time
  // then, where the wire view ends: the segments and the kernel events both stop there.
  int64_t SettleWire();
  // The capture's part of FinishWire: the segments up to `end_ns`, the pattern check, the pcap
  // file. Adds the (source, destination) of every segment to `endpoints`, written by `endpoint`.
  void FinishCapture(int64_t end_ns, std::set<std::pair<std::string, std::string>>& endpoints,
                     const std::function<std::string(const std::string&, uint16_t)>& endpoint);
  // The call during which monotonic time `at_ns` fell, as a cause ("" when none).
  std::string CauseAt(int64_t at_ns, bool retransmission) const;

  // A recorded call's time span: a segment the kernel sent within it was caused by it.
  struct CallSpan {
    int64_t start_ns = 0;
    int64_t end_ns = 0;
    std::string what;
  };

  ScenarioResult result_;
  int64_t start_ns_;
  bool stopped_ = false;
  bool explain_limits_ = false;
  bool explain_segments_ = false;
  std::string limit_prefix_;
  HintContext hint_context_{.loopback_destination = true};
  std::vector<std::pair<Phase, ErrorClass>> deferred_limits_;
  // (local, remote) of every connection the scenario held, as SocketAddress::ToString gives them.
  std::set<std::pair<std::string, std::string>> connections_;
  std::vector<CallSpan> calls_;
  std::unique_ptr<PacketCapture> capture_;
  std::unique_ptr<KernelEventTrace> kernel_events_;
  std::set<uint16_t> watched_ports_;  // for an event trace started after the first ports
  // CLOCK_REALTIME minus CLOCK_MONOTONIC when the capture started: maps the capture's wall-clock
  // timestamps onto the steps' monotonic clock.
  int64_t wall_minus_monotonic_ns_ = 0;
};

}  // namespace socklab::repro

#include "client/repro/recorder.h"

#include <errno.h>

#include <algorithm>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "client/repro/segment_explainer.h"
#include "client/repro/sock_util.h"
#include "client/repro/state_sampler.h"
#include "client/repro/wire_pattern.h"
#include "core/base/clock.h"
#include "core/base/errno_name.h"
#include "core/base/units.h"
#include "core/capture/conversation.h"
#include "core/capture/kernel_events.h"
#include "core/capture/packet_capture.h"
#include "core/limits/kernel_limits.h"
#include "core/limits/limit_hints.h"

namespace socklab::repro {
namespace {

double NanosToSeconds(int64_t ns) { return static_cast<double>(ns) / 1e9; }

// A segment the kernel sent this soon after a call began (and not by its retransmission timer)
// was caused by the call; later in a call that blocks, it may come from the kernel's timers and
// is shown as sent "during" the call.
constexpr int64_t kCausedWithinNs = 20'000'000;

// The end of a scenario's wire view: the last segments of its teardown (a FIN answered by an RST)
// may still wait in the softirq backlog, which a busy machine runs later in ksoftirqd. The view
// ends once the capture has taken nothing new for kQuietNs, or kSettleMaxNs after the run.
constexpr int64_t kQuietNs = 20'000'000;
constexpr int64_t kSettleMaxNs = 500'000'000;

int64_t RealtimeNanos() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

// The items of `expected` (ScenarioInfo::events) that `events` contradict.
std::vector<std::string> UnmetEvents(const std::vector<std::string>& expected,
                                     const std::vector<KernelEventLine>& events) {
  std::vector<std::string> unmet;
  for (const std::string& item : expected) {
    absl::string_view text = item;
    const bool forbidden = absl::ConsumePrefix(&text, "!");
    const bool seen = std::any_of(events.begin(), events.end(), [&](const KernelEventLine& e) {
      return absl::StrContains(e.text, text);
    });
    if (seen == forbidden) {
      unmet.push_back(item);
    }
  }
  return unmet;
}

std::string UnmetEventsText(const std::vector<std::string>& unmet) {
  std::vector<std::string> parts;
  for (const std::string& item : unmet) {
    absl::string_view text = item;
    parts.push_back(absl::ConsumePrefix(&text, "!") ? absl::StrCat("unexpected '", text, "'")
                                                    : absl::StrCat("no '", text, "'"));
  }
  return absl::StrJoin(parts, ", ");
}

}  // namespace

Recorder::Recorder(std::string name) : start_ns_(MonotonicNanos()) {
  result_.name = std::move(name);
}

Recorder::~Recorder() = default;

void Recorder::StartCapture(std::string pattern, const std::string& pcap_path) {
  result_.wire.expected = std::move(pattern);
  absl::StatusOr<std::unique_ptr<PacketCapture>> capture = PacketCapture::Open("lo");
  if (!capture.ok()) {
    result_.wire.missing = std::string(capture.status().message());
    return;
  }
  capture_ = *std::move(capture);
  wall_minus_monotonic_ns_ = RealtimeNanos() - MonotonicNanos();
  if (!pcap_path.empty()) {
    if (absl::Status created = capture_->CreateFile(pcap_path); created.ok()) {
      result_.wire.pcap_path = pcap_path;
    } else {
      Note(std::string(created.message()));
    }
  }
}

void Recorder::TraceKernelEvents() {
  absl::StatusOr<std::unique_ptr<KernelEventTrace>> trace = KernelEventTrace::Open();
  if (!trace.ok()) {
    result_.wire.events_missing = std::string(trace.status().message());
    return;
  }
  kernel_events_ = *std::move(trace);
  for (uint16_t port : watched_ports_) {
    kernel_events_->WatchPort(port).IgnoreError();
  }
}

void Recorder::WatchPort(uint16_t port) {
  watched_ports_.insert(port);
  if (capture_ != nullptr) {
    if (absl::Status watched = capture_->WatchPort(port); !watched.ok()) {
      Note(absl::StrCat("the capture cannot follow port ", port, ": ", watched.message()));
    }
  }
  if (kernel_events_ != nullptr) {
    if (absl::Status watched = kernel_events_->WatchPort(port); !watched.ok()) {
      Note(absl::StrCat("the kernel events cannot follow port ", port, ": ", watched.message()));
    }
  }
}

void Recorder::ExpectKernelEvents(std::vector<std::string> events) {
  result_.wire.events_expected = std::move(events);
}

std::string Recorder::CauseAt(int64_t at_ns, bool retransmission) const {
  // On loopback the kernel sends (and delivers) within the call that caused the segment.
  for (const CallSpan& call : calls_) {
    if (call.start_ns <= at_ns && at_ns <= call.end_ns) {
      return at_ns - call.start_ns <= kCausedWithinNs && !retransmission
                 ? call.what
                 : absl::StrCat("during ", call.what);
    }
  }
  return "";
}

void Recorder::FinishWire() {
  WireView& wire = result_.wire;
  // (source, destination) of every captured segment, "127.0.0.1:40000" / "[::1]:40000".
  std::set<std::pair<std::string, std::string>> endpoints;
  auto endpoint = [](const std::string& ip, uint16_t port) {
    return ip.find(':') == std::string::npos ? absl::StrCat(ip, ":", port)
                                             : absl::StrCat("[", ip, "]:", port);
  };
  const bool captured = capture_ != nullptr;
  // Segments and events are both cut at end_ns: an RST sent between draining the capture and
  // reading the trace would otherwise be an event without its segment.
  const int64_t end_ns = SettleWire();
  // The run ends where its timeline does: the teardown's last segments, which the settling waited
  // for, happen within the scenario's seconds.
  result_.seconds = NanosToSeconds(end_ns - start_ns_);
  if (captured) {
    FinishCapture(end_ns, endpoints, endpoint);
  }
  // The tracepoints are global: a socket in another namespace on the same port number shows
  // there too. With a capture, only events of the captured connections (or of a socket with no
  // peer yet: a listener, a connect before its port) are the scenario's.
  if (kernel_events_ != nullptr) {
    absl::StatusOr<std::vector<KernelEvent>> events = kernel_events_->Read();
    if (events.ok()) {
      for (const KernelEvent& e : *events) {
        if (e.monotonic_ns > end_ns) {
          continue;
        }
        const bool unconnected = e.sport == 0 || e.dport == 0;
        if (captured && wire.missing.empty() && !unconnected && !endpoints.count({e.src, e.dst}) &&
            !endpoints.count({e.dst, e.src})) {
          continue;
        }
        wire.events.push_back({NanosToSeconds(e.monotonic_ns - start_ns_), e.name, e.src, e.dst,
                               e.text,
                               CauseAt(e.monotonic_ns, e.name == "tcp_retransmit_skb" ||
                                                           e.name == "tcp_retransmit_synack")});
      }
    } else {
      wire.events_missing = std::string(events.status().message());
    }
    if (events.ok()) {
      wire.events_unmet = UnmetEvents(wire.events_expected, wire.events);
    }
    wire.trace_instance_left = !kernel_events_->Remove();
    kernel_events_.reset();
  }
}

int64_t Recorder::SettleWire() {
  if (capture_ == nullptr) {
    return MonotonicNanos();
  }
  const int64_t give_up_ns = MonotonicNanos() + kSettleMaxNs;
  size_t seen = capture_->frames().size();
  while (true) {
    absl::SleepFor(absl::Nanoseconds(kQuietNs));
    const int64_t now = MonotonicNanos();
    if (!capture_->Drain().ok() || capture_->frames().size() == seen || now >= give_up_ns) {
      return now;
    }
    seen = capture_->frames().size();
  }
}

void Recorder::FinishCapture(
    int64_t end_ns, std::set<std::pair<std::string, std::string>>& endpoints,
    const std::function<std::string(const std::string&, uint16_t)>& endpoint) {
  WireView& wire = result_.wire;
  if (absl::Status drained = capture_->Drain(); !drained.ok()) {
    wire.missing = std::string(drained.message());
    capture_.reset();
    return;
  }
  wire.dropped = capture_->dropped();
  for (const ConnectionSegment& cs :
       FollowConnections(DecodeFrames(capture_->link_type(), capture_->frames()))) {
    endpoints.insert(
        {endpoint(cs.tcp.src, cs.tcp.src_port), endpoint(cs.tcp.dst, cs.tcp.dst_port)});
    const int64_t at_ns = cs.tcp.wall_ns - wall_minus_monotonic_ns_;
    if (at_ns > end_ns) {
      continue;
    }
    WireSegmentLine line;
    line.at_seconds = NanosToSeconds(at_ns - start_ns_);
    line.connection = cs.connection;
    line.from_client = cs.from_client;
    line.flags = TcpFlagsText(cs.tcp.flags);
    line.seq = cs.rel_seq;
    line.ack = cs.rel_ack;
    line.window = cs.window;
    line.length = cs.tcp.payload;
    line.options = TcpOptionsText(cs.tcp);
    line.retransmission = cs.retransmission;
    line.cause = CauseAt(at_ns, cs.retransmission);
    line.ttl = cs.tcp.ttl;
    line.ip_id = cs.tcp.ip_id.has_value() ? *cs.tcp.ip_id : -1;
    wire.segments.push_back(std::move(line));
  }
  if (explain_segments_) {
    ExplainSegmentLines(wire.segments);
  }
  WireMatch match = MatchWirePattern(wire.expected, wire.segments);
  wire.ok = match.ok;
  wire.observed = std::move(match.observed);
  if (wire.dropped > 0) {
    Note(absl::StrCat("the capture lost ", wire.dropped, " frames (its ring was full)"));
  }
  if (!wire.pcap_path.empty()) {
    if (absl::Status written = capture_->WriteFile(); !written.ok()) {
      Note(std::string(written.message()));
      wire.pcap_path.clear();
    }
  }
  capture_.reset();
}

double Recorder::SecondsSinceStart() const { return NanosToSeconds(MonotonicNanos() - start_ns_); }

void Recorder::Step(std::string text) {
  result_.steps.push_back({SecondsSinceStart(), std::move(text)});
}

void Recorder::Note(std::string text) { result_.notes.push_back(std::move(text)); }

CallResult Recorder::Call(std::string what, const std::function<long()>& fn) {
  CallResult r;
  r.start_ns = MonotonicNanos();
  errno = 0;
  r.ret = fn();
  r.err = r.ret < 0 ? errno : 0;  // read before anything else can touch errno
  r.end_ns = MonotonicNanos();
  std::string text =
      r.ret < 0 ? absl::StrCat(what, " = -1 ", ErrnoName(r.err), " (", ErrnoMessage(r.err), ")")
                : absl::StrCat(what, " = ", r.ret);
  absl::StrAppend(&text, "  [", FormatElapsed(NanosToSeconds(r.end_ns - r.start_ns)), "]");
  result_.steps.push_back({NanosToSeconds(r.start_ns - start_ns_), std::move(text)});
  calls_.push_back({r.start_ns, r.end_ns, std::move(what)});
  return r;
}

void Recorder::CheckErrno(std::string call, Phase phase, int expected_errno,
                          const CallResult& result, int64_t since_ns) {
  Check check;
  check.call = std::move(call);
  check.phase = phase;
  check.expected = ErrnoName(expected_errno);
  if (result.failed()) {
    check.observed = ErrnoName(result.err);
    check.observed_errno = result.err;
    check.error_class = std::string(ClassKey(Classify(phase, result.err)));
  } else {
    check.observed = absl::StrCat("returned ", result.ret);
  }
  check.seconds = NanosToSeconds(result.end_ns - (since_ns != 0 ? since_ns : result.start_ns));
  check.ok = result.failed() && result.err == expected_errno;
  result_.checks.push_back(std::move(check));
  ExplainLimit(phase, result.err);
}

void Recorder::CheckOk(std::string call, Phase phase, const CallResult& result, int64_t since_ns) {
  Check check;
  check.call = std::move(call);
  check.phase = phase;
  check.expected = "OK";
  if (result.failed()) {
    check.observed = ErrnoName(result.err);
    check.observed_errno = result.err;
    check.error_class = std::string(ClassKey(Classify(phase, result.err)));
  } else {
    check.observed = "OK";
  }
  check.seconds = NanosToSeconds(result.end_ns - (since_ns != 0 ? since_ns : result.start_ns));
  check.ok = !result.failed();
  result_.checks.push_back(std::move(check));
  ExplainLimit(phase, result.err);
}

void Recorder::CheckEof(std::string call, const CallResult& result, int64_t since_ns) {
  Check check;
  check.call = std::move(call);
  check.phase = Phase::kRead;
  check.expected = "EOF";
  if (result.failed()) {
    check.observed = ErrnoName(result.err);
    check.observed_errno = result.err;
    check.error_class = std::string(ClassKey(Classify(Phase::kRead, result.err)));
  } else if (result.ret == 0) {
    check.observed = "EOF";
    check.error_class = std::string(ClassKey(ErrorClass::kEof));
  } else {
    check.observed = absl::StrCat("returned ", result.ret);
  }
  check.seconds = NanosToSeconds(result.end_ns - (since_ns != 0 ? since_ns : result.start_ns));
  check.ok = result.ret == 0;
  result_.checks.push_back(std::move(check));
  ExplainLimit(Phase::kRead, result.err);
}

void Recorder::CheckState(std::string what, tcpstat::TcpState expected,
                          std::optional<tcpstat::TcpState> observed, double seconds) {
  CheckText(std::move(what), Phase::kClose, tcpstat::TcpStateName(expected),
            observed.has_value() ? tcpstat::TcpStateName(*observed) : "none", seconds);
}

void Recorder::CheckText(std::string what, Phase phase, absl::string_view expected,
                         absl::string_view observed, double seconds) {
  Check check;
  check.call = std::move(what);
  check.phase = phase;
  check.expected = std::string(expected);
  check.observed = std::string(observed);
  check.seconds = seconds;
  check.ok = expected == observed;
  result_.checks.push_back(std::move(check));
}

void Recorder::RememberConnection(int fd) {
  std::string remote = PeerText(fd);
  if (remote != "-") {
    connections_.insert({LocalText(fd), std::move(remote)});
  }
}

const StateSnapshot& Recorder::States(std::string label, const std::vector<Watched>& sockets,
                                      const std::vector<uint16_t>& ports) {
  StateSnapshot snapshot;
  snapshot.label = std::move(label);
  snapshot.at_seconds = SecondsSinceStart();
  std::vector<uint64_t> inodes;  // of the watched fds, to recognize them among sampled sockets
  for (const Watched& w : sockets) {
    SocketState s;
    s.who = w.who;
    s.local = LocalText(w.fd);
    s.remote = PeerText(w.fd);
    s.state = TcpStateName(TcpStateOf(w.fd));
    s.detail = QueuesOf(w.fd);
    RememberConnection(w.fd);
    snapshot.sockets.push_back(std::move(s));
    inodes.push_back(SocketInode(w.fd));
  }
  std::vector<SampledSocket> sampled_sockets =
      ports.empty() ? std::vector<SampledSocket>{} : SampleSocketsOnPorts(ports);
  // The kernel's own view of our fds gives the 4-tuple even before getpeername() can (SYN_SENT).
  for (const SampledSocket& sampled : sampled_sockets) {
    if (sampled.held_here && !absl::EndsWith(sampled.state.remote, ":0")) {
      connections_.insert({sampled.state.local, sampled.state.remote});
    }
  }
  for (SampledSocket& sampled : sampled_sockets) {
    const SocketState& row = sampled.state;
    bool ours = sampled.inode != 0 ? sampled.held_here
                                   : connections_.count({row.local, row.remote}) != 0 ||
                                         connections_.count({row.remote, row.local}) != 0;
    if (!ours) {
      continue;
    }
    // A watched fd the sampler also found: one row, under the watched name, with what only
    // the sampler knows (a timer, a listener's accept queue, the destination of a SYN_SENT
    // socket, which getpeername does not give before the handshake).
    auto it =
        sampled.inode == 0 ? inodes.end() : std::find(inodes.begin(), inodes.end(), sampled.inode);
    if (it == inodes.end()) {
      snapshot.sockets.push_back(std::move(sampled.state));
      continue;
    }
    SocketState& watched = snapshot.sockets[static_cast<size_t>(it - inodes.begin())];
    if (watched.remote == "-" && !absl::EndsWith(sampled.state.remote, ":0")) {
      watched.remote = sampled.state.remote;
    }
    if (watched.timer.empty()) {
      watched.timer = sampled.state.timer;
    }
    if (watched.detail.empty()) {
      watched.detail = sampled.state.detail;
    }
  }
  result_.states.push_back(std::move(snapshot));
  return result_.states.back();
}

void Recorder::ExplainLimits(std::string prefix) {
  explain_limits_ = true;
  limit_prefix_ = std::move(prefix);
}

void Recorder::ExplainLimit(Phase phase, int err) {
  // Limits explain running out of something (fds, ports, queues), which shows in these phases;
  // a bind conflict is about one port, not about a range.
  if (!explain_limits_ || err == 0 || phase == Phase::kBind || phase == Phase::kListen) {
    return;
  }
  ErrorClass error_class = Classify(phase, err);
  if (error_class == ErrorClass::kNoFds) {
    deferred_limits_.push_back({phase, error_class});
    return;
  }
  AddLimitLine(phase, error_class);
}

void Recorder::AddLimitLine(Phase phase, ErrorClass error_class) {
  // Read now, not ThisMachineLimits(): that is cached per process, and a forked scenario child
  // would get its parent's (host namespace) copy.
  std::string hint = LimitHint(phase, error_class, ReadKernelLimits(), hint_context_);
  if (hint.empty()) {
    return;
  }
  std::string line = absl::StrCat(limit_prefix_, hint);
  std::vector<std::string>& lines = result_.kernel_lines;
  if (std::find(lines.begin(), lines.end(), line) == lines.end()) {
    lines.push_back(std::move(line));
  }
}

void Recorder::Skip(std::string reason) {
  if (stopped_) {
    return;
  }
  stopped_ = true;
  result_.outcome = Outcome::kSkipped;
  result_.reason = std::move(reason);
}

void Recorder::Fail(std::string reason) {
  if (stopped_) {
    return;
  }
  stopped_ = true;
  result_.outcome = Outcome::kError;
  result_.reason = std::move(reason);
}

ScenarioResult Recorder::Finish(std::vector<CounterDelta> counters, std::string counters_scope) {
  for (const auto& [phase, error_class] : deferred_limits_) {
    AddLimitLine(phase, error_class);
  }
  result_.counters = std::move(counters);
  result_.counters_scope = std::move(counters_scope);
  FinishWire();
  if (!stopped_) {
    if (result_.checks.empty()) {
      result_.outcome = Outcome::kError;
      result_.reason = "the scenario made no check";
    } else {
      result_.outcome = Outcome::kReproduced;
      for (const Check& c : result_.checks) {
        if (!c.ok) {
          result_.outcome = Outcome::kNotReproduced;
          result_.reason =
              absl::StrCat(c.call, ": expected ", c.expected, ", observed ", c.observed);
          break;
        }
      }
      const WireView& wire = result_.wire;
      if (result_.outcome == Outcome::kReproduced && wire.missing.empty() &&
          !wire.expected.empty() && !wire.ok) {
        result_.outcome = Outcome::kNotReproduced;
        result_.reason =
            absl::StrCat("on the wire: expected ", wire.expected, ", observed ", wire.observed);
      }
      if (result_.outcome == Outcome::kReproduced && !wire.events_unmet.empty()) {
        result_.outcome = Outcome::kNotReproduced;
        result_.reason = absl::StrCat("kernel events: ", UnmetEventsText(wire.events_unmet));
      }
    }
  }
  return std::move(result_);
}

absl::string_view OutcomeName(Outcome outcome) {
  switch (outcome) {
    case Outcome::kReproduced:
      return "ok";
    case Outcome::kNotReproduced:
      return "FAILED";
    case Outcome::kSkipped:
      return "skipped";
    case Outcome::kError:
      return "error";
  }
  return "error";
}

}  // namespace socklab::repro

#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "core/net/error_class.h"
#include "core/sysinfo/tcp_counters.h"

namespace socklab::repro {

// What a scenario is, independent of any run: its name, the error it reproduces, and what a
// reader needs to understand and fix it. Plain data; thread affinity: none.

// A kernel parameter that explains or fixes the error. The runner fills in its value on this
// machine (through ProcFs) when it reports.
struct KernelKnob {
  std::string sysctl;  // "net.ipv4.ip_local_port_range"
  std::string advice;  // what to change and the command: "sysctl -w net.ipv4...=\"1024 65535\""
};

struct ScenarioInfo {
  std::string name;      // "refused"
  std::string title;     // one line: "connect to a port nobody listens on"
  std::string expected;  // "ECONNREFUSED on connect"
  // What the kernel puts on the wire, checked on a capture of the scenario's ports like the
  // errno: "> SYN, < RST/ACK" (see wire_pattern.h for the notation), or "no packet".
  std::string wire;
  std::string java;      // what a Java program would have thrown
  std::string cause;     // two or three sentences
  std::string fix_code;  // socket options, how to close, how to retry
  std::vector<KernelKnob> kernel;
  // Scenarios a reader of this one should look at next (names; related errors or causes), each
  // also pointing back here.
  std::vector<std::string> see_also = {};
  // Runs in a forked child inside a private network namespace (needs root).
  bool needs_netns = false;
  // Needs root outside a namespace too (privilege drops, for example).
  bool needs_root = false;
  // The child is killed after this long; scenarios bound their own waits well below it.
  absl::Duration timeout = absl::Seconds(30);
  // Whether LimitHint's explanation of an observed errno applies. False when the errno comes
  // from somewhere the generic hint does not describe (no-buffer-space: its ENOBUFS is UDP's,
  // the hint is about TCP memory).
  bool limit_hints = true;
  // Kernel events the scenario must show (checked when they are recorded, like the wire
  // pattern), each a piece of one event's text: "RST sent (reason NO_SOCKET", "LAST_ACK ->
  // CLOSE"; in any order. A leading '!' means no event may contain the rest: "!RST sent".
  std::vector<std::string> events = {};
};

// One comparison of what the kernel did against what the scenario expects.
struct Check {
  std::string call;  // "connect", "read after the RST", "state of the client"
  Phase phase = Phase::kRead;
  std::string expected;     // "ECONNREFUSED", "EOF", "OK", "TIME_WAIT"
  std::string observed;     // the errno name the syscall returned, "returned 0", a state name
  int observed_errno = 0;   // errno right after the call; 0 when it did not fail
  std::string error_class;  // ClassKey of observed_errno ("refused"), empty when none
  double seconds = 0;       // how long until it appeared (see Recorder::Check*)
  bool ok = false;
};

// One line of the narrative: a call with its result, or a step in words.
struct StepLine {
  double at_seconds = 0;  // since the scenario started
  std::string text;
};

// The TCP state of one of the scenario's sockets.
struct SocketState {
  std::string who;    // "client", "server" (a watched fd), or the sampler's "(no fd)", "(fd 7)"
  std::string local;  // "127.0.0.1:40213"
  std::string remote;
  std::string state;   // "ESTABLISHED", "TIME_WAIT"
  std::string timer;   // "timer timewait 59.8s" when the sampler knows it
  std::string detail;  // queues when not empty: "accept queue 1 (backlog 0)", "unread 5 B"
};

struct StateSnapshot {
  std::string label;  // "after the client's close()"
  double at_seconds = 0;
  std::vector<SocketState> sockets;
};

// One captured segment of the scenario, placed in its connection (core/capture/conversation.h).
struct WireSegmentLine {
  double at_seconds = 0;  // since the scenario started
  int connection = 1;     // 1, 2, ... in order of appearance
  bool from_client = true;
  std::string flags;    // "SYN/ACK"
  uint32_t seq = 0;     // relative to the direction's first sequence number
  uint32_t ack = 0;     // relative to the other direction's
  uint32_t window = 0;  // in bytes (scaled)
  uint32_t length = 0;  // payload bytes
  std::string options;  // "mss 65495, sackOK, ts, wscale 7"
  bool retransmission = false;
  std::string cause;   // the scenario's call during which the kernel sent it; "" when unknown
  uint8_t ttl = 0;     // the IP header's TTL (IPv6: hop limit)
  int32_t ip_id = -1;  // the IPv4 identification; -1 for IPv6
  // What the header's fields mean, in the tutorial's words, for scenarios that teach them
  // (Recorder::ExplainSegments); "" otherwise.
  std::string explanation;
};

// One of the kernel's TCP events for the scenario's sockets (core/capture/kernel_events.h).
struct KernelEventLine {
  double at_seconds = 0;  // since the scenario started
  std::string name;       // the tracepoint: "tcp_send_reset"
  std::string src;        // "127.0.0.1:40000": the socket's own end, the RST's source
  std::string dst;
  std::string text;   // "SYN_SENT -> ESTABLISHED", "RST sent (reason NO_SOCKET, state no socket)"
  std::string cause;  // the call during which it happened, as for segments
};

// What went over the wire, and the check of the scenario's expected pattern against it.
struct WireView {
  std::string missing;  // why there is no capture (no capture rights, ...); "" when there is one
  std::vector<WireSegmentLine> segments;
  std::string expected;  // ScenarioInfo::wire
  std::string observed;  // the capture in the same notation
  bool ok = false;
  uint64_t dropped = 0;   // frames the capture lost (its ring was full)
  std::string pcap_path;  // where the capture was written, "" when it was not
  std::vector<KernelEventLine> events;
  std::string events_missing;  // why there are no kernel events (no tracefs, ...); "" otherwise
  // The scenario's process could not remove its trace instance (it dropped its privileges):
  // the runner does it.
  bool trace_instance_left = false;
  // ScenarioInfo::events, and those the recorded events contradict (missing, or present when
  // forbidden); checked only when events were recorded.
  std::vector<std::string> events_expected;
  std::vector<std::string> events_unmet;
};

enum class Outcome {
  kReproduced,     // every check saw what it expected
  kNotReproduced,  // the kernel did something else: a real finding, exit non-zero
  kSkipped,        // could not run here (no root, no namespaces, a tool missing)
  kError,          // the scenario's own setup broke (or the child crashed / timed out)
};

// The result of one run. Built in the child that ran the scenario, sent to the parent as JSON.
struct ScenarioResult {
  std::string name;
  Outcome outcome = Outcome::kError;
  std::string reason;  // why skipped / error / not reproduced
  double seconds = 0;  // wall time of the whole scenario, to the end of its wire view
  std::vector<Check> checks;
  std::vector<StepLine> steps;
  std::vector<StateSnapshot> states;
  std::vector<CounterDelta> counters;
  std::string counters_scope;  // "host namespace" or "private namespace"
  std::vector<std::string> notes;
  // First, from the scenario's child (Recorder::ExplainLimits), the limits that explain its
  // errnos with the numbers where and when they appeared ("limit in the scenario's namespace:
  // ..."); then, added by the runner in the parent, each KernelKnob with its value on this host
  // ("name = value on this host: advice").
  std::vector<std::string> kernel_lines;
  WireView wire;
};

absl::string_view OutcomeName(Outcome outcome);  // "ok", "FAILED", "skipped", "error"

}  // namespace socklab::repro

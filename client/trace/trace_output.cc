#include "client/trace/trace_output.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "core/capture/tcp_segment.h"

namespace socklab::client {
namespace {

double Seconds(int64_t ns) { return static_cast<double>(ns) / 1e9; }

std::string Source(const TraceLine& line) {
  return EndpointText(line.segment.tcp.src, line.segment.tcp.src_port);
}
std::string Destination(const TraceLine& line) {
  return EndpointText(line.segment.tcp.dst, line.segment.tcp.dst_port);
}

}  // namespace

std::string ConfigText(const TraceOptions& options, const TraceSetup& setup) {
  std::string text = absl::StrCat(
      "trace      port ", options.port, " on ", options.interface,
      options.netns.empty() ? "" : absl::StrCat(" in namespace ", options.netns), ", ",
      options.duration_given ? absl::StrCat("for ", absl::FormatDuration(options.duration))
                             : "until Ctrl-C",
      "; Linux ", setup.kernel_release.empty() ? "?" : setup.kernel_release, "\n");
  absl::StrAppend(
      &text, "segments   ",
      setup.capture_missing.empty() ? "libpcap" : absl::StrCat("none: ", setup.capture_missing),
      "\n");
  absl::StrAppend(&text, "kernel     ",
                  setup.events_missing.empty()
                      ? "tracefs (state changes, resets with their reason, retransmissions)"
                      : absl::StrCat("none: ", setup.events_missing),
                  "\n");
  if (!options.pcap.empty()) {
    absl::StrAppend(&text, "pcap       ", options.pcap, " (tshark -r ", options.pcap, ")\n");
  }
  return text;
}

nlohmann::json ConfigJson(const TraceOptions& options, const TraceSetup& setup) {
  nlohmann::json j;
  j["type"] = "config";
  j["port"] = options.port;
  j["interface"] = options.interface;
  j["netns"] = options.netns;
  j["duration_s"] = options.duration_given ? absl::ToDoubleSeconds(options.duration) : 0.0;
  j["pcap"] = options.pcap;
  j["kernel_release"] = setup.kernel_release;
  j["capture_missing"] = setup.capture_missing;
  j["events_missing"] = setup.events_missing;
  return j;
}

std::string LineText(const TraceLine& line, int64_t start_ns) {
  std::string text = absl::StrFormat("  %+.6fs  ", Seconds(line.monotonic_ns - start_ns));
  if (line.is_segment) {
    const ConnectionSegment& cs = line.segment;
    absl::StrAppend(&text, "#", cs.connection, " ", Source(line), " > ", Destination(line), "  ",
                    SegmentHeaderText(cs));
    if (cs.tcp.Has(kTcpRst)) {
      absl::StrAppend(&text, "  ttl ", cs.tcp.ttl);
    }
    if (cs.retransmission) {
      absl::StrAppend(&text, "  (retransmission)");
    }
  } else {
    absl::StrAppend(&text, "kernel ", line.event.src, " (peer ", line.event.dst,
                    "): ", line.event.text);
  }
  if (!line.meaning.empty()) {
    absl::StrAppend(&text, "\n               meaning: ", line.meaning);
  }
  return text;
}

nlohmann::json LineJson(const TraceLine& line, int64_t start_ns) {
  nlohmann::json j;
  j["t"] = Seconds(line.monotonic_ns - start_ns);
  if (line.is_segment) {
    const ConnectionSegment& cs = line.segment;
    j["type"] = "segment";
    j["connection"] = cs.connection;
    j["src"] = Source(line);
    j["dst"] = Destination(line);
    j["from_client"] = cs.from_client;
    j["flags"] = TcpFlagsText(cs.tcp.flags);
    j["seq"] = cs.rel_seq;
    j["ack"] = cs.rel_ack;
    j["window"] = cs.window;
    j["length"] = cs.tcp.payload;
    j["options"] = TcpOptionsText(cs.tcp);
    j["ttl"] = cs.tcp.ttl;
    j["retransmission"] = cs.retransmission;
  } else {
    const KernelEvent& e = line.event;
    j["type"] = "event";
    j["event"] = e.name;
    j["src"] = e.src;
    j["dst"] = e.dst;
    j["text"] = e.text;
    if (!e.reason.empty()) {
      j["reason"] = e.reason;
    }
  }
  if (!line.meaning.empty()) {
    j["meaning"] = line.meaning;
  }
  return j;
}

std::string SummaryText(const TraceCounts& c, const TraceSetup& setup, const TraceLosses& losses,
                        double seconds) {
  std::string text = absl::StrFormat("summary    %.1f s\n", seconds);
  if (setup.events_missing.empty()) {
    absl::StrAppend(&text, "  connections opened   ", c.opened, " (reached ESTABLISHED)\n");
    absl::StrAppend(&text, "  connections closed   ", c.closed, " (", c.closed - c.closed_by_reset,
                    " with FIN, ", c.closed_by_reset, " with RST",
                    c.closed_unopened > 0
                        ? absl::StrCat("; ", c.closed_unopened, " opened before the trace")
                        : "",
                    ")\n");
    absl::StrAppend(&text, "  connects failed      ", c.connect_failed, " (", c.connect_refused,
                    " refused by RST, ", c.connect_failed - c.connect_refused,
                    " without an answer or unreachable)\n");
    std::vector<std::string> reasons;
    uint64_t sent = 0;
    for (const auto& [reason, n] : c.resets_sent) {
      reasons.push_back(absl::StrCat(reason.empty() ? "no reason" : reason, " ", n));
      sent += n;
    }
    absl::StrAppend(&text, "  resets sent          ", sent,
                    reasons.empty() ? "" : absl::StrCat(" (", absl::StrJoin(reasons, ", "), ")"),
                    "\n");
    absl::StrAppend(&text, "  resets received      ", c.resets_received, "\n");
    absl::StrAppend(&text, "  retransmissions      ", c.retransmissions, " (SYN ",
                    c.syn_retransmissions, ", SYN/ACK ", c.synack_retransmissions, ", other ",
                    c.retransmissions - c.syn_retransmissions - c.synack_retransmissions, ")\n");
  } else {
    absl::StrAppend(&text, "  no kernel events (", setup.events_missing,
                    "): the counts below come from the wire only\n");
  }
  if (setup.capture_missing.empty()) {
    absl::StrAppend(&text, "  on the wire          ", c.segments, " segments, ", c.handshakes,
                    " SYN/ACKs, ", c.rst_segments, " RSTs",
                    setup.events_missing.empty() ? absl::StrCat(" (", c.rst_not_from_this_tcp,
                                                                " not sent by this host's TCP)")
                                                 : "",
                    ", ", c.retransmitted_segments, " retransmitted\n");
  }
  if (losses.frames_dropped > 0 || losses.events_overrun > 0) {
    absl::StrAppend(&text, "  LOST                 ", losses.frames_dropped,
                    " frames (the capture's ring was full), ", losses.events_overrun,
                    " kernel events (the trace ring was full): the counts are low\n");
  }
  return text;
}

nlohmann::json SummaryJson(const TraceCounts& c, const TraceSetup& setup, const TraceLosses& losses,
                           double seconds) {
  nlohmann::json j;
  j["type"] = "summary";
  j["seconds"] = seconds;
  if (setup.events_missing.empty()) {
    j["opened"] = c.opened;
    j["closed"] = c.closed;
    j["closed_by_reset"] = c.closed_by_reset;
    j["closed_opened_before"] = c.closed_unopened;
    j["connect_failed"] = c.connect_failed;
    j["connect_refused"] = c.connect_refused;
    j["resets_sent"] = c.resets_sent;
    j["resets_received"] = c.resets_received;
    j["retransmissions"] = c.retransmissions;
    j["syn_retransmissions"] = c.syn_retransmissions;
    j["synack_retransmissions"] = c.synack_retransmissions;
    j["events"] = c.events;
  }
  if (setup.capture_missing.empty()) {
    j["segments"] = c.segments;
    j["syn_acks"] = c.handshakes;
    j["rst_segments"] = c.rst_segments;
    if (setup.events_missing.empty()) {
      j["rst_not_from_this_tcp"] = c.rst_not_from_this_tcp;
    }
    j["retransmitted_segments"] = c.retransmitted_segments;
  }
  j["frames_dropped"] = losses.frames_dropped;
  j["events_overrun"] = losses.events_overrun;
  return j;
}

}  // namespace socklab::client

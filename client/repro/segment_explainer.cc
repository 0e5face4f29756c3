#include "client/repro/segment_explainer.h"

#include <map>
#include <optional>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace socklab::repro {
namespace {

// What one side of a connection has sent so far.
struct Side {
  bool syn = false;
  std::optional<uint32_t> fin_seq;  // relative sequence number of its FIN
  bool fin_acked = false;           // the other side acknowledged that FIN
};

struct Connection {
  Side client;
  Side server;
  bool established = false;  // the handshake's last ACK went by
};

std::string Who(bool from_client) { return from_client ? "the client" : "the server"; }

std::string SynOptions(const WireSegmentLine& s) {
  std::string text;
  if (absl::StrContains(s.options, "mss")) {
    absl::StrAppend(&text,
                    " MSS (maximum segment size): the largest segment this side wants to "
                    "receive, the interface's MTU minus 40 bytes of IP and TCP headers (lo's MTU "
                    "is 65536).");
  }
  if (absl::StrContains(s.options, "wscale")) {
    absl::StrAppend(&text,
                    " wscale: from now on this side's window field is multiplied by 2^wscale, "
                    "so a 16-bit field can announce more than 64 KiB (used only when both SYNs "
                    "carry it).");
  }
  if (absl::StrContains(s.options, "sackOK")) {
    absl::StrAppend(&text,
                    " sackOK: selective acknowledgements allowed, so a lost segment can be "
                    "resent alone.");
  }
  if (absl::StrContains(s.options, "ts")) {
    absl::StrAppend(&text,
                    " ts: timestamps, to measure round trips and to reject old segments "
                    "(PAWS).");
  }
  return text;
}

std::string Explain(const WireSegmentLine& s, Connection& c) {
  Side& mine = s.from_client ? c.client : c.server;
  Side& theirs = s.from_client ? c.server : c.client;
  const bool syn = absl::StrContains(s.flags, "SYN");
  const bool fin = absl::StrContains(s.flags, "FIN");
  const bool rst = absl::StrContains(s.flags, "RST");
  const bool ack = absl::StrContains(s.flags, "ACK");
  const bool psh = absl::StrContains(s.flags, "PSH");
  if (rst) {
    return absl::StrCat("RST from ", Who(s.from_client),
                        ": the connection is aborted at once; no ACK comes back.");
  }
  if (syn && !ack) {
    mine.syn = true;
    return absl::StrCat(
        "SYN: ", Who(s.from_client),
        " opens and synchronizes its sequence numbers. seq 0 is its initial sequence number "
        "(ISN: random on the wire, shown relative to it as Wireshark does); a SYN carries no "
        "data but takes one number, so the first data byte will be seq 1. The ACK flag is off: "
        "the ack field means nothing yet. win ",
        s.window,
        ": bytes it can receive before it must be acknowledged (a SYN's window is never "
        "scaled).",
        SynOptions(s));
  }
  if (syn && ack) {
    mine.syn = true;
    return absl::StrCat(
        "SYN/ACK: ", Who(s.from_client),
        " accepts. seq 0 is its own ISN (each direction numbers its bytes independently) and its "
        "SYN takes one number too; ack ",
        s.ack, " acknowledges the SYN: the next byte it expects is the other side's ", s.ack,
        " (ISN + 1). win ", s.window, ".", SynOptions(s));
  }
  std::string text;
  if (!c.established && ack && s.length == 0 && !fin && mine.syn && theirs.syn) {
    c.established = true;
    return absl::StrCat(
        "ACK: ", Who(s.from_client), " acknowledges the other side's SYN (ack ", s.ack,
        " = its ISN + 1): the three-way handshake is complete, connect() returns and the "
        "connection waits in the listener's accept queue until accept(). From here on the "
        "ACK flag is on in every segment, and win ",
        s.window, " is in bytes: the field times 2^wscale.");
  }
  c.established = true;
  if (s.length > 0) {
    text = absl::StrCat(psh ? "PSH/ACK" : "ACK", " with ", s.length, " bytes of data: bytes ",
                        s.seq, " to ", s.seq + s.length - 1, " of ", Who(s.from_client),
                        "'s stream (seq = the number of the segment's first byte).",
                        psh ? " PSH: hand them to the application now." : "",
                        " The acknowledgement rides along: ack ", s.ack,
                        " = the next byte expected from the other side.");
  } else if (fin) {
    text = absl::StrCat(
        "FIN/ACK: ", Who(s.from_client),
        " has nothing more to send (close() or shutdown(SHUT_WR)). The FIN takes one sequence "
        "number, seq ",
        s.seq, ", so its acknowledgement will be ack ", s.seq + 1, "; ack ", s.ack,
        " acknowledges what came from the other side so far.");
  } else if (theirs.fin_seq.has_value() && !theirs.fin_acked && s.ack == *theirs.fin_seq + 1) {
    theirs.fin_acked = true;
    text = absl::StrCat("ACK of the FIN: ack ", s.ack, " = the FIN's sequence number ",
                        *theirs.fin_seq,
                        " + 1. A pure ACK carries no data and takes no sequence number (seq "
                        "stays ",
                        s.seq, ").");
  } else {
    text = absl::StrCat("ACK: acknowledges every byte before ", s.ack,
                        " (acknowledgements are cumulative: ack = the next byte expected). No "
                        "data, so it takes no sequence number (seq stays ",
                        s.seq, "). win ", s.window, ": what ", Who(s.from_client),
                        " can still receive.");
  }
  if (fin) {
    mine.fin_seq = s.seq + s.length;
    if (theirs.fin_seq.has_value() && !theirs.fin_acked && s.ack == *theirs.fin_seq + 1) {
      theirs.fin_acked = true;
      absl::StrAppend(&text, " It also acknowledges the other side's FIN.");
    }
  }
  return text;
}

}  // namespace

void ExplainSegmentLines(std::vector<WireSegmentLine>& segments) {
  std::map<int, Connection> connections;
  for (WireSegmentLine& s : segments) {
    s.explanation = Explain(s, connections[s.connection]);
  }
}

}  // namespace socklab::repro

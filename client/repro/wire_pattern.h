#pragma once

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "client/repro/scenario.h"

namespace socklab::repro {

// A scenario's expected wire pattern (ScenarioInfo::wire) and its check against a capture.
//
// Notation, items separated by ", ":
//   "> SYN"         a segment from client to server with exactly these flags ("<" the other way;
//                   flags as TcpFlagsText writes them: SYN, SYN/ACK, ACK, PSH/ACK, FIN/ACK,
//                   RST/ACK, RST)
//   "nothing back"  (last) the server sent no segment at all on that connection
//   "no packet"     (alone) nothing was captured on the scenario's ports
// The segments must appear in this order on one connection; other segments may come between
// (delayed ACKs, window updates): the pattern names what the lesson is about. Pure functions.

// OK when `pattern` follows the notation; otherwise what is wrong with it.
absl::Status ValidateWirePattern(absl::string_view pattern);

// The capture's side of the check: which connection matched (or came closest) in the notation.
struct WireMatch {
  bool ok = false;
  std::string observed;  // "> SYN, < RST/ACK"; "connection 3: ..." when there are several
};
WireMatch MatchWirePattern(absl::string_view pattern, const std::vector<WireSegmentLine>& segments);

// One segment in the notation: "> SYN", "< RST/ACK".
std::string PatternItem(const WireSegmentLine& segment);

}  // namespace socklab::repro

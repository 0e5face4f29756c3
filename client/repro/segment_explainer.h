#pragma once

#include <vector>

#include "client/repro/scenario.h"

namespace socklab::repro {

// Fills WireSegmentLine::explanation of every segment with what its header's fields mean, the
// way a TCP tutorial reads a trace: the sequence number as the number of the segment's first
// byte (SYN and FIN take one each), the acknowledgement as the next byte expected (cumulative),
// the window as what the sender can still receive, the SYN options (MSS, window scale, SACK,
// timestamps) and the flags. Uses only the segments themselves, in capture order. Pure.
void ExplainSegmentLines(std::vector<WireSegmentLine>& segments);

}  // namespace socklab::repro

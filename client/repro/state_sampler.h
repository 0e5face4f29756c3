#pragma once

#include <cstdint>
#include <vector>

#include "client/repro/scenario.h"

namespace socklab::repro {

// Every TCP socket of the calling process's network namespace whose local or remote port is in
// `ports`, with its state and timer, including sockets no fd points at (TIME_WAIT, orphaned
// FIN_WAIT2). It is the seam to core/tcpstat (the states sampler); until that library is
// linked in it returns nothing and StateSamplerAvailable() is false, and scenarios fall back to
// TCP_INFO on the fds they hold. Thread affinity: none.
std::vector<SocketState> SampleSocketsOnPorts(const std::vector<uint16_t>& ports);
bool StateSamplerAvailable();

}  // namespace socklab::repro

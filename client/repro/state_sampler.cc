#include "client/repro/state_sampler.h"

namespace socklab::repro {

// core/tcpstat (the /proc/net/tcp + netlink sampler) is not in the tree yet; this is where it
// plugs in. Scenarios do not depend on it for their verdicts.
std::vector<SocketState> SampleSocketsOnPorts(const std::vector<uint16_t>& /*ports*/) {
  return {};
}

bool StateSamplerAvailable() { return false; }

}  // namespace socklab::repro

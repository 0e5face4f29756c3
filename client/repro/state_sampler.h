#pragma once

#include <cstdint>
#include <vector>

#include "client/repro/scenario.h"

namespace socklab::repro {

// One socket the kernel listed, with the inode that ties it to a file descriptor (0 when no fd
// points at it: TIME_WAIT, orphans after close(), connections waiting in an accept queue).
struct SampledSocket {
  SocketState state;
  uint64_t inode = 0;
  bool held_here = false;  // a descriptor of this process points at it
};

// Every TCP socket of the calling process's network namespace whose local or remote port is in
// `ports`, with its state, timer and queues, including the sockets no fd points at, read from
// /proc/net/tcp{,6} through core/tcpstat (the states sampler). Each is labelled by who holds it:
// "(fd 5)" for a descriptor of this process, "(other process)", or, without a descriptor,
// "(no fd)" (TIME_WAIT), "(orphan)" (closed, still finishing its FIN handshake),
// "(not accepted)" (complete, waiting in a listener's accept queue) or "(syn queue)" (a
// request socket). A socket on two of the ports is listed once. The ports only narrow the read:
// other programs' sockets on the same port numbers are listed too (Recorder::States keeps the
// scenario's own). Thread affinity: none.
std::vector<SampledSocket> SampleSocketsOnPorts(const std::vector<uint16_t>& ports);

}  // namespace socklab::repro

#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/sysinfo/kernel_limits.h"

namespace socklab {

// The formulas that turn KernelLimits into capacities a person can act on. All functions are
// pure; each returns KernelLimits::kUnknown (or a negative double) when an input it needs is
// unknown. Thread affinity: none.

// TCP_TIMEWAIT_LEN: a compile-time constant of the kernel (include/net/tcp.h), not a sysctl.
// net.ipv4.tcp_fin_timeout governs FIN_WAIT2 only, never TIME_WAIT.
inline constexpr double kTimeWaitSeconds = 60.0;
// TCP_TIMEOUT_INIT: the first SYN retransmission timeout (RFC 6298).
inline constexpr double kInitialRtoSeconds = 1.0;
// TCP_RTO_MIN / TCP_RTO_MAX: the data retransmission timer's floor and ceiling.
inline constexpr double kRtoMinSeconds = 0.2;
inline constexpr double kRtoMaxSeconds = 120.0;

// Ports of ip_local_port_range that are also in ip_local_reserved_ports.
int64_t ReservedPortsInRange(const KernelLimits& limits);

// Local ports connect() can pick for one (source address, destination address:port): the
// ip_local_port_range size minus reserved ports. Since Linux 4.6 __inet_hash_connect() scans the
// ports with the range start's parity first and then the others (bind(port 0) prefers the
// opposite half), so connect() and bind(0) users collide late, but every port is usable.
// Ports are shared by all destinations only when bound before connect (bind without
// IP_BIND_ADDRESS_NO_PORT); an unbound connect() may reuse a port towards another destination.
int64_t UsableEphemeralPorts(const KernelLimits& limits);

// Whether tcp_tw_reuse lets connect() take over a TIME_WAIT port for this destination: value 1,
// or value 2 (loopback only) with a loopback destination; and it needs tcp_timestamps.
bool TimeWaitReuseApplies(const KernelLimits& limits, bool loopback_destination);

// How long a closed connection's port stays unusable for a new connect() to the same
// destination when the client closes first: 60 s, or with tcp_tw_reuse the reuse delay
// (net.ipv4.tcp_tw_reuse_delay since 6.13, a fixed 1 s before).
double PortHoldSeconds(const KernelLimits& limits, bool loopback_destination);

// New connections per second the client can sustain to one destination while also holding
// `open_connections` open: (ports * source_addresses - open) / hold. Negative when unknown;
// 0 when the open connections alone take every port.
double MaxConnectRate(const KernelLimits& limits, int64_t source_addresses,
                      bool loopback_destination, int64_t open_connections = 0);

// The accept queue listen(requested) really gets: min(requested, somaxconn). A requested value
// <= 0 means "the caller's default" and gives somaxconn.
int64_t EffectiveBacklog(const KernelLimits& limits, int64_t requested);

// The kernel's tcp_model_timeout(): the time until `retries` retransmissions, starting from
// `rto_base` seconds and doubling up to 120 s, have all gone unanswered:
//   retries <= t: (2^(retries+1) - 1) * rto_base
//   otherwise:    (2^(t+1) - 1) * rto_base + (retries - t) * 120,  t = ilog2(120 / rto_base).
double RetransmitGiveUpSeconds(int64_t retries, double rto_base);

// connect() ETIMEDOUT when no SYN-ACK ever comes (e.g. the peer's accept queue is full and its
// kernel drops our SYNs): RetransmitGiveUpSeconds(tcp_syn_retries, 1 s); 127 s for 6.
double ConnectTimeoutSeconds(const KernelLimits& limits);
// How long a server keeps retransmitting an unanswered SYN-ACK: tcp_synack_retries, 1 s base.
double SynAckGiveUpSeconds(const KernelLimits& limits);
// A peer that vanished while data was unacknowledged: tcp_retries2 from the 200 ms minimum RTO;
// 924.6 s for 15. (TCP_USER_TIMEOUT overrides it per socket.)
double DeadPeerSeconds(const KernelLimits& limits);
// An idle connection with SO_KEEPALIVE: time + intvl * probes; 7875 s for 7200/75/9.
int64_t KeepaliveDetectSeconds(const KernelLimits& limits);

// Connections one process can hold: RLIMIT_NOFILE soft - fds already open (stdio and friends),
// and no more than fs.file-max for the whole system.
int64_t MaxOpenConnectionsPerProcess(const KernelLimits& limits, int64_t fds_in_use = 3);

// Kernel memory the socket buffers of `connections` TCP connections may take.
struct BufferMemory {
  double at_defaults_bytes = -1;  // N * (tcp_rmem[1] + tcp_wmem[1]): queues full at defaults
  double at_max_bytes = -1;       // N * (tcp_rmem[2] + tcp_wmem[2]): autotuned to the max
  double pressure_bytes = -1;     // tcp_mem[1] * page size: the kernel starts trimming buffers
  double limit_bytes = -1;        // tcp_mem[2] * page size: new buffer memory is refused
};
BufferMemory BufferMemoryFor(const KernelLimits& limits, int64_t connections);

// One derived number, ready for the tune report: a stable key, a title, its value in words and
// the formula with the machine's numbers filled in.
struct Derivation {
  std::string key;      // "new_connections_per_second"
  std::string title;    // "new connections/s to one destination"
  double value = -1;    // the number itself (negative: unknown)
  std::string text;     // "470/s"
  std::string formula;  // "28232 ports / 60 s TIME_WAIT"
};

// What a report's derivations assume about the workload.
struct DerivationInputs {
  int64_t source_addresses = 1;
  bool loopback_destination = false;
  int64_t requested_backlog = 4096;
  int64_t connections = 10000;  // for the buffer memory line
};

// Every derivation above, in report order.
std::vector<Derivation> DeriveAll(const KernelLimits& limits, const DerivationInputs& inputs);

// "127 s", "924.6 s", "2.2 h"; "unknown" for negative values.
std::string FormatSeconds(double seconds);

}  // namespace socklab

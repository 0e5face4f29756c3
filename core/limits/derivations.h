#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "core/limits/kernel_limits.h"

namespace socklab {

// The formulas that turn KernelLimits into capacities a person can act on. All functions are
// pure; each returns KernelLimits::kUnknown (or a negative double) when an input it needs is
// unknown. Thread affinity: none.

// TCP_TIMEWAIT_LEN: a compile-time constant of the kernel (include/net/tcp.h), not a sysctl.
// net.ipv4.tcp_fin_timeout governs FIN_WAIT2 only, never TIME_WAIT.
inline constexpr double kTimeWaitSeconds = 60.0;
// TCP_TIMEOUT_INIT: the first SYN retransmission timeout (RFC 6298).
inline constexpr double kInitialRtoSeconds = 1.0;
// TCP_RTO_MIN / TCP_RTO_MAX: the data retransmission timer's floor and ceiling. Since 6.15
// net.ipv4.tcp_rto_max_ms replaces the ceiling (RtoMaxSeconds); the floor in the kernel's
// give-up model stays the constant TCP_RTO_MIN whatever tcp_rto_min_us says.
inline constexpr double kRtoMinSeconds = 0.2;
inline constexpr double kRtoMaxSeconds = 120.0;
// The tcp_tw_reuse delay before net.ipv4.tcp_tw_reuse_delay (6.13) made it a sysctl.
inline constexpr double kTwReuseDelaySeconds = 1.0;

// Ports of ip_local_port_range that are also in ip_local_reserved_ports.
int64_t ReservedPortsInRange(const KernelLimits& limits);

// Local ports connect() is guaranteed to find for one (source address, destination address:port):
// the ip_local_port_range size rounded down to even, minus reserved ports.
// __inet_hash_connect() scans `remaining &= ~1U` ports per call (an even count: one parity first,
// then the other, since commit 07f4c90062f8 / 1580ab63fc9a, Linux 4.x), starting at a varying
// offset; with an odd-sized range one end port is reached only from some offsets. Measured on
// 6.18: 40000-40010 (11 ports) gave 10 connections in 4 of 40 trials and 11 in 36, so 10 is what
// a plan can rely on; the default 32768-60999 is even-sized and loses nothing.
// Ports are shared by all destinations only when bound before connect (bind without
// IP_BIND_ADDRESS_NO_PORT); an unbound connect() may reuse a port towards another destination.
int64_t UsableEphemeralPorts(const KernelLimits& limits);
// The most connect() may find: the whole range minus reserved ports (the odd end included).
int64_t MaxEphemeralPorts(const KernelLimits& limits);

// Whether tcp_tw_reuse lets connect() take over a TIME_WAIT port for this destination: value 1,
// or value 2 (loopback only) with a loopback destination; and it needs tcp_timestamps.
bool TimeWaitReuseApplies(const KernelLimits& limits, bool loopback_destination);

// The age a TIME_WAIT socket needs before tcp_tw_reuse takes its port: tcp_tw_reuse_delay
// (6.13+, ms) or the fixed 1 s before.
double TwReuseDelaySeconds(const KernelLimits& limits);

// How long a closed connection's port stays unusable for a new connect() to the same
// destination when the client closes first: 60 s, or with tcp_tw_reuse the reuse delay.
double PortHoldSeconds(const KernelLimits& limits, bool loopback_destination);

// New connections per second the client can sustain to one destination while also holding
// `open_connections` open: (ports * source_addresses - open) / hold. Negative when unknown;
// 0 when the open connections alone take every port. +infinity when tcp_max_tw_buckets is no
// more than the free ports: TIME_WAIT sockets beyond the cap are destroyed at once (their ports
// freed), so churn alone can never exhaust the range (the plan applies the same cap).
double MaxConnectRate(const KernelLimits& limits, int64_t source_addresses,
                      bool loopback_destination, int64_t open_connections = 0);

// The rate up to which connect() finds a port at once: MaxConnectRate over half the ports (the
// open connections took theirs from that half too). Without a bound port, __inet_hash_connect()
// walks the ports of the range's low parity first and turns to the other half only once every
// port of the first is taken (held open, or in TIME_WAIT younger than the hold). Past this rate
// that is so on every call: each connect() first checks the whole first half. At 28232 ports
// that is 14116 lookups per connect; measured on 6.18, a loopback churn from one address with
// tcp_tw_reuse levelled off at 14,320 connections/s, with 14,115 even and 1,125 odd ports in
// TIME_WAIT and 40% of the client's CPU in the scan (__inet_hash_connect,
// __inet_check_established, tcp_twsk_unique). With a small range the scan is cheap and the full
// MaxConnectRate is reached. Same conventions as MaxConnectRate.
double ScanFreeConnectRate(const KernelLimits& limits, int64_t source_addresses,
                           bool loopback_destination, int64_t open_connections = 0);

// The backlog listen(requested) really gets: min(requested, somaxconn). A requested value
// <= 0 means "the caller's default" and gives somaxconn. The accept queue then holds one more
// than this (sk_acceptq_is_full() tests ack_backlog > max_ack_backlog): listen(2) queues 3
// completed connections (measured on 6.18). Since ~4.4 the same value also caps the SYN queue
// (inet_csk_reqsk_queue_is_full() compares against sk_max_ack_backlog); tcp_max_syn_backlog
// matters only with tcp_syncookies=0 (tcp_conn_request() then drops SYNs from peers not proven
// alive once the SYN queue is 3/4 of it).
int64_t EffectiveBacklog(const KernelLimits& limits, int64_t requested);
// Completed connections the accept queue holds: EffectiveBacklog + 1.
int64_t AcceptQueueCapacity(const KernelLimits& limits, int64_t requested);

// The RTO ceiling: tcp_rto_max_ms (6.15+) or TCP_RTO_MAX (120 s).
double RtoMaxSeconds(const KernelLimits& limits);
// tcp_syn_linear_timeouts, 0 when the kernel has none (< 6.5).
int64_t SynLinearTimeouts(const KernelLimits& limits);

// The kernel's tcp_model_timeout(): the time until `retries` retransmissions, starting from
// `rto_base` seconds and doubling up to `rto_max`, have all gone unanswered:
//   retries <= t: (2^(retries+1) - 1) * rto_base
//   otherwise:    (2^(t+1) - 1) * rto_base + (retries - t) * rto_max,  t = ilog2(rto_max/rto_base).
double RetransmitGiveUpSeconds(int64_t retries, double rto_base, double rto_max = kRtoMaxSeconds);

// When an unanswered connect() sends its SYNs and gives up (net/ipv4/tcp_timer.c, 6.5+):
// tcp_retransmit_timer() keeps the 1 s initial RTO for the first L = tcp_syn_linear_timeouts
// retransmissions and doubles it after (up to rto_max); tcp_write_timeout() fails the connect
// with ETIMEDOUT at the first timer expiry where either N + L retransmissions (N =
// tcp_syn_retries or TCP_SYNCNT) have been sent, or RetransmitGiveUpSeconds(N, 1 s) has passed
// since the first SYN. With L = 0 (older kernels) both rules give (2^(N+1) - 1) s. Measured on
// 6.18 against dropped SYNs: N=2: 7 s either way (6 SYNs with L=4, 3 with L=0); N=3: 19 s with
// L=4 (8 SYNs), 15 s with L=0 (4 SYNs); N=6: 131 s (133.8 s measured, timer slack) with L=4,
// 127 s (129.8 s) with L=0.
// Measured against dropped SYNs, connect() fails later than the formula says: each SYN's timer
// is armed when the previous one fires, and each fires late (TimerWheelSlackSeconds), so the
// lateness adds up: 133.5 to 135 s against the formula's 131 s on 6.18. `latest_give_up_seconds`
// bounds it.
struct SynSchedule {
  std::vector<double> sends;    // seconds after connect() at which a SYN goes out, first is 0
  double give_up_seconds = -1;  // ETIMEDOUT by the formula; negative when unknown
  double latest_give_up_seconds = -1;  // plus the most every timer can fire late
  double model_seconds = -1;           // RetransmitGiveUpSeconds(N, 1 s, rto_max)
  int64_t max_retransmissions = 0;     // N + L
};
// The most a kernel timer of `seconds` fires late. The timer wheel (kernel/time/timer.c, Linux
// 4.8+) files a timer at the level whose range holds its delay (level n: delays below 63 << 3n
// jiffies) and expires it at that level's next tick, 8^n jiffies apart: up to about 1/8 of the
// delay late (a 1 s timer up to 64 ms, a 64 s one up to 4.1 s at HZ=1000). SynSentSchedule adds
// it up for each usual CONFIG_HZ (100, 250, 300, 1000) and keeps the largest: userspace cannot
// read HZ.
double TimerWheelSlackSeconds(double seconds, int hz);

SynSchedule SynSentSchedule(int64_t syn_retries, int64_t linear_timeouts,
                            double rto_max = kRtoMaxSeconds);
SynSchedule SynSentSchedule(const KernelLimits& limits);
// "0, 1, 2, 3, 4, 5, 7, 11, 19, 35, 67 s"; at most `max_items` times, then "...".
std::string SynSendTimesText(const SynSchedule& schedule, size_t max_items = 12);
// The give-up time with why a measurement differs: "131 s by the formula, in practice up to
// 138.6 s (each SYN's timer is armed when the previous one fires, and fires up to 1/8 of its
// wait late: the lateness adds up)".
std::string SynGiveUpText(const SynSchedule& schedule);

// connect() ETIMEDOUT when no SYN-ACK ever comes (e.g. the peer's accept queue is full and its
// kernel drops our SYNs): SynSentSchedule(limits).give_up_seconds; 131 s for 6 retries and 4
// linear timeouts, 127 s for 6 retries on a kernel before 6.5.
double ConnectTimeoutSeconds(const KernelLimits& limits);
// How long a server keeps retransmitting an unanswered SYN-ACK: tcp_synack_retries, 1 s base.
double SynAckGiveUpSeconds(const KernelLimits& limits);
// A peer that vanished while data was unacknowledged: tcp_retries2 from the 200 ms minimum RTO
// up to RtoMaxSeconds; 924.6 s for 15. (TCP_USER_TIMEOUT overrides it per socket.)
double DeadPeerSeconds(const KernelLimits& limits);
// An idle connection with SO_KEEPALIVE: time + intvl * probes; 7875 s for 7200/75/9. Unknown
// when the values overflow int64 (no kernel accepts them).
int64_t KeepaliveDetectSeconds(const KernelLimits& limits);

// File descriptors a client process holds besides its connections (stdio, the event loop's
// epoll or io_uring fd, eventfds, timers): the one allowance that tune's table, tune --plan and
// the limit hints all subtract from RLIMIT_NOFILE, so they name the same EMFILE point.
inline constexpr int64_t kFdsBesidesConnections = 16;

// Connections one process can hold: RLIMIT_NOFILE soft - fds already open, and no more than
// fs.file-max for the whole system.
int64_t MaxOpenConnectionsPerProcess(const KernelLimits& limits,
                                     int64_t fds_in_use = kFdsBesidesConnections);

// An ip_local_port_range value. Plain value; thread affinity: none.
struct PortRange {
  int64_t low = 0;
  int64_t high = 0;
  int64_t size() const { return high - low + 1; }
  std::string SysctlValue() const;  // "1024 65535"
  std::string Command() const;      // "sysctl -w net.ipv4.ip_local_port_range=\"1024 65535\""
};
// The one ip_local_port_range socklab recommends wherever ports run out (tune --plan, the limit
// hints, repro port-exhaustion): the widest range clear of privileged ports, 1024-65535, its ends
// of different parity (an even count, which __inet_hash_connect() scans whole). A server's port
// (`keep_out_port`, e.g. the plan's target) must stay outside it: an ephemeral range covering it
// lets outgoing connections take the port while the server is down, so the server's restart
// fails with EADDRINUSE, and a client may connect to itself (repro simultaneous-open). The
// range is then the larger side of that port, trimmed to an even count. 0: no port to keep out.
PortRange RecommendedPortRange(uint16_t keep_out_port = 0);

// Kernel memory the socket buffers of `connections` TCP connections may take. Plain value.
struct BufferMemory {
  double at_defaults_bytes = -1;  // N * (tcp_rmem[1] + tcp_wmem[1]): queues full at defaults
  double at_max_bytes = -1;       // N * (tcp_rmem[2] + tcp_wmem[2]): autotuned to the max
  double pressure_bytes = -1;     // tcp_mem[1] * page size: the kernel starts trimming buffers
  double limit_bytes = -1;        // tcp_mem[2] * page size: new buffer memory is refused
};
BufferMemory BufferMemoryFor(const KernelLimits& limits, int64_t connections);

// One derived number, ready for the tune report: a stable key, a title, its value in words and
// the formula with the machine's numbers filled in. Plain value; thread affinity: none.
struct Derivation {
  std::string key;      // "new_connections_per_second"
  std::string title;    // "new connections/s to one destination"
  double value = -1;    // the number itself (negative: unknown; +infinity: no limit)
  std::string text;     // "470/s"
  std::string formula;  // "28232 ports / 60 s TIME_WAIT"
};

// What a report's derivations assume about the workload. Plain value; thread affinity: none.
struct DerivationInputs {
  int64_t source_addresses = 1;
  bool loopback_destination = false;
  int64_t requested_backlog = 4096;
  int64_t connections = 10000;  // for the buffer memory line
  bool ipv6 = false;            // the destination is IPv6: source addresses are IPv6 ones
};

// Every derivation above, in report order.
std::vector<Derivation> DeriveAll(const KernelLimits& limits, const DerivationInputs& inputs);

// "470/s"; below 10/s one decimal, rounded down (100 ports / 60 s is 1.6/s, not 1/s);
// "unlimited" for +infinity, "unknown" for negative values.
std::string FormatRate(double per_second);
// The same number without the unit: "470", "1.6" (for "470 new connections/s").
std::string FormatRateNumber(double per_second);

}  // namespace socklab

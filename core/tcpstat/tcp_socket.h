#pragma once

#include <cstdint>
#include <optional>

#include "absl/strings/string_view.h"
#include "core/net/address.h"
#include "core/tcpstat/tcp_state.h"

namespace socklab::tcpstat {

// The timer pending on a socket: the "tr" column of /proc/net/tcp and inet_diag_msg.idiag_timer
// (the two use the same numbers).
enum class TcpTimer : uint8_t {
  kNone = 0,
  kRetransmit = 1,  // also the SYN-ACK timer of a request socket, tail loss probe, RACK reorder
  kKeepalive = 2,   // sk_timer: keepalive, and the FIN_WAIT2 timer of an orphan
  kTimeWait = 3,    // a TIME_WAIT socket's remaining life
  kZeroWindowProbe = 4,
};

// "on", "keepalive", "timewait", "persist", "off": the words `ss -o` uses.
absl::string_view TcpTimerName(TcpTimer timer);

// One TCP socket as the kernel reports it, from either source. A plain value; thread affinity:
// none.
struct TcpSocket {
  // The socket's family: AF_INET for lines of /proc/net/tcp, AF_INET6 for /proc/net/tcp6 (an
  // IPv4 connection on a dual-stack IPv6 socket is AF_INET6 with ::ffff:a.b.c.d addresses, as
  // `ss` shows it).
  int family = 0;
  SocketAddress local;
  SocketAddress remote;
  TcpState state = TcpState::kClose;
  // Bytes not yet acknowledged by the peer (write_seq - snd_una); 0 for LISTEN and TIME_WAIT.
  uint32_t tx_queue = 0;
  // Bytes received and not yet read by the application (rcv_nxt - copied_seq). For LISTEN: the
  // accept queue's current length (connections completed and not yet accept()ed).
  uint32_t rx_queue = 0;
  TcpTimer timer = TcpTimer::kNone;
  // Time until the timer fires, in milliseconds (0 when no timer or already due). /proc gives
  // it in clock ticks (USER_HZ, 10 ms), netlink in ms.
  int64_t timer_ms = 0;
  // Retransmissions of the current segment (request sockets: SYN-ACK retransmissions).
  uint32_t retransmits = 0;
  uint32_t uid = 0;
  // 0 for TIME_WAIT and request (SYN_RECV) sockets, which have no file.
  uint64_t inode = 0;
  // LISTEN only: the accept queue's maximum, min(backlog passed to listen(), somaxconn).
  // Only NETLINK_SOCK_DIAG reports it (idiag_wqueue = sk_max_ack_backlog); /proc/net/tcp prints
  // write_seq - snd_una, always 0, in that column (checked on Linux 6.x), so the /proc source
  // fills it with a LISTEN-only netlink query when allowed (ReadOptions::listen_backlog).
  std::optional<uint32_t> accept_backlog = std::nullopt;

  bool is_listen() const { return state == TcpState::kListen; }
};

}  // namespace socklab::tcpstat

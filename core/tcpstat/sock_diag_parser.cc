#include "core/tcpstat/sock_diag_parser.h"

#include <errno.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include <climits>
#include <optional>

#include "core/net/address.h"
#include "core/tcpstat/tcp_state.h"

namespace socklab::tcpstat {
namespace {

SocketAddress AddressOf(int family, const __be32 words[4], __be16 port) {
  if (family == AF_INET) {
    sockaddr_in sin{};
    sin.sin_family = AF_INET;
    sin.sin_port = port;
    memcpy(&sin.sin_addr, &words[0], 4);
    return SocketAddress::FromSockaddr(reinterpret_cast<const sockaddr*>(&sin), sizeof(sin));
  }
  sockaddr_in6 sin6{};
  sin6.sin6_family = AF_INET6;
  sin6.sin6_port = port;
  memcpy(&sin6.sin6_addr, words, 16);
  return SocketAddress::FromSockaddr(reinterpret_cast<const sockaddr*>(&sin6), sizeof(sin6));
}

// Fills `socket` from one inet_diag_msg; false for a message that is not a TCP socket record.
bool FromDiagMessage(const inet_diag_msg& msg, TcpSocket* socket) {
  if (msg.idiag_family != AF_INET && msg.idiag_family != AF_INET6) {
    return false;
  }
  std::optional<TcpState> state = TcpStateFromCode(msg.idiag_state);
  if (!state.has_value()) {
    return false;
  }
  socket->family = msg.idiag_family;
  socket->local = AddressOf(msg.idiag_family, msg.id.idiag_src, msg.id.idiag_sport);
  socket->remote = AddressOf(msg.idiag_family, msg.id.idiag_dst, msg.id.idiag_dport);
  socket->state = *state;
  socket->timer = msg.idiag_timer <= 4 ? static_cast<TcpTimer>(msg.idiag_timer) : TcpTimer::kNone;
  socket->timer_ms = socket->timer == TcpTimer::kNone ? 0 : msg.idiag_expires;
  socket->retransmits = msg.idiag_retrans;
  socket->uid = msg.idiag_uid;
  socket->inode = msg.idiag_inode;
  socket->rx_queue = msg.idiag_rqueue;
  if (*state == TcpState::kListen) {
    // tcp_diag_get_info(): for a listener rqueue is sk_ack_backlog and wqueue
    // sk_max_ack_backlog.
    socket->tx_queue = 0;
    socket->accept_backlog = msg.idiag_wqueue;
  } else {
    socket->tx_queue = msg.idiag_wqueue;
    socket->accept_backlog.reset();
  }
  return true;
}

}  // namespace

SockDiagParseResult ParseSockDiagMessages(const void* data, size_t size,
                                          absl::FunctionRef<void(const TcpSocket&)> on_socket) {
  SockDiagParseResult result;
  const char* next = static_cast<const char*>(data);
  size_t remaining = size;
  TcpSocket socket;
  // Not NLMSG_OK/NLMSG_NEXT: NLMSG_OK compares the length as an int, so a length field of
  // 0xffffffff passes as -1 and the message would be read far past the buffer.
  while (remaining >= sizeof(nlmsghdr)) {
    const auto* header = reinterpret_cast<const nlmsghdr*>(next);
    const size_t length = header->nlmsg_len;
    if (length < sizeof(nlmsghdr) || length > remaining) {
      break;
    }
    if (header->nlmsg_type == NLMSG_DONE) {
      result.done = true;
      break;
    }
    if (header->nlmsg_type == NLMSG_ERROR) {
      // A negative errno; an ACK (0), a positive value or INT_MIN (whose negation overflows)
      // cannot end a dump well, and neither can a message cut short.
      const int code = length >= NLMSG_LENGTH(sizeof(nlmsgerr))
                           ? static_cast<const nlmsgerr*>(NLMSG_DATA(header))->error
                           : 0;
      result.error = code < 0 && code != INT_MIN ? -code : EPROTO;
      break;
    }
    if (header->nlmsg_type == SOCK_DIAG_BY_FAMILY &&
        length >= NLMSG_LENGTH(sizeof(inet_diag_msg)) &&
        FromDiagMessage(*static_cast<const inet_diag_msg*>(NLMSG_DATA(header)), &socket)) {
      ++result.sockets;
      on_socket(socket);
    }
    const size_t step = NLMSG_ALIGN(length);
    if (step >= remaining) {
      break;
    }
    next += step;
    remaining -= step;
  }
  return result;
}

}  // namespace socklab::tcpstat

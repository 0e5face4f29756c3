#include "core/tcpstat/netlink_reader.h"

#include <errno.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include <memory>

#include "absl/strings/str_cat.h"
#include "core/base/status.h"
#include "core/base/unique_fd.h"

namespace socklab::tcpstat {
namespace {

constexpr absl::string_view kNetlinkFix =
    "NETLINK_SOCK_DIAG needs the inet_diag and tcp_diag modules (modprobe tcp_diag); "
    "or use --source proc";

// The kernel sizes each dump message to what the last recvmsg() asked for, capped at 32 KiB
// (net/netlink/af_netlink.c, max_recvmsg_len); a larger buffer never truncates one.
constexpr size_t kReceiveBufferSize = 64 * 1024;

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

absl::StatusOr<NetlinkDumpStats> DumpTcpSocketsNetlink(
    const NetlinkQuery& query, absl::FunctionRef<void(const TcpSocket&)> on_socket) {
  NetlinkDumpStats stats;
  UniqueFd fd(socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG));
  if (!fd.valid()) {
    return ErrnoError(errno, "socket(AF_NETLINK, NETLINK_SOCK_DIAG)", kNetlinkFix);
  }
  // The port filter as inet_diag bytecode, laid out as `ss` builds "A or B". Each op is
  // {code, yes, no}: the kernel moves `yes` bytes on when the condition holds, `no` when not;
  // landing exactly on the end accepts the socket, 4 bytes past it rejects. A port comparison
  // is followed by an op whose `no` field carries the port, in host order. The kernel's audit
  // (inet_diag_bc_audit) requires every `no` target to be reachable along `yes` steps, hence
  // the JMP in the middle instead of a direct jump to the end.
  //    0: S_EQ P   yes -> 8 (the JMP)            no -> 12 (the D_EQ)
  //    8: JMP      always takes no -> 20 (end: accept)
  //   12: D_EQ P   yes -> 20 (end: accept)       no -> 24 (past the end: reject)
  inet_diag_bc_op program[5] = {
      {INET_DIAG_BC_S_EQ, 8, 12}, {0, 0, query.port}, {INET_DIAG_BC_JMP, 4, 12},
      {INET_DIAG_BC_D_EQ, 8, 12}, {0, 0, query.port},
  };
  struct {
    nlmsghdr header;
    inet_diag_req_v2 request;
    rtattr bytecode;
    inet_diag_bc_op program[5];
  } message{};
  const bool by_port = query.port != 0;
  message.header.nlmsg_len = by_port ? sizeof(message) : NLMSG_LENGTH(sizeof(inet_diag_req_v2));
  message.header.nlmsg_type = SOCK_DIAG_BY_FAMILY;
  message.header.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  message.header.nlmsg_seq = 1;
  message.request.sdiag_family = static_cast<uint8_t>(query.family);
  message.request.sdiag_protocol = IPPROTO_TCP;
  message.request.idiag_states = query.states.bits();
  if (by_port) {
    message.bytecode.rta_type = INET_DIAG_REQ_BYTECODE;
    message.bytecode.rta_len = RTA_LENGTH(sizeof(program));
    memcpy(message.program, program, sizeof(program));
  }
  static_assert(
      sizeof(message) == NLMSG_LENGTH(sizeof(inet_diag_req_v2)) + sizeof(rtattr) + sizeof(program),
      "the request must have no padding between its parts");
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  if (sendto(fd.get(), &message, message.header.nlmsg_len, 0, reinterpret_cast<sockaddr*>(&kernel),
             sizeof(kernel)) < 0) {
    return ErrnoError(errno, "netlink sock_diag request", kNetlinkFix);
  }

  // 8-byte alignment for the nlmsghdr / inet_diag_msg views below.
  auto buffer = std::make_unique<uint64_t[]>(kReceiveBufferSize / sizeof(uint64_t));
  char* data = reinterpret_cast<char*>(buffer.get());
  TcpSocket socket;
  while (true) {
    ssize_t received = recv(fd.get(), data, kReceiveBufferSize, 0);
    if (received < 0) {
      if (errno == EINTR) {
        continue;
      }
      return ErrnoError(errno, "netlink sock_diag receive", kNetlinkFix);
    }
    if (received == 0) {
      return absl::DataLossError("netlink sock_diag: the kernel closed the dump early");
    }
    stats.bytes += static_cast<size_t>(received);
    int remaining = static_cast<int>(received);
    for (const nlmsghdr* header = reinterpret_cast<const nlmsghdr*>(data);
         NLMSG_OK(header, remaining); header = NLMSG_NEXT(header, remaining)) {
      if (header->nlmsg_type == NLMSG_DONE) {
        return stats;
      }
      if (header->nlmsg_type == NLMSG_ERROR) {
        const auto* error = static_cast<const nlmsgerr*>(NLMSG_DATA(header));
        int err = header->nlmsg_len >= NLMSG_LENGTH(sizeof(nlmsgerr)) ? -error->error : EPROTO;
        return ErrnoError(err, absl::StrCat("netlink sock_diag dump (family ", query.family, ")"),
                          kNetlinkFix);
      }
      if (header->nlmsg_type != SOCK_DIAG_BY_FAMILY ||
          header->nlmsg_len < NLMSG_LENGTH(sizeof(inet_diag_msg))) {
        continue;
      }
      const auto* diag = static_cast<const inet_diag_msg*>(NLMSG_DATA(header));
      if (FromDiagMessage(*diag, &socket)) {
        ++stats.sockets;
        on_socket(socket);
      }
    }
  }
}

}  // namespace socklab::tcpstat

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
#include "core/tcpstat/sock_diag_parser.h"

namespace socklab::tcpstat {
namespace {

constexpr absl::string_view kNetlinkFix =
    "NETLINK_SOCK_DIAG needs the inet_diag and tcp_diag modules (modprobe tcp_diag); "
    "or use --source proc";

// The kernel sizes each dump message to what the last recvmsg() asked for, capped at 32 KiB
// (net/netlink/af_netlink.c, max_recvmsg_len); a larger buffer never truncates one.
constexpr size_t kReceiveBufferSize = 64 * 1024;

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
    SockDiagParseResult parsed =
        ParseSockDiagMessages(data, static_cast<size_t>(received), on_socket);
    stats.sockets += parsed.sockets;
    if (parsed.error != 0) {
      return ErrnoError(parsed.error,
                        absl::StrCat("netlink sock_diag dump (family ", query.family, ")"),
                        kNetlinkFix);
    }
    if (parsed.done) {
      return stats;
    }
  }
}

}  // namespace socklab::tcpstat

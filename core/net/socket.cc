#include "core/net/socket.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <cstddef>

#include "absl/strings/str_cat.h"
#include "core/base/status.h"
#include "core/base/status_macros.h"
#include "core/net/error_class.h"

namespace socklab {
namespace {

// The fix text for an errno in a phase comes from the one table.
absl::Status SocketCallError(int err, Phase phase, const SocketAddress& address) {
  return ErrnoError(err, absl::StrCat(PhaseName(phase), " ", address.ToString()),
                    ClassExplanation(phase, Classify(phase, err)));
}

std::optional<uint64_t> QueueBytes(int fd, unsigned long request) {
  int bytes = 0;
  if (ioctl(fd, request, &bytes) != 0 || bytes < 0) {
    return std::nullopt;
  }
  return static_cast<uint64_t>(bytes);
}

}  // namespace

absl::StatusOr<UniqueFd> CreateTcpSocket(int family, Blocking blocking) {
  int type = SOCK_STREAM | SOCK_CLOEXEC;
  if (blocking == Blocking::kNonBlocking) {
    type |= SOCK_NONBLOCK;
  }
  int fd = socket(family, type, IPPROTO_TCP);
  if (fd < 0) {
    int err = errno;
    return ErrnoError(err, "socket",
                      ClassExplanation(Phase::kSocket, Classify(Phase::kSocket, err)));
  }
  return UniqueFd(fd);
}

absl::Status SetIntOption(int fd, int level, int name, int value, absl::string_view what) {
  if (setsockopt(fd, level, name, &value, sizeof(value)) != 0) {
    return ErrnoError(errno, absl::StrCat("setsockopt ", what));
  }
  return absl::OkStatus();
}

absl::StatusOr<int> GetIntOption(int fd, int level, int name, absl::string_view what) {
  int value = 0;
  socklen_t len = sizeof(value);
  if (getsockopt(fd, level, name, &value, &len) != 0) {
    return ErrnoError(errno, absl::StrCat("getsockopt ", what));
  }
  return value;
}

absl::Status SetReuseAddr(int fd, bool on) {
  return SetIntOption(fd, SOL_SOCKET, SO_REUSEADDR, on, "SO_REUSEADDR");
}
absl::Status SetReusePort(int fd, bool on) {
  return SetIntOption(fd, SOL_SOCKET, SO_REUSEPORT, on, "SO_REUSEPORT");
}
absl::Status SetNoDelay(int fd, bool on) {
  return SetIntOption(fd, IPPROTO_TCP, TCP_NODELAY, on, "TCP_NODELAY");
}
absl::Status SetReceiveBuffer(int fd, int bytes) {
  return SetIntOption(fd, SOL_SOCKET, SO_RCVBUF, bytes, "SO_RCVBUF");
}
absl::Status SetSendBuffer(int fd, int bytes) {
  return SetIntOption(fd, SOL_SOCKET, SO_SNDBUF, bytes, "SO_SNDBUF");
}

absl::Status SetLinger(int fd, Linger linger) {
  ::linger value{};
  value.l_onoff = linger.mode == Linger::Mode::kOff ? 0 : 1;
  value.l_linger = linger.mode == Linger::Mode::kSeconds ? linger.seconds : 0;
  if (setsockopt(fd, SOL_SOCKET, SO_LINGER, &value, sizeof(value)) != 0) {
    return ErrnoError(errno, "setsockopt SO_LINGER");
  }
  return absl::OkStatus();
}

absl::Status SetKeepalive(int fd, const Keepalive& keepalive) {
  // The timings first: SO_KEEPALIVE arms the timer with whatever TCP_KEEPIDLE says then.
  SOCKLAB_RETURN_IF_ERROR(
      SetIntOption(fd, IPPROTO_TCP, TCP_KEEPIDLE, keepalive.idle_s, "TCP_KEEPIDLE"));
  SOCKLAB_RETURN_IF_ERROR(
      SetIntOption(fd, IPPROTO_TCP, TCP_KEEPINTVL, keepalive.interval_s, "TCP_KEEPINTVL"));
  SOCKLAB_RETURN_IF_ERROR(
      SetIntOption(fd, IPPROTO_TCP, TCP_KEEPCNT, keepalive.count, "TCP_KEEPCNT"));
  return SetIntOption(fd, SOL_SOCKET, SO_KEEPALIVE, 1, "SO_KEEPALIVE");
}

absl::Status SetNonBlocking(int fd, bool on) {
  int flags = fcntl(fd, F_GETFL);
  if (flags < 0) {
    return ErrnoError(errno, "fcntl F_GETFL");
  }
  flags = on ? (flags | O_NONBLOCK) : (flags & ~O_NONBLOCK);
  if (fcntl(fd, F_SETFL, flags) != 0) {
    return ErrnoError(errno, "fcntl F_SETFL");
  }
  return absl::OkStatus();
}

std::optional<uint64_t> ReceiveQueueBytes(int fd) { return QueueBytes(fd, SIOCINQ); }

std::optional<uint64_t> UnackedSendBytes(int fd) { return QueueBytes(fd, SIOCOUTQ); }

std::optional<uint32_t> AcceptQueueLength(int fd) {
  tcp_info info{};
  // Only the fields up to tcpi_unacked are copied out.
  socklen_t len = offsetof(tcp_info, tcpi_unacked) + sizeof(info.tcpi_unacked);
  if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &len) != 0 ||
      len < offsetof(tcp_info, tcpi_unacked) + sizeof(info.tcpi_unacked) ||
      info.tcpi_state != TCP_LISTEN) {
    return std::nullopt;
  }
  return info.tcpi_unacked;
}

int TakeSocketError(int fd) {
  int err = 0;
  socklen_t len = sizeof(err);
  if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) {
    return errno;
  }
  return err;
}

absl::Status Bind(int fd, const SocketAddress& address) {
  if (bind(fd, address.sockaddr_ptr(), address.length()) != 0) {
    return SocketCallError(errno, Phase::kBind, address);
  }
  return absl::OkStatus();
}

absl::Status Listen(int fd, int backlog, const SocketAddress& address) {
  if (listen(fd, backlog) != 0) {
    return SocketCallError(errno, Phase::kListen, address);
  }
  return absl::OkStatus();
}

absl::StatusOr<UniqueFd> ListenTcp(const ListenOptions& options) {
  SOCKLAB_ASSIGN_OR_RETURN(UniqueFd fd,
                           CreateTcpSocket(options.address.family(), options.blocking));
  SOCKLAB_RETURN_IF_ERROR(SetReuseAddr(fd.get(), options.reuse_addr));
  bool reuse_port_before_bind = options.reuse_port && !options.exclusive_bind;
  if (reuse_port_before_bind) {
    SOCKLAB_RETURN_IF_ERROR(SetReusePort(fd.get(), true));
  }
  if (options.address.is_v6()) {
    SOCKLAB_RETURN_IF_ERROR(
        SetIntOption(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, options.v6_only, "IPV6_V6ONLY"));
  }
  SOCKLAB_RETURN_IF_ERROR(Bind(fd.get(), options.address));
  if (options.reuse_port && !reuse_port_before_bind) {
    // Bound without SO_REUSEPORT, so nobody else listens here. Setting it now, before listen()
    // hashes the socket and creates its reuseport group, lets later members join; a check with
    // a separate probe socket instead would leave a window between the probe and the bind.
    SOCKLAB_RETURN_IF_ERROR(SetReusePort(fd.get(), true));
  }
  if (options.before_listen) {
    SOCKLAB_RETURN_IF_ERROR(options.before_listen(fd.get()));
  }
  SOCKLAB_RETURN_IF_ERROR(Listen(fd.get(), options.backlog, options.address));
  return fd;
}

absl::StatusOr<UniqueFd> ConnectTcp(const SocketAddress& address) {
  SOCKLAB_ASSIGN_OR_RETURN(UniqueFd fd, CreateTcpSocket(address.family(), Blocking::kBlocking));
  if (connect(fd.get(), address.sockaddr_ptr(), address.length()) != 0) {
    return SocketCallError(errno, Phase::kConnect, address);
  }
  return fd;
}

}  // namespace socklab

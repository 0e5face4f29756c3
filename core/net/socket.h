#pragma once

#include <cstdint>
#include <functional>
#include <optional>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "core/base/unique_fd.h"
#include "core/net/address.h"

namespace socklab {

// Socket creation and options. Every failure is an ErrnoError naming the call, the address and
// the errno ("bind 127.0.0.1:7007: Address already in use (EADDRINUSE). <fix>").
// Thread affinity: none. None of these take ownership of an fd they are passed.

enum class Blocking { kBlocking, kNonBlocking };

// socket(family, SOCK_STREAM | SOCK_CLOEXEC [| SOCK_NONBLOCK], IPPROTO_TCP).
absl::StatusOr<UniqueFd> CreateTcpSocket(int family, Blocking blocking);

// How close() ends a connection: kOff is the normal FIN (lingering in the background),
// kSeconds blocks close() up to that long, kReset sends RST at once (SO_LINGER {1, 0}).
struct Linger {
  enum class Mode { kOff, kSeconds, kReset } mode = Mode::kOff;
  int seconds = 0;
};

// TCP keepalive (SO_KEEPALIVE with TCP_KEEPIDLE, TCP_KEEPINTVL, TCP_KEEPCNT): after `idle_s`
// seconds without a segment from the peer, probe every `interval_s` seconds and fail the
// connection (ETIMEDOUT) after `count` unanswered probes. Whole seconds, as the kernel takes them:
// idle and interval 1..32767 (MAX_TCP_KEEPIDLE/MAX_TCP_KEEPINTVL), count 1..127.
struct Keepalive {
  int idle_s = 0;
  int interval_s = 0;
  int count = 0;
};

absl::Status SetReuseAddr(int fd, bool on);
absl::Status SetReusePort(int fd, bool on);
absl::Status SetNoDelay(int fd, bool on);
absl::Status SetLinger(int fd, Linger linger);
absl::Status SetKeepalive(int fd, const Keepalive& keepalive);
absl::Status SetReceiveBuffer(int fd, int bytes);
absl::Status SetSendBuffer(int fd, int bytes);
absl::Status SetNonBlocking(int fd, bool on);
// setsockopt(level, name, int value) with "setsockopt <what>" in the error.
absl::Status SetIntOption(int fd, int level, int name, int value, absl::string_view what);
absl::StatusOr<int> GetIntOption(int fd, int level, int name, absl::string_view what);

// The pending error of a socket (SO_ERROR), e.g. after a nonblocking connect: 0 or an errno.
int TakeSocketError(int fd);

// The kernel's queues of a connected TCP socket (not owned), any thread. nullopt when the socket
// cannot say: a listener (EINVAL), a closed fd.
// SIOCINQ: bytes received and not yet read; a received FIN is not counted.
std::optional<uint64_t> ReceiveQueueBytes(int fd);
// SIOCOUTQ: bytes sent and not yet acknowledged by the peer (write_seq - snd_una), which counts
// an unacknowledged SYN or FIN as one.
std::optional<uint64_t> UnackedSendBytes(int fd);
// Connections a TCP listener (not owned) holds ready for accept(): a listener's TCP_INFO gives
// its accept queue's length in tcpi_unacked (sk_ack_backlog). nullopt when the fd is not a
// listening TCP socket.
std::optional<uint32_t> AcceptQueueLength(int fd);

absl::Status Bind(int fd, const SocketAddress& address);
absl::Status Listen(int fd, int backlog, const SocketAddress& address);

struct ListenOptions {
  SocketAddress address;
  int backlog = 511;
  bool reuse_addr = true;
  bool reuse_port = false;
  Blocking blocking = Blocking::kNonBlocking;
  // IPv6 listeners accept only IPv6 (IPV6_V6ONLY), so "[::]:P" and "0.0.0.0:P" can coexist.
  bool v6_only = true;
  // With reuse_port: bind before setting SO_REUSEPORT (it is set between bind and listen), so
  // the bind fails with EADDRINUSE when any socket already listens on the port. A plain
  // SO_REUSEPORT bind would instead silently join a group of the same user's listeners (another
  // server already running) and share its traffic. Sockets bound afterwards with reuse_port
  // join this listener's group as usual. SO_REUSEADDR (reuse_addr) still lets the bind pass
  // over TIME_WAIT and other non-listening sockets of the port (inet_bind_conflict: a listening
  // socket conflicts unless both have SO_REUSEPORT, a non-listening one not when both have
  // SO_REUSEADDR).
  bool exclusive_bind = false;
  // Runs on the bound socket just before listen(). Options set here are inherited by every
  // socket it accepts (TCP_NODELAY, keepalive, SO_LINGER, buffer sizes) at no cost per
  // connection, and SO_RCVBUF set here also sizes the window scale the SYN-ACK offers, which
  // setting it on the accepted socket comes too late to change.
  std::function<absl::Status(int fd)> before_listen = nullptr;
};

// socket + options + bind + listen.
absl::StatusOr<UniqueFd> ListenTcp(const ListenOptions& options);

// A blocking connect with the kernel's own timeout (tests and repro steps; the data path uses
// the event loop).
absl::StatusOr<UniqueFd> ConnectTcp(const SocketAddress& address);

}  // namespace socklab

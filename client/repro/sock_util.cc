#include "client/repro/sock_util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/base/clock.h"
#include "core/base/errno_name.h"
#include "core/net/address.h"
#include "core/net/netns.h"
#include "core/net/socket.h"
#include "core/process/run_tool.h"
#include "core/tcpstat/tcp_state.h"

namespace socklab::repro {
namespace {

sockaddr_in Ipv4(uint32_t host_order, uint16_t port) {
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_port = htons(port);
  sin.sin_addr.s_addr = htonl(host_order);
  return sin;
}

std::string Ipv4Text(uint32_t host_order, uint16_t port) {
  sockaddr_in sin = Ipv4(host_order, port);
  return SocketAddress::FromSockaddr(reinterpret_cast<const sockaddr*>(&sin), sizeof(sin))
      .ToString();
}

std::string Who(const std::string& who) { return who.empty() ? "" : absl::StrCat(who, ": "); }

}  // namespace

CallResult NewTcpSocket(Recorder& rec, const std::string& who, bool nonblocking) {
  int type = SOCK_STREAM | SOCK_CLOEXEC | (nonblocking ? SOCK_NONBLOCK : 0);
  return rec.Call(absl::StrCat(Who(who), "socket(AF_INET, SOCK_STREAM",
                               nonblocking ? "|SOCK_NONBLOCK" : "", ")"),
                  [type] { return socket(AF_INET, type, IPPROTO_TCP); });
}

UniqueFd OpenTcpSocket(Recorder& rec, const std::string& who, bool nonblocking) {
  CallResult s = NewTcpSocket(rec, who, nonblocking);
  if (s.failed()) {
    rec.Fail(absl::StrCat("socket() for ", who.empty() ? "a socket" : who,
                          " failed: ", ErrnoName(s.err), " (", ErrnoMessage(s.err), ")"));
    return UniqueFd();
  }
  return UniqueFd(static_cast<int>(s.ret));
}

CallResult BindLoopback(Recorder& rec, int fd, uint16_t port, const std::string& who) {
  sockaddr_in sin = Ipv4(INADDR_LOOPBACK, port);
  CallResult r =
      rec.Call(absl::StrCat(Who(who), "bind(fd ", fd, ", ", Ipv4Text(INADDR_LOOPBACK, port), ")"),
               [&] { return bind(fd, reinterpret_cast<const sockaddr*>(&sin), sizeof(sin)); });
  if (!r.failed() && port == 0) {
    rec.Step(absl::StrCat(Who(who), "fd ", fd, " got ", LocalText(fd)));
  }
  if (!r.failed()) {
    rec.WatchPort(port != 0 ? port : LocalPort(fd));
  }
  return r;
}

CallResult ConnectTo(Recorder& rec, int fd, uint32_t ipv4_host_order, uint16_t port,
                     const std::string& who) {
  sockaddr_in sin = Ipv4(ipv4_host_order, port);
  rec.WatchPort(port);  // before the SYN leaves
  return rec.Call(
      absl::StrCat(Who(who), "connect(fd ", fd, ", ", Ipv4Text(ipv4_host_order, port), ")"),
      [&] { return connect(fd, reinterpret_cast<const sockaddr*>(&sin), sizeof(sin)); });
}

CallResult SetSockOptInt(Recorder& rec, int fd, int level, int name, int value,
                         const std::string& name_text) {
  return rec.Call(absl::StrCat("setsockopt(fd ", fd, ", ", name_text, ", ", value, ")"),
                  [&] { return setsockopt(fd, level, name, &value, sizeof(value)); });
}

UniqueFd OpenListener(Recorder& rec, const std::string& who, int backlog, uint16_t port,
                      bool reuse_addr) {
  CallResult s = NewTcpSocket(rec, who);
  if (s.failed()) {
    rec.Fail("socket() for the listener failed");
    return UniqueFd();
  }
  UniqueFd fd(static_cast<int>(s.ret));
  if (reuse_addr) {
    SetSockOptInt(rec, fd.get(), SOL_SOCKET, SO_REUSEADDR, 1, "SO_REUSEADDR");
  }
  if (BindLoopback(rec, fd.get(), port, who).failed()) {
    rec.Fail("bind() for the listener failed");
    return UniqueFd();
  }
  if (rec.Call(absl::StrCat(Who(who), "listen(fd ", fd.get(), ", ", backlog, ")"),
               [&] { return listen(fd.get(), backlog); })
          .failed()) {
    rec.Fail("listen() failed");
    return UniqueFd();
  }
  return fd;
}

UniqueFd ConnectLoopback(Recorder& rec, const std::string& who, uint16_t port) {
  CallResult s = NewTcpSocket(rec, who);
  if (s.failed()) {
    rec.Fail("socket() for the client failed");
    return UniqueFd();
  }
  UniqueFd fd(static_cast<int>(s.ret));
  BoundBlockingCalls(fd.get(), absl::Seconds(10));
  if (ConnectTo(rec, fd.get(), INADDR_LOOPBACK, port, who).failed()) {
    rec.Fail("connect() to our own listener failed");
    return UniqueFd();
  }
  return fd;
}

UniqueFd AcceptOne(Recorder& rec, int listener_fd) {
  if (!WaitReadable(listener_fd, absl::Seconds(10))) {
    rec.Fail("no connection arrived at the listener within 10 s");
    return UniqueFd();
  }
  CallResult a = rec.Call(absl::StrCat("server: accept(fd ", listener_fd, ")"),
                          [&] { return accept4(listener_fd, nullptr, nullptr, SOCK_CLOEXEC); });
  if (a.failed()) {
    rec.Fail("accept() failed");
    return UniqueFd();
  }
  UniqueFd fd(static_cast<int>(a.ret));
  BoundBlockingCalls(fd.get(), absl::Seconds(10));
  return fd;
}

Pair ConnectedPair(Recorder& rec, int backlog) {
  Pair pair;
  pair.listener = OpenListener(rec, "server", backlog);
  if (!pair.listener.valid()) {
    return pair;
  }
  pair.client = ConnectLoopback(rec, "client", LocalPort(pair.listener.get()));
  if (!pair.client.valid()) {
    return pair;
  }
  pair.server = AcceptOne(rec, pair.listener.get());
  return pair;
}

CallResult RecvSome(Recorder& rec, const std::string& who, int fd, int flags) {
  char buf[4096];
  return rec.Call(absl::StrCat(Who(who), "recv(fd ", fd, ", 4096",
                               flags & MSG_DONTWAIT ? ", MSG_DONTWAIT" : "", ")"),
                  [&] { return recv(fd, buf, sizeof(buf), flags); });
}

CallResult SendBytes(Recorder& rec, const std::string& who, int fd, size_t bytes, int flags) {
  std::string data(bytes, 'x');
  return rec.Call(absl::StrCat(Who(who), "send(fd ", fd, ", ", bytes, " bytes",
                               flags & MSG_NOSIGNAL ? ", MSG_NOSIGNAL" : "", ")"),
                  [&] { return send(fd, data.data(), data.size(), flags); });
}

CallResult CloseFd(Recorder& rec, const std::string& who, UniqueFd& fd) {
  rec.RememberConnection(fd.get());
  int raw = fd.Release();
  return rec.Call(absl::StrCat(Who(who), "close(fd ", raw, ")"), [&] { return close(raw); });
}

bool RunNamespaceTool(Recorder& rec, const std::vector<std::string>& args) {
  std::string command = absl::StrJoin(args, " ");
  absl::StatusOr<std::string> out = RunTool(args);
  if (!out.ok()) {
    rec.Step(absl::StrCat("# ", command, " -> ", out.status().message()));
    if (out.status().code() == absl::StatusCode::kNotFound) {
      rec.Skip(std::string(out.status().message()));
    } else {
      rec.Fail(std::string(out.status().message()));
    }
    return false;
  }
  rec.Step(absl::StrCat("# ", command));
  return true;
}

namespace {

// Sends empty datagrams to ourselves until one does not arrive at once: the bucket's tokens are
// used up and that datagram waits in the qdisc's queue, so the next packet waits too. Loopback
// delivers a packet that passes the qdisc before sendto returns, so "not there yet" means
// "held". Returns how many were sent, 0 when none was held.
int EmptyTheTokenBucket(Recorder& rec, uint16_t udp_port) {
  UniqueFd rx(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  UniqueFd tx(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  sockaddr_in to = Ipv4(INADDR_LOOPBACK, udp_port);
  if (!rx.valid() || !tx.valid() ||
      bind(rx.get(), reinterpret_cast<const sockaddr*>(&to), sizeof(to)) != 0) {
    rec.Fail(absl::StrCat("UDP socket for the token bucket: ", ErrnoName(errno)));
    return 0;
  }
  for (int sent = 1; sent <= 64; ++sent) {
    if (sendto(tx.get(), "", 0, 0, reinterpret_cast<const sockaddr*>(&to), sizeof(to)) != 0) {
      rec.Fail(absl::StrCat("sendto for the token bucket: ", ErrnoName(errno)));
      return 0;
    }
    char byte;
    if (recv(rx.get(), &byte, sizeof(byte), 0) < 0 && errno == EAGAIN) {
      return sent;
    }
  }
  rec.Fail("the tbf qdisc let 64 datagrams through at once: it holds nothing");
  return 0;
}

}  // namespace

bool HoldLoopbackPackets(Recorder& rec) {
  constexpr uint16_t kDrainPort = 6003;  // fixed: only ever inside a private namespace
  if (!RunNamespaceTool(rec, {"tc", "qdisc", "add", "dev", "lo", "root", "tbf", "rate", "2kbit",
                              "burst", "100", "limit", "100000"})) {
    return false;
  }
  int drained = EmptyTheTokenBucket(rec, kDrainPort);
  if (drained == 0) {
    return false;
  }
  rec.Step(absl::StrCat("sent ", drained, " empty UDP datagrams to 127.0.0.1:", kDrainPort,
                        ": the last one waits in lo's queue, the bucket is empty, and every "
                        "packet sent next waits its turn"));
  return true;
}

bool SetNamespaceSysctl(Recorder& rec, const std::string& name, const std::string& value) {
  absl::Status s = WriteNetnsSysctl(name, value);
  if (!s.ok()) {
    rec.Fail(std::string(s.message()));
    return false;
  }
  rec.Step(absl::StrCat("# sysctl -w ", name, "=\"", value, "\"   (private namespace only)"));
  return true;
}

uint16_t LocalPort(int fd) {
  absl::StatusOr<SocketAddress> a = LocalAddressOf(fd);
  return a.ok() ? a->port() : 0;
}

std::string LocalText(int fd) {
  absl::StatusOr<SocketAddress> a = LocalAddressOf(fd);
  return a.ok() ? a->ToString() : "-";
}

std::string PeerText(int fd) {
  absl::StatusOr<SocketAddress> a = PeerAddressOf(fd);
  return a.ok() ? a->ToString() : "-";
}

int TcpStateOf(int fd) {
  tcp_info info{};
  socklen_t len = sizeof(info);
  if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &len) != 0) {
    return -1;
  }
  return info.tcpi_state;
}

uint64_t SocketInode(int fd) {
  struct stat st {};
  return fstat(fd, &st) == 0 ? static_cast<uint64_t>(st.st_ino) : 0;
}

std::string QueuesOf(int fd) {
  if (TcpStateOf(fd) == TCP_LISTEN) {
    return "";  // SIOCINQ is EINVAL on a listener; the sampler shows its accept queue
  }
  // SIOCINQ already leaves a received FIN out.
  return DescribeQueues(TcpStateOf(fd), static_cast<int64_t>(ReceiveQueueBytes(fd).value_or(0)),
                        static_cast<int64_t>(UnackedSendBytes(fd).value_or(0)));
}

std::string DescribeQueues(int state, int64_t unread, int64_t unacked) {
  if (state == TCP_CLOSE || state == TCP_LISTEN || state < 0) {
    return "";  // no connection: the sequence numbers mean nothing
  }
  // The SYN also takes a sequence number: until it is acked (SYN_SENT, SYN_RECV) it is the 1.
  if ((state == TCP_SYN_SENT || state == TCP_SYN_RECV) && unacked > 0) {
    --unacked;
  }
  // After close() or shutdown(SHUT_WR) the FIN sits at the end of the send queue until acked.
  bool fin_unacked =
      unacked > 0 && (state == TCP_FIN_WAIT1 || state == TCP_CLOSING || state == TCP_LAST_ACK);
  int64_t unacked_bytes = fin_unacked ? unacked - 1 : unacked;
  std::string text;
  if (unread > 0) {
    absl::StrAppend(&text, "unread ", unread, " B");
  }
  if (unacked_bytes > 0) {
    absl::StrAppend(&text, text.empty() ? "" : ", ", "unacked ", unacked_bytes, " B");
  }
  if (fin_unacked) {
    absl::StrAppend(&text, text.empty() ? "" : ", ", "FIN unacked");
  }
  return text;
}

std::optional<tcpstat::TcpState> KnownTcpStateOf(int fd) {
  return tcpstat::TcpStateFromCode(TcpStateOf(fd));
}

std::optional<tcpstat::TcpState> StateOfRow(const SocketState& row) {
  return tcpstat::ParseTcpStateName(row.state);
}

std::string TcpStateName(int state) {
  std::optional<tcpstat::TcpState> known = tcpstat::TcpStateFromCode(state);
  if (!known.has_value()) {
    return state < 0 ? "-" : absl::StrCat("state ", state);
  }
  return std::string(tcpstat::TcpStateName(*known));
}

bool StatePath::Add(int state) {
  std::string name = TcpStateName(state);
  if (name == last) {
    return false;
  }
  text += text.empty() ? name : absl::StrCat(" -> ", name);
  last = std::move(name);
  return true;
}

bool WaitForTcpState(int fd, int state, absl::Duration timeout) {
  const int64_t deadline = MonotonicNanos() + absl::ToInt64Nanoseconds(timeout);
  for (;;) {
    if (TcpStateOf(fd) == state) {
      return true;
    }
    if (MonotonicNanos() >= deadline) {
      return false;
    }
    usleep(1000);
  }
}

bool WaitReadable(int fd, absl::Duration timeout, short events) {
  pollfd pfd{fd, static_cast<short>(events != 0 ? events : POLLIN), 0};
  const int64_t deadline = MonotonicNanos() + absl::ToInt64Nanoseconds(timeout);
  for (;;) {
    int64_t left_ms = (deadline - MonotonicNanos()) / 1'000'000;
    if (left_ms < 0) {
      return false;
    }
    int r = poll(&pfd, 1, static_cast<int>(left_ms));
    if (r > 0) {
      return true;
    }
    if (r == 0 || errno != EINTR) {
      return false;
    }
  }
}

void BoundBlockingCalls(int fd, absl::Duration timeout) {
  timeval tv = absl::ToTimeval(timeout);
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

}  // namespace socklab::repro

#include "core/net/error_class.h"

#include <errno.h>

#include <array>
#include <string>

#include "core/base/errno_name.h"

namespace socklab {
namespace {

struct ErrnoRow {
  int err;
  ErrorClass error_class;
};

// errno -> class. The phase only changes the explanation (below), not the class: a reset is a
// reset whether read or connect saw it.
constexpr std::array<ErrnoRow, 19> kErrnoTable = {{
    {ECONNREFUSED, ErrorClass::kRefused},
    {ECONNRESET, ErrorClass::kReset},
    {EPIPE, ErrorClass::kBrokenPipe},
    {EMFILE, ErrorClass::kNoFds},
    {ENFILE, ErrorClass::kNoFds},
    {EADDRINUSE, ErrorClass::kAddrInUse},
    {EADDRNOTAVAIL, ErrorClass::kAddrNotAvail},
    {ETIMEDOUT, ErrorClass::kTimedOut},
    {ENETUNREACH, ErrorClass::kUnreachable},
    {EHOSTUNREACH, ErrorClass::kUnreachable},
    {ENETDOWN, ErrorClass::kUnreachable},
    {EHOSTDOWN, ErrorClass::kUnreachable},
    {ENOBUFS, ErrorClass::kNoBufs},
    {ENOMEM, ErrorClass::kNoBufs},
    {ECONNABORTED, ErrorClass::kAborted},
    {EACCES, ErrorClass::kPermission},
    {EPERM, ErrorClass::kPermission},
    {EAGAIN, ErrorClass::kWouldBlock},
    {EINPROGRESS, ErrorClass::kWouldBlock},
}};

struct ClassRow {
  absl::string_view key;
  int canonical_errno;  // 0: no errno
};

constexpr std::array<ClassRow, kErrorClassCount> kClassTable = {{
    {"refused", ECONNREFUSED},
    {"reset", ECONNRESET},
    {"broken_pipe", EPIPE},
    {"no_fds", EMFILE},
    {"addr_in_use", EADDRINUSE},
    {"addr_not_avail", EADDRNOTAVAIL},
    {"timed_out", ETIMEDOUT},
    {"deadline", 0},
    {"eof", 0},
    {"unreachable", EHOSTUNREACH},
    {"no_bufs", ENOBUFS},
    {"aborted", ECONNABORTED},
    {"permission", EACCES},
    {"would_block", EAGAIN},
    {"other", 0},
}};

// accept(2): "Linux accept() passes already-pending network errors on the new socket as an
// error code from accept() ... the application should treat them like EAGAIN by retrying"; and
// ECONNABORTED is a handshake the peer gave up while it waited in the queue. Each concerns the
// one connection being handed over, not the listener.
bool IsAcceptedConnectionError(int err) {
  switch (err) {
    case ECONNABORTED:
    case EPROTO:
    case ENETDOWN:
    case ENOPROTOOPT:
    case EHOSTDOWN:
    case ENONET:
    case EHOSTUNREACH:
    case EOPNOTSUPP:
    case ENETUNREACH:
      return true;
    default:
      return false;
  }
}

constexpr std::array<absl::string_view, kPhaseCount> kPhaseNames = {
    "socket", "bind", "listen", "connect", "accept", "read", "write", "close"};

}  // namespace

ErrorClass Classify(Phase /*phase*/, int err) {
  for (const ErrnoRow& row : kErrnoTable) {
    if (row.err == err) {
      return row.error_class;
    }
  }
  return ErrorClass::kOther;
}

Disposition Dispose(Phase phase, int err) {
  if (err == EINTR) {
    return Disposition::kRetry;
  }
  if (err == EAGAIN && phase != Phase::kConnect) {
    // What most nonblocking calls end with (every pass of an accept loop does), answered before
    // the table walk; connect's EAGAIN is a shortage, below.
    return Disposition::kNotReady;
  }
  if (IsProgrammerError(phase, err)) {
    return Disposition::kBug;
  }
  if (phase == Phase::kAccept && IsAcceptedConnectionError(err)) {
    return Disposition::kSkip;
  }
  switch (Classify(phase, err)) {
    case ErrorClass::kNoFds:
    case ErrorClass::kNoBufs:
      return Disposition::kLocalShortage;
    case ErrorClass::kAddrInUse:
    case ErrorClass::kAddrNotAvail:
      // connect: the ephemeral ports to this destination ran out. bind: the address is taken
      // or not ours, which no amount of waiting fixes.
      return phase == Phase::kConnect ? Disposition::kLocalShortage : Disposition::kUnexpected;
    case ErrorClass::kWouldBlock:
      // connect(2): EAGAIN from a TCP connect is "insufficient entries in the routing cache"
      // (or no local port, before Linux took EADDRNOTAVAIL for that): a shortage, not a wait.
      return phase == Phase::kConnect && err == EAGAIN ? Disposition::kLocalShortage
                                                       : Disposition::kNotReady;
    case ErrorClass::kRefused:
    case ErrorClass::kReset:
    case ErrorClass::kBrokenPipe:
    case ErrorClass::kTimedOut:
    case ErrorClass::kUnreachable:
    case ErrorClass::kAborted:
    case ErrorClass::kDeadline:
    case ErrorClass::kEof:
      return Disposition::kPeerFailure;
    case ErrorClass::kPermission:
    case ErrorClass::kOther:
      return Disposition::kUnexpected;
  }
  return Disposition::kUnexpected;
}

bool IsLocalShortage(Phase phase, int err) {
  return Dispose(phase, err) == Disposition::kLocalShortage;
}

bool IsProgrammerError(Phase phase, int err) {
  switch (err) {
    case EBADF:
    case EFAULT:
    case ENOTSOCK:
      return true;
    case EINVAL:
      // bind/listen/connect can see EINVAL from user input (an already-bound socket, a bad
      // address family); reads and writes only from a bug.
      return phase == Phase::kRead || phase == Phase::kWrite || phase == Phase::kAccept;
    default:
      return false;
  }
}

absl::string_view PhaseName(Phase phase) { return kPhaseNames[static_cast<int>(phase)]; }

absl::string_view ClassKey(ErrorClass error_class) {
  return kClassTable[static_cast<int>(error_class)].key;
}

absl::string_view ClassLabel(ErrorClass error_class) {
  // Built once from the one errno-name function; the strings live as long as the program.
  static const std::array<std::string, kErrorClassCount>* const labels = [] {
    auto* built = new std::array<std::string, kErrorClassCount>;
    for (int c = 0; c < kErrorClassCount; ++c) {
      const ClassRow& row = kClassTable[c];
      (*built)[c] =
          row.canonical_errno != 0 ? ErrnoName(row.canonical_errno) : std::string(row.key);
    }
    return built;
  }();
  return (*labels)[static_cast<int>(error_class)];
}

std::optional<int> ClassErrno(ErrorClass error_class) {
  int err = kClassTable[static_cast<int>(error_class)].canonical_errno;
  if (err == 0) {
    return std::nullopt;
  }
  return err;
}

absl::string_view ClassExplanation(Phase phase, ErrorClass error_class) {
  switch (error_class) {
    case ErrorClass::kRefused:
      return "the peer answered the SYN with RST: nothing listens on that address and port "
             "(or a firewall rejects with tcp-reset); start the server or fix the port";
    case ErrorClass::kReset:
      return "the peer sent RST: it closed with SO_LINGER {1,0}, closed with unread data in its "
             "receive buffer, or no longer knows the connection; find why the peer aborted";
    case ErrorClass::kBrokenPipe:
      return "the connection was already reset or shut down for writing when this write ran; "
             "stop writing after an error or EOF, and send with MSG_NOSIGNAL";
    case ErrorClass::kNoFds:
      return "the process (EMFILE: RLIMIT_NOFILE) or the system (ENFILE: fs.file-max) has no "
             "file descriptor left; raise the limit (ulimit -n) or close sockets sooner";
    case ErrorClass::kAddrInUse:
      return phase == Phase::kConnect
                 ? "the 4-tuple is taken (a bound source port still in TIME_WAIT); let the "
                   "kernel pick the source port, or set SO_REUSEADDR before bind"
                 : "another socket holds this address and port; pick another port, stop the "
                   "other process (ss -ltnp), or set SO_REUSEADDR for TIME_WAIT leftovers";
    case ErrorClass::kAddrNotAvail:
      return phase == Phase::kConnect
                 ? "no ephemeral port is free to this destination "
                   "(net.ipv4.ip_local_port_range, TIME_WAIT); widen the range, enable "
                   "tcp_tw_reuse, or add source addresses"
                 : "the local IP address is not configured on this machine; bind an address it "
                   "has";
    case ErrorClass::kTimedOut:
      return phase == Phase::kConnect
                 ? "no SYN-ACK came back before the SYN retries ran out (tcp_syn_retries): the "
                   "peer is gone, a firewall drops, or its accept queue is full"
                 : "data went unacknowledged until the retransmissions (tcp_retries2), "
                   "TCP_USER_TIMEOUT or keepalive gave up: the peer vanished";
    case ErrorClass::kDeadline:
      return "our own timeout expired before the operation completed; the peer is slow or "
             "stalled, or the timeout is too short";
    case ErrorClass::kEof:
      return "the peer closed the connection (FIN) before the exchange was complete";
    case ErrorClass::kUnreachable:
      return "there is no route to the destination, or an ICMP unreachable came back; check "
             "the address and the routes (ip route get ADDR)";
    case ErrorClass::kNoBufs:
      return "the kernel ran out of memory for sockets or buffers (tcp_mem, rmem/wmem)";
    case ErrorClass::kAborted:
      return "the connection was reset while it waited in the accept queue; harmless, accept "
             "the next one";
    case ErrorClass::kPermission:
      return phase == Phase::kBind ? "ports below net.ipv4.ip_unprivileged_port_start need root or "
                                     "CAP_NET_BIND_SERVICE; use a higher port"
                                   : "a firewall rule or a security policy refused the operation";
    case ErrorClass::kWouldBlock:
      return "SO_RCVTIMEO or SO_SNDTIMEO expired on a blocking socket; the peer did not answer "
             "in time (a JVM never sets SO_RCVTIMEO: its SocketTimeoutException: Read timed out, "
             "JDK 13+ NioSocketImpl and older alike, comes from poll())";
    case ErrorClass::kOther:
      return "an unusual error; see the errno name";
  }
  return "";
}

}  // namespace socklab

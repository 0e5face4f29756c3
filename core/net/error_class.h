#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "absl/strings/string_view.h"

namespace socklab {

// THE errno knowledge base. Every counter, report line and JSON key about socket errors goes
// through Classify(), and every decision about what to do next (skip, wait, back off, give up,
// abort) through Dispose(); nothing else in the project maps errno values to meanings.
//
// Data-path code passes raw errno values (positive, as in errno; a completion's res is -errno).

// The operation that failed.
enum class Phase : uint8_t {
  kSocket,
  kBind,
  kListen,
  kConnect,
  kAccept,
  kRead,
  kWrite,
  kClose,
};
inline constexpr int kPhaseCount = 8;

enum class ErrorClass : uint8_t {
  kRefused,       // ECONNREFUSED: RST in answer to our SYN
  kReset,         // ECONNRESET: RST on an established connection
  kBrokenPipe,    // EPIPE: write after the connection was shut down or reset
  kNoFds,         // EMFILE / ENFILE: out of file descriptors
  kAddrInUse,     // EADDRINUSE: the local address/port is taken
  kAddrNotAvail,  // EADDRNOTAVAIL: no ephemeral port left, or the local IP is not ours
  kTimedOut,      // ETIMEDOUT: the kernel gave up (SYN retries, retransmissions, user timeout)
  kDeadline,      // our own timer expired (connect/read timeout flags); no errno
  kEof,           // read returned 0 before the exchange was complete; no errno
  kUnreachable,   // ENETUNREACH / EHOSTUNREACH / ENETDOWN / EHOSTDOWN
  kNoBufs,        // ENOBUFS / ENOMEM: kernel memory for sockets exhausted
  kAborted,       // ECONNABORTED: connection aborted before accept() took it
  kPermission,    // EACCES / EPERM: privileged port, or a firewall rule
  kWouldBlock,    // EAGAIN on a blocking socket: SO_RCVTIMEO / SO_SNDTIMEO expired
  kOther,         // anything else: reported with its errno name
};
inline constexpr int kErrorClassCount = 15;

// The class of errno `err` (positive) seen in `phase`.
ErrorClass Classify(Phase phase, int err);

// What the program that meets errno `err` in `phase` should do about it.
enum class Disposition : uint8_t {
  kRetry,          // EINTR: no error; make the call again at once
  kNotReady,       // EAGAIN / EINPROGRESS on a nonblocking call: wait for readiness, no error
  kSkip,           // accept: the one connection being handed over failed (accept(2): "treat
                   // them like EAGAIN by retrying"); count it and take the next
  kLocalShortage,  // this machine ran out (fds, socket memory, ephemeral ports): retrying at
                   // once fails again at once, so back off
  kPeerFailure,    // the peer or the path answered (refused, reset, timed out, unreachable)
  kBug,            // only a bug in the caller gets this (IsProgrammerError)
  kUnexpected,     // anything else (EPERM from a firewall hook, ...): report it, never spin
};
Disposition Dispose(Phase phase, int err);

// Dispose(phase, err) == kLocalShortage: the failure says nothing about the target, only that
// this machine must slow down (the load client paces its connects by it).
bool IsLocalShortage(Phase phase, int err);

// True for errno values that can only come from a bug in the caller (EBADF, EFAULT, ENOTSOCK,
// EINVAL on a data-path call): such completions abort rather than being counted.
bool IsProgrammerError(Phase phase, int err);

// "connect", "read", ...
absl::string_view PhaseName(Phase phase);
// Stable snake_case key used in JSON: "refused", "broken_pipe", "deadline".
absl::string_view ClassKey(ErrorClass error_class);
// Text label: ErrnoName() of the class's canonical errno ("ECONNREFUSED", "EMFILE"), else the
// key ("deadline", "eof").
absl::string_view ClassLabel(ErrorClass error_class);
// The class's canonical errno, if it has one (deadline and eof do not).
std::optional<int> ClassErrno(ErrorClass error_class);

// One sentence on what usually causes this error in this phase and what to do first, for
// setup errors and reports. Limits with numbers (ports, fds) come from core/limits hints.
absl::string_view ClassExplanation(Phase phase, ErrorClass error_class);

}  // namespace socklab

#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "core/net/address.h"

namespace socklab::loop {

// A completion-shaped event loop (operations in, completions out) with two backends: io_uring
// performs the operations in the kernel; epoll performs the syscall on readiness and synthesizes
// the same completion. Results follow liburing's convention on both: res >= 0 is bytes or an fd
// (0 on a receive is EOF), res < 0 is -errno.
//
// Thread affinity: an EventLoop is used by one thread (the loop thread) except Wake() and
// RequestStop(), which any thread may call. Submissions never block and never call the handler
// re-entrantly: a completion is only delivered from inside Run()/RunOnce().

enum class Backend { kEpoll, kIoUring };
enum class BackendChoice { kAuto, kEpoll, kIoUring };

absl::string_view BackendName(Backend backend);                            // "epoll", "io_uring"
absl::StatusOr<BackendChoice> ParseBackendChoice(absl::string_view text);  // auto|io_uring|epoll

// An opaque 64-bit value chosen by the submitter and handed back in the completion. Callers pack
// a connection slot and its generation into it, never a bare fd: fd numbers are reused as soon
// as a socket is closed, while a stale completion may still be on its way.
using Token = uint64_t;

enum class Op : uint8_t { kAccept, kConnect, kReceive, kSend, kClose, kTimer };
absl::string_view OpName(Op op);

struct Completion {
  Op op;
  Token token;
  int fd;   // the fd the operation was submitted on (-1 for timers)
  int res;  // kAccept: new fd; kReceive/kSend: bytes; kConnect/kClose/kTimer: 0; or -errno
  // Multishot operations (Accept, Receive) stay armed while `more` is true. The last completion
  // of an operation has more == false; only then may its token be retired.
  bool more;
  // kReceive with res > 0: the bytes received, in a loop-owned buffer valid only until the
  // handler returns. Copy what must outlive the call.
  const std::byte* data;
};

// Receives every completion of one loop. Called on the loop thread only.
class CompletionHandler {
 public:
  virtual ~CompletionHandler() = default;
  virtual void OnCompletion(const Completion& completion) = 0;
};

struct LoopOptions {
  // io_uring: submission queue entries (the completion queue is twice that).
  unsigned ring_entries = 4096;
  // Receive buffers shared by all connections of the loop, none per connection: io_uring
  // registers count (rounded up to a power of two, at most 32768) buffers of size bytes as its
  // provided-buffer ring; epoll reads into one buffer of size bytes. A receive completion carries
  // at most size bytes. 20 KiB rather than 16: a message that fills its buffer exactly looks like
  // a peer that is ahead (io_uring then receives single-shot, one request per message; epoll reads
  // again to see EAGAIN), and messages of 16 KiB and below, powers of two above all, are what
  // clients send most. At 16 KiB x 50 to 500 connections io_uring spent 5% to 8% less CPU per
  // message (bench/RESULTS.md). Only a message that needs the 4 KiB more touches them.
  unsigned receive_buffer_count = 1024;
  unsigned receive_buffer_size = 20 * 1024;
  // epoll: receive buffers HoldReceiveBuffer() may take out of the loop at once, each
  // receive_buffer_size bytes, allocated on first need and kept for reuse. (io_uring holds
  // buffers of its ring instead, up to half of them, and allocates nothing.)
  unsigned max_held_receive_buffers = 64;
  // io_uring: ask for IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN (6.1+; falls back
  // by itself where the kernel refuses them). Off only to measure what they buy.
  bool io_uring_defer_taskrun = true;
};

// Which backend a choice resolves to, and why when auto fell back.
struct BackendSelection {
  Backend backend;
  std::string fallback_reason;  // empty unless auto chose epoll because io_uring was refused
};

// Resolves `choice`: auto probes io_uring (it may be refused by seccomp, by
// kernel.io_uring_disabled, by RLIMIT_MEMLOCK on old kernels, or missing features such as
// multishot receive before 6.0) and falls back to epoll with the reason. An explicit io_uring
// choice that the kernel refuses is an error naming the reason.
absl::StatusOr<BackendSelection> SelectBackend(BackendChoice choice);

using TimerId = uint64_t;

class EventLoop {
 public:
  virtual ~EventLoop() = default;

  // Creates a loop on `backend` that delivers completions to `handler` (not owned; must outlive
  // the loop).
  static absl::StatusOr<std::unique_ptr<EventLoop>> Create(Backend backend,
                                                           CompletionHandler* handler,
                                                           const LoopOptions& options = {});

  virtual Backend backend() const = 0;

  // Multishot accept on a listening socket (not owned). Each connection completes with res = new
  // fd (SOCK_NONBLOCK | SOCK_CLOEXEC, owned by the handler from then on) and more = true.
  // Errors that concern only the connection being handed over (-ECONNABORTED, -EPROTO,
  // -ENETDOWN, ... which accept(2) says to treat like EAGAIN) complete with more = true too: the
  // accept stays armed, and the caller gets to count them. Errors such as -EMFILE complete with
  // more = false: the accept is then disarmed and the caller decides when to re-arm (back off
  // rather than spin on a full fd table).
  // The epoll backend makes a blocking listener nonblocking. An io_uring accept holds its own
  // reference to the listener: CancelAccept() or Close() it through the loop, not ::close().
  virtual void Accept(int listen_fd, Token token) = 0;
  // Disarms the accept on `listen_fd`; its last completion arrives with -ECANCELED.
  virtual void CancelAccept(int listen_fd) = 0;

  // Connects a nonblocking socket (not owned). Completes once with 0 or -errno.
  virtual void Connect(int fd, const SocketAddress& address, Token token) = 0;

  // Receives continuously into loop-owned buffers: a completion per chunk (res > 0, data set,
  // more = true) until EOF (res = 0), an error (res < 0) or CancelReceive (-ECANCELED), each of
  // which ends it (more = false). At most one receive per fd.
  virtual void Receive(int fd, Token token) = 0;
  // Keeps the bytes of the receive completion being handled readable past the handler's return,
  // so that they can be sent back from where they are (an echo without a copy): called from
  // inside OnCompletion for a kReceive with res > 0, it returns a hold, and `data` stays valid
  // and unchanged until ReleaseReceiveBuffer(hold). Returns -1, and the bytes stay valid only
  // until the handler returns, when the loop cannot spare the buffer (too many held, see
  // LoopOptions; io_uring bytes kept across a CancelReceive), or when called at any other time.
  // A held buffer is one receives cannot use: release each as soon as its bytes are sent (or
  // the send failed). Held memory belongs to the loop and goes with it.
  virtual int HoldReceiveBuffer() = 0;
  // Ends a hold; the loop may receive into the buffer again. Loop thread only.
  virtual void ReleaseReceiveBuffer(int hold) = 0;

  // Stops receiving on `fd`, for backpressure; a later Receive() resumes. Bytes arriving
  // meanwhile wait in the kernel's socket buffer, so the peer's window closes.
  // The receive's last completion (-ECANCELED, more = false) follows from the next dispatch step
  // and no chunk is delivered after the call; Receive() may be called again at once. io_uring
  // keeps the bytes its in-flight receive took before the cancel landed and delivers them first
  // (and reads the socket again only once they are delivered): one receive buffer when the
  // handler was already behind, at most one multishot pass when a flood met a receive that had
  // been keeping up (see uring_loop.h). Pausing again and again never adds to it.
  virtual void CancelReceive(int fd) = 0;

  // Bytes the peer sent on `fd` that have not reached the handler yet: the socket's receive
  // queue (SIOCINQ) plus, on io_uring, what the kernel already completed or the loop holds but
  // has not delivered. Closing a socket while this is not 0 makes Linux send RST instead of FIN
  // (tcp_close: data was unread), so a graceful close waits for 0 (or EOF). 0 for an fd that is
  // not a connected TCP socket.
  virtual size_t UnreadBytes(int fd) = 0;

  // Sends up to `size` bytes from `data`, which the caller keeps alive and unchanged until the
  // completion. Completes once with the bytes sent (possibly fewer than `size`: resubmit the
  // rest) or -errno. Sends on one fd complete in submission order; submit one at a time per fd
  // to keep that simple.
  virtual void Send(int fd, const void* data, size_t size, Token token) = 0;

  // Cancels every operation on `fd` (each completes with -ECANCELED), then closes it (the loop
  // takes ownership of `fd`). The close itself completes last, with 0 or -errno.
  // An fd with a pending operation must be closed this way, never with ::close(). On io_uring a
  // send or connect already in the kernel may complete with its real result instead of
  // -ECANCELED; either way each pending operation completes exactly once, before kClose.
  // The close runs on the loop thread (epoll) or in the ring (io_uring): a socket with SO_LINGER
  // {1, N > 0} would make it wait up to N s (Linux inet_release), so callers linger themselves
  // (as the server's --linger does) and close only what has nothing left to send. A listener
  // closed this way gets every connection the kernel accepted for it and the user was not
  // handed yet closed at once.
  virtual void Close(int fd, Token token) = 0;

  // Fires once at `deadline_ns` on the MonotonicNanos() clock: op kTimer, res 0. Timers are
  // kept above the backends in one min-heap; the backend only sleeps until the earliest.
  virtual TimerId AddTimer(int64_t deadline_ns, Token token) = 0;
  // Returns false when the timer has already fired or was cancelled; a cancelled timer never
  // completes.
  virtual bool CancelTimer(TimerId id) = 0;

  // MonotonicNanos() as read once per batch: at the first call after the loop last came back
  // from its wait, so at most one batch's handling behind the clock, and no read at all in a
  // batch where nobody asks. For what the hot path stamps per completion (activity, stall
  // clocks): a clock read per message is a measurable share of a small echo's CPU. Fault timing
  // reads the clock itself.
  virtual int64_t BatchNanos() const = 0;

  // Delivers completions until RequestStop(). Returns an error only when the kernel interface
  // itself fails (never for a failed socket operation, which is a completion).
  virtual absl::Status Run() = 0;
  // Waits up to `max_wait_ns` (0: do not wait; < 0: no limit but the next timer or a Wake) for
  // completions and delivers them; returns how many were delivered (0 after a Wake or timeout).
  virtual absl::StatusOr<int> RunOnce(int64_t max_wait_ns) = 0;

  // Any thread: makes Run() return after the current batch.
  virtual void RequestStop() = 0;
  // Any thread: interrupts a wait so the loop re-checks its state.
  virtual void Wake() = 0;
};

}  // namespace socklab::loop

#include "core/loop/epoll_loop.h"

#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <optional>
#include <utility>

#include "core/base/check.h"
#include "core/base/status.h"
#include "core/net/error_class.h"
#include "core/net/socket.h"

namespace socklab::loop {
namespace {

// Per-fd work per pass over the run list. Bounded so one busy connection (or a handler that
// resubmits from its completion) cannot starve the others or the timers; an fd with work left is
// queued again and the next epoll_wait does not sleep.
constexpr int kMaxReadsPerPass = 4;
constexpr int kMaxSendsPerPass = 16;
constexpr int kMaxAcceptsPerPass = 64;
// Passes over the run list per RunOnce: completions submitted by handlers (the echo's Send after
// a Receive) run in the same iteration instead of paying another epoll_wait.
constexpr int kMaxPasses = 4;
constexpr int kMaxEvents = 256;
constexpr uint32_t kInterest = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;

}  // namespace

absl::StatusOr<std::unique_ptr<EventLoop>> EpollLoop::Create(CompletionHandler* handler,
                                                             const LoopOptions& options) {
  if (options.receive_buffer_size == 0) {
    return UsageError("receive buffer size 0", "give the loop a receive buffer of at least 1 byte");
  }
  UniqueFd epoll_fd(epoll_create1(EPOLL_CLOEXEC));
  if (!epoll_fd) {
    return ErrnoError(errno, "epoll_create1");
  }
  UniqueFd wake_fd(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  if (!wake_fd) {
    return ErrnoError(errno, "eventfd");
  }
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLET;
  ev.data.fd = wake_fd.get();
  if (epoll_ctl(epoll_fd.get(), EPOLL_CTL_ADD, wake_fd.get(), &ev) != 0) {
    return ErrnoError(errno, "epoll_ctl ADD eventfd");
  }
  return std::unique_ptr<EventLoop>(
      new EpollLoop(handler, options, std::move(epoll_fd), std::move(wake_fd)));
}

EpollLoop::EpollLoop(CompletionHandler* handler, const LoopOptions& options, UniqueFd epoll_fd,
                     UniqueFd wake_fd)
    : LoopBase(handler),
      options_(options),
      epoll_fd_(std::move(epoll_fd)),
      wake_fd_(std::move(wake_fd)) {
  buffers_.emplace_back(new std::byte[options.receive_buffer_size]);
}

EpollLoop::~EpollLoop() = default;

EpollLoop::FdState& EpollLoop::State(int fd) {
  SOCKLAB_CHECK(fd >= 0, "operation submitted on a negative fd");
  if (static_cast<size_t>(fd) >= fds_.size()) {
    fds_.resize(static_cast<size_t>(fd) + 1);
  }
  if (!fds_[fd]) {
    fds_[fd] = std::make_unique<FdState>();
  }
  return *fds_[fd];
}

void EpollLoop::PrepareForOp(FdState& st) {
  if (Busy(st)) {
    return;
  }
  st.registered = false;
  st.readable = true;
  st.writable = true;
  st.short_read_drains = false;
}

void EpollLoop::QueueIfRunnable(int fd, FdState& st) {
  if (!st.queued && Runnable(st)) {
    st.queued = true;
    run_.push_back(fd);
  }
}

bool EpollLoop::WaitForEdge(int fd, FdState& st) {
  if (st.registered) {
    return false;
  }
  epoll_event ev{};
  ev.events = kInterest;
  ev.data.fd = fd;
  if (epoll_ctl(epoll_fd_.get(), EPOLL_CTL_ADD, fd, &ev) == 0) {
    st.registered = true;
    return true;
  }
  // EEXIST: still registered from an earlier life of this fd number's socket; the existing
  // registration has the same mask.
  if (errno == EEXIST) {
    st.registered = true;
    return false;
  }
  FailAll(fd, st, -errno);
  return false;
}

void EpollLoop::FailAll(int fd, FdState& st, int res) {
  if (st.accept_armed) {
    st.accept_armed = false;
    Defer(Op::kAccept, st.accept_token, fd, res, false);
  }
  if (st.connecting) {
    st.connecting = false;
    Defer(Op::kConnect, st.connect_token, fd, res, false);
  }
  if (st.receive_armed) {
    st.receive_armed = false;
    Defer(Op::kReceive, st.receive_token, fd, res, false);
  }
  for (const PendingSend& send : st.sends) {
    Defer(Op::kSend, send.token, fd, res, false);
  }
  st.sends.clear();
}

void EpollLoop::Accept(int listen_fd, Token token) {
  FdState& st = State(listen_fd);
  PrepareForOp(st);
  // accept4 on a blocking listener would stall the whole loop when another process (or another
  // loop sharing the listener) takes the connection first.
  int flags = fcntl(listen_fd, F_GETFL);
  if (flags >= 0 && (flags & O_NONBLOCK) == 0) {
    fcntl(listen_fd, F_SETFL, flags | O_NONBLOCK);
  }
  st.accept_armed = true;
  st.listener = true;
  st.accept_token = token;
  QueueIfRunnable(listen_fd, st);
}

void EpollLoop::CancelAccept(int listen_fd) {
  FdState& st = State(listen_fd);
  if (st.accept_armed) {
    st.accept_armed = false;
    Defer(Op::kAccept, st.accept_token, listen_fd, -ECANCELED, false);
  }
}

void EpollLoop::Connect(int fd, const SocketAddress& address, Token token) {
  FdState& st = State(fd);
  PrepareForOp(st);
  if (::connect(fd, address.sockaddr_ptr(), address.length()) == 0) {
    Defer(Op::kConnect, token, fd, 0, false);
    return;
  }
  int err = errno;
  // EINTR: a nonblocking connect interrupted by a signal still proceeds in the background.
  if (err != EINPROGRESS && err != EINTR) {
    Defer(Op::kConnect, token, fd, -err, false);
    return;
  }
  st.connecting = true;
  st.connect_token = token;
  st.writable = false;
  WaitForEdge(fd, st);
}

void EpollLoop::Receive(int fd, Token token) {
  FdState& st = State(fd);
  PrepareForOp(st);
  st.receive_armed = true;
  st.receive_token = token;
  QueueIfRunnable(fd, st);
}

void EpollLoop::CancelReceive(int fd) {
  FdState& st = State(fd);
  if (st.receive_armed) {
    st.receive_armed = false;
    Defer(Op::kReceive, st.receive_token, fd, -ECANCELED, false);
  }
}

void EpollLoop::Send(int fd, const void* data, size_t size, Token token) {
  FdState& st = State(fd);
  PrepareForOp(st);
  st.sends.push_back(PendingSend{static_cast<const std::byte*>(data), size, token});
  QueueIfRunnable(fd, st);
}

void EpollLoop::Close(int fd, Token token) {
  if (fd >= 0 && static_cast<size_t>(fd) < fds_.size() && fds_[fd]) {
    FdState& st = *fds_[fd];
    FailAll(fd, st, -ECANCELED);
    if (st.listener && st.registered) {
      // close() drops an epoll registration only with the file's last reference, and listeners
      // are shared (a dup per loop, or a fork): left registered, this one would keep reporting
      // the old fd number for the socket's new connections.
      epoll_ctl(epoll_fd_.get(), EPOLL_CTL_DEL, fd, nullptr);
    }
    // Reset in place (the state object is stable); `queued` is kept because the fd may still be
    // listed on run_, where processing it finds nothing to do.
    st.registered = false;
    st.readable = true;
    st.writable = true;
    st.short_read_drains = false;
    st.listener = false;
  }
  // close() also drops the fd from the epoll set (the loop owns the last reference). Its errors
  // other than EBADF do not keep the fd open on Linux, so EINTR is success.
  int res = 0;
  if (::close(fd) != 0 && errno != EINTR) {
    res = -errno;
  }
  Defer(Op::kClose, token, fd, res, false);
}

size_t EpollLoop::UnreadBytes(int fd) {
  // The receive path delivers what it reads at once, so the socket's queue is all there is.
  return ReceiveQueueBytes(fd).value_or(0);
}

int EpollLoop::HoldReceiveBuffer() {
  if (!holdable_ || held_buffers_ >= options_.max_held_receive_buffers) {
    return -1;
  }
  holdable_ = false;
  int held = reading_;
  if (spare_buffers_.empty()) {
    reading_ = static_cast<int>(buffers_.size());
    buffers_.emplace_back(new std::byte[options_.receive_buffer_size]);
  } else {
    reading_ = spare_buffers_.back();
    spare_buffers_.pop_back();
  }
  ++held_buffers_;
  return held;
}

void EpollLoop::ReleaseReceiveBuffer(int hold) {
  SOCKLAB_CHECK(hold >= 0 && static_cast<size_t>(hold) < buffers_.size() && hold != reading_ &&
                    held_buffers_ > 0,
                "released a receive buffer that was not held");
  --held_buffers_;
  spare_buffers_.push_back(hold);
}

void EpollLoop::Wake() {
  uint64_t one = 1;
  // EAGAIN means the counter is saturated: a wake is pending anyway.
  [[maybe_unused]] ssize_t n = ::write(wake_fd_.get(), &one, sizeof(one));
}

void EpollLoop::DoConnect(int fd, FdState& st) {
  int err = TakeSocketError(fd);
  if (err == 0) {
    // Writable with no error should mean connected; confirm, since a readiness bit can be stale
    // (set for an earlier socket with this fd number).
    sockaddr_storage peer;
    socklen_t len = sizeof(peer);
    if (getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &len) != 0) {
      if (errno == ENOTCONN) {
        st.writable = false;
        WaitForEdge(fd, st);
        return;
      }
      err = errno;
    }
  }
  st.connecting = false;
  Deliver(Op::kConnect, st.connect_token, fd, -err, false);
}

void EpollLoop::DoSends(int fd, FdState& st) {
  int budget = kMaxSendsPerPass;
  while (!st.sends.empty() && st.writable && budget-- > 0) {
    PendingSend send = st.sends.front();
    ssize_t n = ::send(fd, send.data, send.size, MSG_NOSIGNAL | MSG_DONTWAIT);
    int res = static_cast<int>(n);
    if (n < 0) {
      int err = errno;
      if (err == EINTR) {
        continue;
      }
      if (err == EAGAIN || err == EWOULDBLOCK) {
        st.writable = false;
        WaitForEdge(fd, st);
        return;
      }
      res = -err;
    }
    st.sends.erase(st.sends.begin());
    Deliver(Op::kSend, send.token, fd, res, false);
  }
}

void EpollLoop::DoAccepts(int fd, FdState& st) {
  // Edge triggering needs the accept queue drained, and accept4 makes the new socket's file
  // before it looks at the queue: one that finds the queue empty makes and frees a file, a
  // dentry and an inode, about 0.5 us in the server's profile under churn, where asking the
  // listener how many connections it holds costs 0.2 (bench/RESULTS.md). So the accepts stop at
  // the count instead of at EAGAIN.
  // Connections that arrive after it is read raise an edge of their own; a count that is too
  // high (another process or loop accepting from the same listener) ends at EAGAIN as before.
  // Not a TCP listener: accept until EAGAIN.
  std::optional<uint32_t> ready = AcceptQueueLength(fd);
  int budget = kMaxAcceptsPerPass;
  while (st.accept_armed && st.readable && budget-- > 0) {
    if (ready && *ready == 0) {
      st.readable = false;
      WaitForEdge(fd, st);
      return;
    }
    int new_fd = accept4(fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (new_fd >= 0) {
      if (ready) {
        --*ready;
      }
      Deliver(Op::kAccept, st.accept_token, fd, new_fd, true);
      continue;
    }
    int err = errno;
    switch (Dispose(Phase::kAccept, err)) {
      case Disposition::kRetry:
        continue;
      case Disposition::kNotReady:  // the queue is empty
        st.readable = false;
        WaitForEdge(fd, st);
        return;
      case Disposition::kSkip:  // the one connection failed: counted by the caller, stay armed
        Deliver(Op::kAccept, st.accept_token, fd, -err, true);
        continue;
      default:
        // EMFILE/ENFILE/ENOBUFS/...: disarm, so a full fd table does not turn into a busy loop
        // on a listener that stays readable; the caller re-arms after backing off.
        st.accept_armed = false;
        Deliver(Op::kAccept, st.accept_token, fd, -err, false);
        continue;
    }
  }
}

void EpollLoop::DoReceives(int fd, FdState& st) {
  const size_t size = options_.receive_buffer_size;
  int budget = kMaxReadsPerPass;
  while (st.receive_armed && st.readable && budget-- > 0) {
    std::byte* buffer = buffers_[reading_].get();
    ssize_t n = ::recv(fd, buffer, size, MSG_DONTWAIT);
    if (n > 0) {
      // A short read drained the receive queue; anything arriving later raises a new edge, so
      // the read that would return EAGAIN is skipped. Without an event since the fd went idle
      // (a socket just accepted, whose request came with its handshake), registering it now
      // vouches as well: adding a socket to the set polls it, so bytes or a FIN that arrived
      // since the read are reported by the next wait.
      if (static_cast<size_t>(n) < size &&
          (st.short_read_drains || (!st.registered && WaitForEdge(fd, st)))) {
        st.readable = false;
        WaitForEdge(fd, st);
      }
      holdable_ = true;
      Deliver(Op::kReceive, st.receive_token, fd, static_cast<int>(n), true, buffer);
      holdable_ = false;
      // The handler's reply (an echo) goes out now, not in the next pass: its bytes leave while
      // they are hot, and a receive buffer held for it comes back before the next read, so a
      // pass over many fds cycles through two buffers instead of one per fd.
      if (!st.sends.empty() && st.writable) {
        DoSends(fd, st);
      }
      continue;
    }
    if (n == 0) {
      st.receive_armed = false;
      Deliver(Op::kReceive, st.receive_token, fd, 0, false);
      return;
    }
    int err = errno;
    if (err == EINTR) {
      continue;
    }
    if (err == EAGAIN || err == EWOULDBLOCK) {
      st.readable = false;
      WaitForEdge(fd, st);
      return;
    }
    st.receive_armed = false;
    Deliver(Op::kReceive, st.receive_token, fd, -err, false);
  }
}

void EpollLoop::ProcessFd(int fd) {
  if (static_cast<size_t>(fd) >= fds_.size() || !fds_[fd]) {
    return;
  }
  // The state object is stable (unique_ptr); a handler's Close() resets it in place, which the
  // per-op loops observe through their armed flags.
  FdState& st = *fds_[fd];
  // `queued` stays set while the fd is processed: what its handlers submit on it (the echo's
  // send) runs in the loops below, or is queued once at the end, instead of listing the fd again
  // for a pass that would find nothing left to do.
  if (st.connecting && st.writable) {
    DoConnect(fd, st);
  }
  if (!st.sends.empty() && st.writable) {
    DoSends(fd, st);
  }
  if (st.accept_armed && st.readable) {
    DoAccepts(fd, st);
  }
  if (st.receive_armed && st.readable) {
    DoReceives(fd, st);
  }
  st.queued = false;
  QueueIfRunnable(fd, st);
}

void EpollLoop::RunPasses() {
  for (int pass = 0; pass < kMaxPasses && (!run_.empty() || HasDeferred()); ++pass) {
    DeliverDeferred();
    run_batch_.clear();
    run_batch_.swap(run_);
    for (int fd : run_batch_) {
      ProcessFd(fd);
    }
  }
}

absl::StatusOr<int> EpollLoop::RunOnce(int64_t max_wait_ns) {
  delivered_ = 0;
  RunPasses();
  int64_t timeout_ns =
      (delivered_ > 0 || !run_.empty() || HasDeferred()) ? 0 : WaitTimeoutNs(max_wait_ns);

  epoll_event events[kMaxEvents];
  int n = -1;
  if (use_pwait2_) {
    // epoll_pwait2 (5.11) takes a timespec: timers fire on time instead of rounding to ms.
    timespec ts{};
    ts.tv_sec = timeout_ns / 1'000'000'000;
    ts.tv_nsec = timeout_ns % 1'000'000'000;
    n = epoll_pwait2(epoll_fd_.get(), events, kMaxEvents, timeout_ns < 0 ? nullptr : &ts, nullptr);
    if (n < 0 && errno == ENOSYS) {
      use_pwait2_ = false;
    }
  }
  if (!use_pwait2_) {
    // Round up: waking before the deadline would only spin back into the wait.
    int timeout_ms = timeout_ns < 0 ? -1 : static_cast<int>((timeout_ns + 999'999) / 1'000'000);
    n = epoll_wait(epoll_fd_.get(), events, kMaxEvents, timeout_ms);
  }
  if (n < 0) {
    if (errno != EINTR) {
      return ErrnoError(errno, "epoll_wait");
    }
    n = 0;
  }
  StartBatch();

  for (int i = 0; i < n; ++i) {
    int fd = events[i].data.fd;
    uint32_t mask = events[i].events;
    if (fd == wake_fd_.get()) {
      uint64_t value;
      [[maybe_unused]] ssize_t r = ::read(fd, &value, sizeof(value));
      continue;
    }
    if (static_cast<size_t>(fd) >= fds_.size() || !fds_[fd]) {
      continue;
    }
    FdState& st = *fds_[fd];
    if (mask & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
      st.readable = true;
    }
    st.short_read_drains = (mask & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) == 0;
    if (mask & (EPOLLOUT | EPOLLHUP | EPOLLERR)) {
      st.writable = true;
    }
    QueueIfRunnable(fd, st);
  }

  DeliverExpiredTimers();
  RunPasses();
  return delivered_;
}

}  // namespace socklab::loop

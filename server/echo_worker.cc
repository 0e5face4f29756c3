#include "server/echo_worker.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <optional>

#include "absl/time/time.h"
#include "core/base/check.h"
#include "core/base/clock.h"
#include "core/base/status.h"
#include "core/base/status_macros.h"
#include "core/net/error_class.h"
#include "core/net/socket.h"

namespace socklab::server {
namespace {

using loop::Completion;
using loop::Op;
using loop::Token;

// The worker's own operations: generation 0, which no connection has.
constexpr Token kAcceptToken = loop::WorkerToken(0);
constexpr Token kBackoffToken = loop::WorkerToken(1);
constexpr Token kSweepToken = loop::WorkerToken(2);
constexpr Token kListenerCloseToken = loop::WorkerToken(3);
constexpr Token kLingerToken = loop::WorkerToken(4);

// How often lingering connections are looked at: the granularity of --linger SECONDS.
constexpr int64_t kLingerPollNs = 10'000'000;  // 10 ms

// Accept back-off after running out of fds: long enough that a full fd table costs a few
// syscalls per second, short enough that the first freed fd is used soon.
constexpr int64_t kBackoffMinNs = 10'000'000;     // 10 ms
constexpr int64_t kBackoffMaxNs = 1'000'000'000;  // 1 s

// Spare 16 KiB chunks a worker keeps at least (1 MiB); a busy one keeps its working set.
constexpr size_t kPoolSpareChunks = 64;

// epoll reads into one buffer of 64 KiB, as a plain recv/send echo server does: a message up to
// that size arrives in one receive and, sent straight from it, goes back in one send (at 16 KiB
// a 16 KiB message took a second recv() to see EAGAIN). io_uring keeps the loop's default ring of
// 1024 x 20 KiB: 64 KiB buffers measured no better at 1 x 16 KiB, while a multishot pass that a
// cancel for backpressure leaves behind (up to ~30 buffers per connection, uring_loop.h) grows
// with the buffer size: 64 KiB doubled the RSS of 20 flooding peers
// (tests/reliability/memory_test.cc).
loop::LoopOptions EchoLoopOptions(loop::Backend backend) {
  loop::LoopOptions options;
  if (backend == loop::Backend::kEpoll) {
    options.receive_buffer_size = 64 * 1024;
  }
  return options;
}

int64_t ToNanos(absl::Duration d) { return absl::ToInt64Nanoseconds(d); }

// Whether close() with SO_LINGER would still be waiting on this socket: Linux's
// sk_stream_wait_close waits while the state is FIN_WAIT1, CLOSING or LAST_ACK, that is until the
// peer has acknowledged our FIN (and so every byte before it), or the connection is gone.
bool FinUnacknowledged(int fd) {
  tcp_info info{};
  socklen_t len = sizeof(info);
  if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &len) != 0) {
    return false;
  }
  return info.tcpi_state == TCP_FIN_WAIT1 || info.tcpi_state == TCP_CLOSING ||
         info.tcpi_state == TCP_LAST_ACK;
}

}  // namespace

EchoWorker::EchoWorker(const ServerOptions& options, UniqueFd listener, SharedState* shared)
    : options_(options),
      shared_(shared),
      fault_dice_(options.faults, shared->workers_created.fetch_add(1)),
      listener_(listener.Release()),
      pool_(kPoolSpareChunks) {
  // Timeouts are checked by one periodic sweep over the table rather than a timer per
  // connection: no timer churn on the data path, and a check costs a few ns per connection.
  int64_t shortest = 0;
  for (absl::Duration d : {options.idle_timeout, options.write_timeout}) {
    int64_t ns = ToNanos(d);
    if (ns > 0 && (shortest == 0 || ns < shortest)) {
      shortest = ns;
    }
  }
  if (shortest > 0) {
    sweep_period_ns_ = std::clamp<int64_t>(shortest / 8, 5'000'000, 1'000'000'000);
  }
}

EchoWorker::~EchoWorker() {
  for (int fd : parked_) {
    ::close(fd);
  }
  // Connections still in the table (Run() never ran or failed) give their fds back.
  for (size_t slot = 0; slot < table_.capacity(); ++slot) {
    Connection& conn = table_.at(static_cast<uint32_t>(slot));
    if (conn.state.owns_fd() && conn.fd >= 0) {
      ::close(conn.fd);
    }
  }
  loop_.reset();
  for (size_t slot = 0; slot < table_.capacity(); ++slot) {
    table_.at(static_cast<uint32_t>(slot)).echo.Clear(pool_);
  }
  if (listener_open_) {
    ::close(listener_);
  }
}

absl::StatusOr<std::unique_ptr<EchoWorker>> EchoWorker::Create(const ServerOptions& options,
                                                               loop::Backend backend,
                                                               UniqueFd listener,
                                                               SharedState* shared) {
  std::unique_ptr<EchoWorker> worker(new EchoWorker(options, std::move(listener), shared));
  // No close ever blocks: --linger SECONDS waits in the worker (StartLinger), not in close().
  SOCKLAB_ASSIGN_OR_RETURN(
      worker->loop_, loop::EventLoop::Create(backend, worker.get(), EchoLoopOptions(backend)));
  return worker;
}

absl::Status EchoWorker::Run() {
  UpdateAccept();
  if (sweep_period_ns_ > 0) {
    loop_->AddTimer(MonotonicNanos() + sweep_period_ns_, kSweepToken);
    sweep_armed_ = true;
  }
  while (true) {
    if (!draining_ && shared_->draining.load(std::memory_order_acquire)) {
      StartDrain();
    }
    int64_t wait_ns = -1;  // until a completion, a timer or a Wake()
    if (draining_) {
      int64_t now = MonotonicNanos();
      int64_t deadline = shared_->drain_deadline_ns.load(std::memory_order_relaxed);
      if (!cut_ && now >= deadline) {
        cut_ = true;
        CutAtDeadline();
      }
      if (!cut_) {
        ActivateParked();  // another worker may have freed room below --max-connections
      }
      if (table_.in_use() == 0 && parked_.empty() && !accept_armed_ && !listener_closing_) {
        break;
      }
      if (!cut_) {
        wait_ns = deadline - now;
      }
    } else {
      UpdateAccept();  // another worker may have freed room below --max-connections
    }
    absl::StatusOr<int> delivered = loop_->RunOnce(wait_ns);
    if (!delivered.ok()) {
      return delivered.status();
    }
  }
  return absl::OkStatus();
}

void EchoWorker::OnCompletion(const Completion& c) {
  if (c.op == Op::kAccept) {
    OnAccept(c);
    return;
  }
  if (c.op == Op::kClose && c.token == kListenerCloseToken) {
    listener_closing_ = false;
    if (c.res < 0) {
      stats_.RecordErrno(Phase::kClose, -c.res, MonotonicNanos());
    }
    return;
  }
  if (c.op == Op::kTimer) {
    OnTimer(c.token);
    return;
  }
  Connection* conn = table_.Find(c.token);
  // A connection is freed only once its last operation completed, so no completion can be
  // stale; one that is means the in-flight count is wrong.
  SOCKLAB_CHECK(conn != nullptr, "completion for a freed connection");
  uint32_t slot = loop::SlotOf(c.token);
  switch (c.op) {
    case Op::kReceive:
      OnReceive(*conn, slot, c);
      break;
    case Op::kSend:
      OnSend(*conn, slot, c);
      break;
    case Op::kClose:
      OnClose(*conn, slot, c);
      break;
    default:
      SOCKLAB_CHECK(false, "unexpected operation on a connection");
  }
  FreeIfDone(*conn, slot);
}

void EchoWorker::ActivateParked() {
  // Callers hold no Connection reference: activating a parked fd may grow the table.
  while (!parked_.empty() && TryReserve()) {
    int fd = parked_.front();
    parked_.pop_front();
    Activate(fd);
  }
}

bool EchoWorker::RefusingAccepts() const {
  const std::optional<uint64_t>& limit = options_.faults.refuse_after;
  return limit.has_value() && shared_->fault_accepts.load(std::memory_order_relaxed) >= *limit;
}

void EchoWorker::UpdateAccept() {
  ActivateParked();
  if (listener_open_ && RefusingAccepts()) {
    // Connections the kernel completed meanwhile are closed with the listener (RST to their
    // peers); every connect after that is answered with RST: ECONNREFUSED.
    stats_.AddFaultListenerClose();
    CloseListener();
  }
  uint64_t max = options_.max_connections;
  bool at_limit = max > 0 && shared_->open.load(std::memory_order_relaxed) >= max;
  if (at_limit && !limit_paused_) {
    stats_.AddAcceptPauseLimit();
  }
  limit_paused_ = at_limit;
  // --fault no-accept: the listener listens but nothing takes connections off its queue, so
  // once the queue is full (backlog + 1 on Linux) the kernel drops further SYNs.
  bool wanted = listener_open_ && !draining_ && !limit_paused_ && !backoff_armed_ &&
                !options_.faults.no_accept;
  if (wanted && !accept_armed_) {
    accept_armed_ = true;
    accept_cancel_sent_ = false;
    loop_->Accept(listener_, kAcceptToken);
  } else if (!wanted && accept_armed_ && !accept_cancel_sent_ && listener_open_) {
    // Connections that arrive meanwhile wait in the kernel's backlog.
    accept_cancel_sent_ = true;
    loop_->CancelAccept(listener_);
  }
}

void EchoWorker::ArmBackoff(int64_t now) {
  if (backoff_armed_) {
    return;
  }
  backoff_ns_ = backoff_ns_ == 0 ? kBackoffMinNs : std::min(backoff_ns_ * 2, kBackoffMaxNs);
  backoff_armed_ = true;
  loop_->AddTimer(now + backoff_ns_, kBackoffToken);
}

void EchoWorker::OnAccept(const Completion& c) {
  if (!c.more) {
    accept_armed_ = false;
    accept_cancel_sent_ = false;
  }
  if (c.res >= 0) {
    OnAccepted(c.res);
  } else if (c.more) {
    // An error of the one connection being handed over (ECONNABORTED: the peer gave up while it
    // sat in the backlog; EPROTO, ...): counted, and the accept stays armed.
    stats_.RecordErrno(Phase::kAccept, -c.res, loop_->BatchNanos());
  } else if (c.res != -ECANCELED) {  // ECANCELED: our CancelAccept (limit, back-off) or the
                                     // listener's Close (drain)
    int err = -c.res;
    const int64_t now = loop_->BatchNanos();
    stats_.RecordErrno(Phase::kAccept, err, now);
    if (IsLocalShortage(Phase::kAccept, err)) {
      // Out of fds or socket memory: the connection stays in the backlog, so accepting again
      // at once would fail again at once.
      stats_.AddAcceptPauseNoFds();
    }
    // Back off and retry; unknown accept failures (EPERM from a firewall hook, ...) must not
    // spin either.
    ArmBackoff(now);
  }
  if (!draining_) {
    UpdateAccept();
  }
}

bool EchoWorker::TryReserve() {
  uint64_t max = options_.max_connections;
  uint64_t open = shared_->open.load(std::memory_order_relaxed);
  do {
    if (max > 0 && open >= max) {
      return false;
    }
  } while (!shared_->open.compare_exchange_weak(open, open + 1, std::memory_order_relaxed));
  return true;
}

void EchoWorker::OnAccepted(int fd) {
  // While draining, a connection handed over before the listener's close landed is served like
  // the others: the kernel completed it, and its peer may already have sent a request.
  if (cut_) {
    stats_.AddDrainCut(loop_->UnreadBytes(fd));
    ::close(fd);
    return;
  }
  if (const std::optional<uint64_t>& limit = options_.faults.refuse_after; limit.has_value()) {
    uint64_t accepted = shared_->fault_accepts.fetch_add(1, std::memory_order_relaxed) + 1;
    if (accepted > *limit) {
      // Accepted by another worker's multishot accept before its listener closed: past the
      // count, so aborted at once rather than served.
      (void)SetLinger(fd, Linger{Linger::Mode::kReset, 0});
      ::close(fd);
      stats_.AddFaultRefusedLate();
      return;
    }
    if (accepted == *limit) {
      for (EchoWorker* worker : shared_->workers) {
        if (worker != this) {
          worker->Wake();  // their listeners close too (UpdateAccept)
        }
      }
    }
  }
  if (!TryReserve()) {
    // Workers accept concurrently, and a multishot accept may complete before its cancel: rather
    // than close a connection the kernel already completed (the client would see a spurious
    // EOF), hold it unread until a place frees up. The limit on open connections stays exact.
    parked_.push_back(fd);
    stats_.AddParkedOverLimit();
    return;
  }
  Activate(fd);
}

void EchoWorker::Activate(int fd) {
  // The socket options came with the socket: it inherited them from the listener (see
  // EchoServer::Start).
  backoff_ns_ = 0;
  uint32_t slot = table_.Allocate();
  Connection& conn = table_.at(slot);
  conn.fd = fd;
  conn.last_activity_ns = ActivityNanos();
  conn.send_progress_ns = conn.last_activity_ns;
  stats_.AddAccepted();
  if (!options_.faults.per_connection() || StartFaults(conn, slot, loop_->BatchNanos())) {
    if (conn.state.reads_on() && !(conn.faulted && options_.faults.blackhole)) {
      StartReceive(conn, slot);
    }
  }
}

bool EchoWorker::StartFaults(Connection& conn, uint32_t slot, int64_t now) {
  const FaultPlan& plan = options_.faults;
  conn.faulted = fault_dice_.Roll();
  if (!conn.faulted) {
    return true;
  }
  conn.accepted_ns = now;
  auto at_once = [](const std::optional<FaultTrigger>& t) {
    return t.has_value() && t->bytes.has_value() && *t->bytes == 0;
  };
  if (at_once(plan.reset_after)) {
    AbortConnection(conn, slot);
    return false;
  }
  if (plan.blackhole) {
    stats_.AddFaultBlackhole();
  }
  if (plan.paced()) {
    stats_.AddFaultPaced();
    conn.held = std::make_unique<HeldEcho>();
  }
  if (at_once(plan.stop_reading_after)) {
    StopReading(conn);
  }
  if (at_once(plan.half_close_after)) {
    HalfClose(conn);
  }
  if (at_once(plan.close_after)) {
    EndStream(conn, slot);
  }
  ApplyDueTimeFaults(conn, slot, now);
  return !conn.state.closing();
}

void EchoWorker::ApplyDueTimeFaults(Connection& conn, uint32_t slot, int64_t now) {
  const FaultPlan& plan = options_.faults;
  int64_t age = now - conn.accepted_ns;
  std::optional<int64_t> next;  // the age at which the next trigger comes due
  auto due = [&](const std::optional<FaultTrigger>& t) {
    if (!t.has_value() || !t->time.has_value()) {
      return false;
    }
    int64_t at = ToNanos(*t->time);
    if (age >= at) {
      return true;
    }
    next = std::min(next.value_or(at), at);
    return false;
  };
  bool reset = due(plan.reset_after);
  bool stop_reading = due(plan.stop_reading_after);
  bool half_close = due(plan.half_close_after);
  bool close = due(plan.close_after);
  if (conn.state.closing()) {
    return;
  }
  if (reset) {
    AbortConnection(conn, slot);
    return;
  }
  if (stop_reading && !conn.state.read_stopped()) {
    StopReading(conn);
  }
  if (half_close && !conn.state.half_close_requested()) {
    HalfClose(conn);
  }
  if (close) {
    EndStream(conn, slot);
  }
  // One trigger timer at a time (a release timer with the same token runs this too).
  if (!conn.state.closing() && next.has_value() &&
      conn.accepted_ns + *next != conn.trigger_timer_ns) {
    conn.trigger_timer_ns = conn.accepted_ns + *next;
    loop_->AddTimer(conn.trigger_timer_ns, table_.TokenOf(slot));
  }
}

void EchoWorker::HoldBack(Connection& conn, uint32_t slot, size_t n, int64_t now) {
  const FaultPlan& plan = options_.faults;
  HeldEcho& held = *conn.held;
  int64_t base = now;
  if (plan.delay.has_value()) {
    base += ToNanos(*plan.delay) + fault_dice_.JitterNs(ToNanos(plan.jitter));
  }
  // Pieces: slices of slice_bytes, or 20 ms worth of the rate, or the whole chunk.
  size_t piece = n;
  if (plan.slice_bytes > 0) {
    piece = std::min<size_t>(piece, plan.slice_bytes);
  }
  if (plan.rate > 0) {
    piece = std::min<size_t>(piece, std::max<uint64_t>(plan.rate / 50, 1));
  }
  for (size_t off = 0; off < n; off += piece) {
    size_t size = std::min(piece, n - off);
    // Never before an earlier piece: jitter does not reorder the echo.
    int64_t release = std::max(base, held.last_release_ns);
    if (plan.slice_bytes > 0 && held.last_release_ns != 0) {
      release = std::max(release, held.last_release_ns + ToNanos(plan.slice_gap));
    }
    if (plan.rate > 0) {
      // Released once the rate has paid for it.
      release = std::max(release, held.last_release_ns) +
                static_cast<int64_t>(size * 1'000'000'000ULL / plan.rate);
    }
    held.chunks.emplace_back(release, size);
    held.last_release_ns = release;
  }
  held.bytes += n;
  ReleaseHeld(conn, slot, now);
}

void EchoWorker::ReleaseHeld(Connection& conn, uint32_t slot, int64_t now) {
  HeldEcho& held = *conn.held;
  if (held.timer_ns != 0 && now >= held.timer_ns) {
    held.timer_ns = 0;
  }
  while (!held.chunks.empty() && held.chunks.front().first <= now) {
    held.bytes -= held.chunks.front().second;
    held.chunks.pop_front();
  }
  StartSend(conn, slot);
  if (held.timer_ns == 0 && !held.chunks.empty()) {
    held.timer_ns = held.chunks.front().first;
    loop_->AddTimer(held.timer_ns, table_.TokenOf(slot));
  }
}

void EchoWorker::OnFaultTimer(Token token) {
  Connection* conn = table_.Find(token);
  if (conn == nullptr || conn->state.closing()) {
    return;  // closed before its fault came due
  }
  int64_t now = MonotonicNanos();
  uint32_t slot = loop::SlotOf(token);
  if (conn->trigger_timer_ns != 0 && now >= conn->trigger_timer_ns) {
    conn->trigger_timer_ns = 0;
  }
  ApplyDueTimeFaults(*conn, slot, now);
  if (conn->held != nullptr && !conn->state.closing()) {
    ReleaseHeld(*conn, slot, now);
  }
}

void EchoWorker::StopReading(Connection& conn) {
  stats_.AddFaultStopReading();
  conn.state.StopReading();
  if (conn.state.CancelReceive()) {
    loop_->CancelReceive(conn.fd);
  }
}

void EchoWorker::HalfClose(Connection& conn) {
  stats_.AddFaultHalfClose();
  conn.state.RequestHalfClose();
  ShutWriteIfDue(conn);
}

void EchoWorker::ShutWriteIfDue(Connection& conn) {
  if (conn.state.half_close() == ConnectionState::HalfClose::kPending && !conn.state.sending() &&
      conn.pending() == 0) {
    conn.state.ShutWrite();
    // The FIN goes out behind the echo already in the send queue; reading goes on.
    ::shutdown(conn.fd, SHUT_WR);
  }
}

void EchoWorker::AbortConnection(Connection& conn, uint32_t slot) {
  stats_.AddFaultReset();
  (void)SetLinger(conn.fd, Linger{Linger::Mode::kReset, 0});
  SubmitClose(conn, slot);
}

void EchoWorker::EndStream(Connection& conn, uint32_t slot) {
  if (!conn.state.EndReads()) {
    return;  // the peer finished first: its own EOF closes the connection
  }
  stats_.AddFaultClose();
  if (conn.state.CancelReceive()) {
    loop_->CancelReceive(conn.fd);
  }
  if (!conn.state.sending() && conn.pending() == 0) {
    CloseConnection(conn, slot);
  }
}

void EchoWorker::StartReceive(Connection& conn, uint32_t slot) {
  conn.state.StartReceive();
  loop_->Receive(conn.fd, table_.TokenOf(slot));
}

void EchoWorker::StartSend(Connection& conn, uint32_t slot) {
  if (conn.state.sending() || !conn.state.live() || conn.pending() == 0) {
    return;
  }
  if (conn.direct_size > 0) {
    // The rest of a short direct send: it goes before the queue.
    conn.state.StartSend();
    loop_->Send(conn.fd, conn.direct_data, conn.direct_size, table_.TokenOf(slot));
    return;
  }
  // One send in flight per connection keeps the bytes in order without relying on the
  // backend's ordering; its bytes stay put in the queue's front chunk until it completes.
  size_t size = conn.echo.front_size();
  if (conn.held != nullptr) {
    size_t released = conn.echo.size() - conn.held->bytes;  // --fault delay
    if (released == 0) {
      return;
    }
    size = std::min(size, released);
    if (options_.faults.slice_bytes > 0) {
      size = std::min<size_t>(size, options_.faults.slice_bytes);  // each slice its own send
    }
  }
  conn.state.StartSend();
  loop_->Send(conn.fd, conn.echo.front_data(), size, table_.TokenOf(slot));
}

void EchoWorker::CloseConnection(Connection& conn, uint32_t slot) {
  if (conn.state.closing()) {
    return;
  }
  // Unread bytes make any close an RST at once (tcp_close), lingering or not. While draining
  // nothing lingers: the wait would only hold up the exit, and the bytes and the FIN go out the
  // same without it, as at process exit, where the kernel never lingers either.
  if (options_.linger.mode == Linger::Mode::kSeconds && !draining_ &&
      loop_->UnreadBytes(conn.fd) == 0) {
    StartLinger(conn, slot);
    return;
  }
  SubmitClose(conn, slot);
}

void EchoWorker::SubmitClose(Connection& conn, uint32_t slot) {
  conn.state.SubmitClose();
  // The loop cancels the receive and any send (each completes with -ECANCELED), then closes.
  loop_->Close(conn.fd, table_.TokenOf(slot));
}

void EchoWorker::StartLinger(Connection& conn, uint32_t slot) {
  conn.state.BeginLinger();
  conn.linger_until_ns = MonotonicNanos() + int64_t{options_.linger.seconds} * 1'000'000'000;
  if (conn.state.CancelReceive()) {
    loop_->CancelReceive(conn.fd);
  }
  // What close() does before it waits: the FIN goes out after the bytes already in the send
  // queue (our own queue's are dropped, as close() drops them), and data the peer sends from now
  // on is answered with RST (RCV_SHUTDOWN in FIN_WAIT1/2).
  ::shutdown(conn.fd, SHUT_RDWR);
  lingering_.push_back(table_.TokenOf(slot));
  if (!linger_timer_armed_) {
    linger_timer_armed_ = true;
    loop_->AddTimer(MonotonicNanos() + kLingerPollNs, kLingerToken);
  }
}

void EchoWorker::CheckLingering(bool stop_waiting) {
  int64_t now = MonotonicNanos();
  size_t kept = 0;
  for (Token token : lingering_) {
    Connection* conn = table_.Find(token);
    SOCKLAB_CHECK(conn != nullptr && conn->state.lingering(), "a lingering connection went away");
    if (stop_waiting || now >= conn->linger_until_ns || !FinUnacknowledged(conn->fd)) {
      SubmitClose(*conn, loop::SlotOf(token));
    } else {
      lingering_[kept++] = token;
    }
  }
  lingering_.resize(kept);
}

void EchoWorker::ReleaseDirect(Connection& conn) {
  loop_->ReleaseReceiveBuffer(conn.direct_hold);
  conn.direct_hold = -1;
  conn.direct_data = nullptr;
  conn.direct_size = 0;
}

void EchoWorker::FreeIfDone(Connection& conn, uint32_t slot) {
  if (conn.state.done()) {
    // Its last send completed, which ended any hold.
    SOCKLAB_CHECK(conn.direct_hold < 0, "a connection freed with a receive buffer held");
    conn.echo.Clear(pool_);
    conn.held.reset();
    table_.Free(slot);
  }
}

void EchoWorker::OnReceive(Connection& conn, uint32_t slot, const Completion& c) {
  if (!c.more) {
    conn.state.ReceiveEnded();
  }
  size_t cap = options_.max_pending_bytes;
  if (c.res > 0) {
    stats_.AddBytesIn(static_cast<uint64_t>(c.res));
    uint64_t received_before = conn.received;
    conn.received += static_cast<uint64_t>(c.res);
    if (!conn.state.reads_on()) {
      // Closing (timeout, error, drain deadline): nobody will read the echo. After EndStream or
      // StopReading: bytes a multishot receive delivered before its cancel landed.
      return;
    }
    conn.last_activity_ns = ActivityNanos();
    if (conn.state.half_close_requested()) {
      // After half-close-after: read on (the peer's writes still work), echo nothing.
      const std::optional<FaultTrigger>& stop = options_.faults.stop_reading_after;
      if (stop.has_value() && stop->bytes.has_value() && conn.received >= *stop->bytes) {
        StopReading(conn);
      }
      if (conn.state.receive_idle() && conn.state.reads_on()) {
        StartReceive(conn, slot);
      }
      return;
    }
    size_t take = static_cast<size_t>(c.res);
    bool end_stream = false;
    bool half_close = false;
    bool stop_reading = false;
    if (conn.faulted) {
      const FaultPlan& plan = options_.faults;
      // Whether this receive reaches the trigger's byte count; if so, `take` keeps only the
      // bytes up to it: exactly the first N bytes are echoed.
      auto reached = [&](const std::optional<FaultTrigger>& t) {
        if (!t.has_value() || !t->bytes.has_value() || conn.received < *t->bytes) {
          return false;
        }
        take = std::min(take, static_cast<size_t>(*t->bytes - received_before));
        return true;
      };
      if (reached(plan.reset_after)) {
        AbortConnection(conn, slot);  // the bytes of this receive are never echoed
        return;
      }
      stop_reading = reached(plan.stop_reading_after);
      half_close = reached(plan.half_close_after);
      end_stream = reached(plan.close_after);
    }
    if (conn.pending() == 0 && conn.handed == conn.acked) {
      conn.send_progress_ns = ActivityNanos();  // the write timeout counts from when bytes wait
    }
    int hold = -1;
    if (!conn.faulted && !conn.state.sending() && conn.pending() == 0 && conn.state.live()) {
      // Nothing waits before these bytes: echo them from the receive buffer itself, as a plain
      // recv/send server does, instead of copying them into the queue first.
      hold = loop_->HoldReceiveBuffer();
    }
    if (hold >= 0) {
      conn.direct_hold = hold;
      conn.direct_data = c.data;
      conn.direct_size = take;
    } else {
      conn.echo.Append(c.data, take, pool_);
    }
    if (conn.held != nullptr) {
      HoldBack(conn, slot, take, MonotonicNanos());  // pacing: the clock itself
    }
    StartSend(conn, slot);
    if (stop_reading) {
      StopReading(conn);
    }
    if (half_close) {
      HalfClose(conn);
    }
    if (end_stream) {
      EndStream(conn, slot);
    }
    if (stop_reading || half_close || end_stream) {
      if (conn.state.receive_idle() && conn.state.reads_on()) {
        StartReceive(conn, slot);  // half-close-after reads on
      }
      return;
    }
    if (conn.pending() > cap) {
      if (conn.state.CancelReceive()) {
        // Backpressure: the peer is not reading its echo. Stop reading so its bytes wait in our
        // socket receive buffer and its TCP window closes, instead of in our memory.
        stats_.AddBackpressurePause();
        loop_->CancelReceive(conn.fd);
      }
    } else if (conn.state.receive_idle() && conn.state.reads_on()) {
      StartReceive(conn, slot);  // the receive ended without EOF or error: keep reading
    }
    return;
  }
  if (c.res == 0) {
    conn.state.EndReads();
    // Half close: the echo of everything received still goes out before our FIN.
    if (!conn.state.sending() && conn.pending() == 0) {
      CloseConnection(conn, slot);
    }
    return;
  }
  int err = -c.res;
  if (err == ECANCELED) {
    // Our CancelReceive (backpressure) or Close. Resume if the echo drained meanwhile.
    if (conn.state.reads_on() && conn.state.receive_idle() && conn.pending() <= cap / 2) {
      StartReceive(conn, slot);
    }
    return;
  }
  if (conn.state.closing()) {
    return;
  }
  stats_.RecordErrno(Phase::kRead, err, loop_->BatchNanos());
  CloseConnection(conn, slot);
}

void EchoWorker::OnSend(Connection& conn, uint32_t slot, const Completion& c) {
  conn.state.SendEnded();
  if (conn.direct_hold >= 0) {
    // The send was a direct one (sends complete in order, one at a time).
    size_t sent = c.res > 0 ? static_cast<size_t>(c.res) : 0;
    conn.direct_data += sent;
    conn.direct_size -= sent;
    if (conn.direct_size == 0 || c.res < 0 || conn.state.closing()) {
      ReleaseDirect(conn);
    }
  } else if (c.res >= 0) {
    conn.echo.Consume(static_cast<size_t>(c.res), pool_);
  }
  if (c.res >= 0) {
    stats_.AddBytesOut(static_cast<uint64_t>(c.res));
    conn.handed += static_cast<uint64_t>(c.res);
    if (conn.state.closing()) {
      return;
    }
    if (c.res > 0) {
      // Not progress for the write timeout: the kernel taking bytes says nothing about the peer.
      conn.last_activity_ns = ActivityNanos();
    }
    if (conn.state.receive_idle() && conn.state.reads_on() &&
        conn.pending() <= options_.max_pending_bytes / 2) {
      StartReceive(conn, slot);  // backpressure released
    }
    if (conn.pending() > 0) {
      StartSend(conn, slot);  // the rest of a short send, or bytes that arrived meanwhile
    } else if (conn.state.finishing()) {
      CloseConnection(conn, slot);
    } else {
      ShutWriteIfDue(conn);
    }
    return;
  }
  int err = -c.res;
  if (err == ECANCELED || conn.state.closing()) {
    return;
  }
  stats_.RecordErrno(Phase::kWrite, err, loop_->BatchNanos());
  CloseConnection(conn, slot);
}

void EchoWorker::OnClose(Connection& conn, uint32_t /*slot*/, const Completion& c) {
  conn.state.CloseCompleted();
  if (c.res < 0) {
    stats_.RecordErrno(Phase::kClose, -c.res, MonotonicNanos());
  }
  stats_.AddClosed();
  uint64_t before = shared_->open.fetch_sub(1, std::memory_order_relaxed);
  uint64_t max = options_.max_connections;
  if (max > 0 && before >= max) {
    // There is room again: workers paused at the limit re-check it when woken.
    for (EchoWorker* worker : shared_->workers) {
      if (worker != this) {
        worker->Wake();
      }
    }
  }
}

void EchoWorker::OnTimer(Token token) {
  if (!loop::IsWorkerToken(token)) {
    OnFaultTimer(token);  // only --fault arms timers with a connection's token
    return;
  }
  int64_t now = MonotonicNanos();
  if (token == kLingerToken) {
    linger_timer_armed_ = false;
    CheckLingering(/*stop_waiting=*/false);
    if (!lingering_.empty()) {
      linger_timer_armed_ = true;
      loop_->AddTimer(now + kLingerPollNs, kLingerToken);
    }
    return;
  }
  if (token == kBackoffToken) {
    backoff_armed_ = false;
    if (!draining_) {
      UpdateAccept();
    }
    return;
  }
  if (token == kSweepToken) {
    Sweep(now);
    if (!draining_ || table_.in_use() > 0) {
      loop_->AddTimer(now + sweep_period_ns_, kSweepToken);
    } else {
      sweep_armed_ = false;
    }
  }
}

void EchoWorker::Sweep(int64_t now) {
  int64_t idle_ns = ToNanos(options_.idle_timeout);
  int64_t write_ns = ToNanos(options_.write_timeout);
  for (size_t i = 0; i < table_.capacity(); ++i) {
    uint32_t slot = static_cast<uint32_t>(i);
    Connection& conn = table_.at(slot);
    if (!conn.state.live()) {
      continue;
    }
    // Counted once, as timeouts: they are the server's own decisions, not errors the kernel
    // reported, so they stay out of the error table.
    if (idle_ns > 0 && now - conn.last_activity_ns >= idle_ns) {
      stats_.AddIdleTimeout();
      CloseConnection(conn, slot);
    } else if (write_ns > 0 && WriteStalled(conn, now, write_ns)) {
      stats_.AddWriteTimeout();
      CloseConnection(conn, slot);
    }
  }
}

bool EchoWorker::WriteStalled(Connection& conn, int64_t now, int64_t write_timeout_ns) {
  bool waiting = conn.pending() > 0;
  if (conn.handed != conn.acked) {
    // Bytes of ours may still be in the kernel's send queue: the peer took them when the queue
    // shrank. Only a rise counts: on io_uring a send in flight may have copied bytes into the
    // queue before its completion added them to `handed`, which lowers the difference for a
    // moment without the peer doing anything.
    if (std::optional<uint64_t> unacked = UnackedSendBytes(conn.fd); unacked.has_value()) {
      uint64_t acked = conn.handed - std::min(*unacked, conn.handed);
      if (acked > conn.acked) {
        conn.acked = acked;
        conn.send_progress_ns = now;
      }
      waiting = waiting || *unacked > 0;
    }
  }
  return waiting && now - conn.send_progress_ns >= write_timeout_ns;
}

void EchoWorker::StartDrain() {
  draining_ = true;
  // At once, so the kernel stops steering new connections to this (reuseport) listener while
  // the others drain; with a shared listener only this worker's dup goes. Everything else goes on
  // as before: connections close when their peers close them, or at the deadline.
  CloseListener();
  // Lingering closes stop waiting: nothing lingers during the drain (see CloseConnection).
  CheckLingering(/*stop_waiting=*/true);
}

uint64_t EchoWorker::UnechoedBytes(const Connection& conn) {
  uint64_t unread = loop_->UnreadBytes(conn.fd);
  uint64_t lost = conn.pending() + unread;
  if (unread > 0 || options_.linger.mode == Linger::Mode::kReset) {
    lost += UnackedSendBytes(conn.fd).value_or(0);
  }
  return lost;
}

void EchoWorker::CutAtDeadline() {
  for (int fd : parked_) {
    stats_.AddDrainCut(loop_->UnreadBytes(fd));
    ::close(fd);
  }
  parked_.clear();
  for (size_t i = 0; i < table_.capacity(); ++i) {
    uint32_t slot = static_cast<uint32_t>(i);
    Connection& conn = table_.at(slot);
    if (conn.state.live()) {
      stats_.AddDrainCut(UnechoedBytes(conn));
      CloseConnection(conn, slot);
    }
  }
}

void EchoWorker::CloseListener() {
  if (!listener_open_) {
    return;
  }
  listener_open_ = false;
  listener_closing_ = true;
  // Not ::close(): an io_uring multishot accept holds its own reference to the listener.
  loop_->Close(listener_, kListenerCloseToken);
}

}  // namespace socklab::server

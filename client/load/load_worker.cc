#include "client/load/load_worker.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <algorithm>
#include <optional>

#include "absl/strings/str_cat.h"
#include "core/base/check.h"
#include "core/base/clock.h"
#include "core/base/errno_name.h"
#include "core/base/status.h"
#include "core/net/socket.h"

namespace socklab::client {
namespace {

// The worker's own timers: generation 0, which no connection has.
constexpr loop::Token kTickToken = loop::WorkerToken(0);
constexpr loop::Token kStartToken = loop::WorkerToken(1);
constexpr loop::Token kShortageToken = loop::WorkerToken(2);
// Connections a worker starts before it lets the loop reap completions. Started all at once,
// thousands of socket()+connect() calls delay the first ones' completions by the whole burst
// (102 ms median for 2000), which would be charged to connect latency.
constexpr size_t kStartBatch = 16;
// The tick checks deadlines and publishes counters; 20 ms keeps the read/connect deadlines
// within 20 ms of their setting and costs one pass over the connections 50 times a second.
constexpr int64_t kTickNs = 20'000'000;
// Failed connects before an unreachable target (never connected once) aborts the run.
constexpr uint64_t kUnreachableAfter = 3;

int64_t ToNs(absl::Duration d) { return absl::ToInt64Nanoseconds(d); }

// The kernel's state of a connecting socket: true once the handshake completed.
bool HandshakeCompleted(int fd) {
  tcp_info info = {};
  socklen_t length = sizeof(info);
  return getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &length) == 0 &&
         info.tcpi_state == TCP_ESTABLISHED;
}

}  // namespace

void LoadShared::Abort(const std::string& reason) {
  {
    std::lock_guard<std::mutex> lock(abort_mutex);
    if (abort_reason.empty()) {
      abort_reason = reason;
      stop_ns.store(MonotonicNanos(), std::memory_order_relaxed);
    }
  }
  stop.store(true, std::memory_order_release);
}

LoadWorker::LoadWorker(LoadShared* shared, std::vector<int> connection_ids, int64_t budget,
                       double rate_share, double connect_rate_share)
    : shared_(shared),
      options_(*shared->options),
      connect_pacer_(connect_rate_share),
      budget_(options_.messages, options_.churn, budget) {
  conns_.resize(connection_ids.size());
  for (size_t i = 0; i < conns_.size(); ++i) {
    conns_[i].slot = static_cast<uint32_t>(i);
    conns_[i].id = connection_ids[i];
    conns_[i].pipeline = MessagePipeline(options_.pipeline);
    // Seeded by the connection's number: its retries keep their own times, run after run.
    conns_[i].retry =
        Backoff(kRetryInitialNs, kRetryMaxNs, PayloadPattern::Mix(connection_ids[i]) | 1);
  }
  if (rate_share > 0 && !conns_.empty()) {
    interval_ns_ = 1e9 * static_cast<double>(conns_.size()) / rate_share;
  }
}

LoadWorker::~LoadWorker() = default;

void LoadWorker::Run() {
  absl::StatusOr<std::unique_ptr<loop::EventLoop>> loop =
      loop::EventLoop::Create(shared_->backend, this);
  if (!loop.ok()) {
    status_ = loop.status();
    shared_->workers_starting.fetch_sub(1, std::memory_order_relaxed);
    shared_->Abort(absl::StrCat("event loop: ", loop.status().message()));
    shared_->loops_created.count_down();
    done_.store(true, std::memory_order_release);
    return;
  }
  loop_ = std::move(*loop);
  // No connection starts before every thread has its loop: with -c beyond the fd limit the
  // first thread's connections would take the fds the others' rings or epoll need.
  shared_->loops_created.arrive_and_wait();
  now_ns_ = MonotonicNanos();
  connect_pacer_.Start(Now());
  for (Conn& c : conns_) {
    // Open loop: spread the connections' schedules over one interval so they do not send in
    // lockstep.
    if (interval_ns_ > 0) {
      c.next_intended_ns =
          shared_->start_ns + static_cast<int64_t>(interval_ns_ * c.slot / conns_.size());
      c.schedule_origin_ns = c.next_intended_ns;
    }
  }
  tick_timer_ = loop_->AddTimer(Now() + kTickNs, kTickToken);
  StartNextBatch();
  if (conns_.empty()) {
    BeginStop(true);
  }
  absl::Status run = loop_->Run();
  if (!run.ok()) {
    status_ = run;
    shared_->Abort(absl::StrCat("event loop: ", run.message()));
  }
  now_ns_ = MonotonicNanos();
  Publish();
  // Connections still owned here (a failed loop) are closed by their fds; the loop closed the
  // rest.
  for (Conn& c : conns_) {
    if (c.fd >= 0 && c.state != State::kClosing) {
      UniqueFd owned(c.fd);
    }
  }
  loop_.reset();
  done_.store(true, std::memory_order_release);
}

WorkerCounters LoadWorker::TakeInterval(Histogram* interval_into, Histogram* connect_into,
                                        ErrorCounts* errors_into) {
  std::lock_guard<std::mutex> lock(publish_mutex_);
  interval_into->Merge(published_interval_);
  published_interval_.Reset();
  connect_into->Merge(published_connect_interval_);
  published_connect_interval_.Reset();
  errors_into->Merge(published_errors_);
  return published_;
}

void LoadWorker::Publish() {
  counters_.shortage_failures = gate_.shortage_failures();
  counters_.shortage_waits = gate_.waits();
  counters_.shortage_ns = gate_.shortage_ns(Now());
  std::lock_guard<std::mutex> lock(publish_mutex_);
  published_ = counters_;
  published_.errors = errors_.Total() + warmup_errors_.Total();
  published_interval_.Merge(interval_);
  interval_.Reset();
  published_connect_interval_.Merge(connect_interval_);
  connect_interval_.Reset();
  published_errors_ = errors_;
  published_errors_.Merge(warmup_errors_);
}

bool LoadWorker::MayIssue(int64_t intended_ns) const {
  if (stopping_) {
    return false;
  }
  return shared_->end_ns == 0 || intended_ns < shared_->end_ns;
}

bool LoadWorker::CountError() {
  const uint64_t total = shared_->errors.fetch_add(1, std::memory_order_relaxed) + 1;
  if (options_.max_errors == 0) {
    return true;
  }
  if (total > options_.max_errors + 1) {
    return false;
  }
  if (total == options_.max_errors + 1) {
    shared_->Abort(absl::StrCat("more than ", options_.max_errors, " errors (--max-errors)"));
  }
  return true;
}

void LoadWorker::RecordErrno(Phase phase, int err) {
  SOCKLAB_CHECK(!IsProgrammerError(phase, err), ErrnoName(err).c_str());
  if (CountError()) {
    ErrorsNow().RecordErrno(phase, err, Now());
  }
}

void LoadWorker::RecordClass(Phase phase, ErrorClass error_class) {
  if (CountError()) {
    ErrorsNow().RecordClass(phase, error_class, Now());
  }
}

void LoadWorker::AttemptFailed(bool local, Phase phase, int err) {
  if (shared_->connects_ok.load(std::memory_order_relaxed) > 0) {
    return;  // the target was reached: every failure from now on is counted and retried
  }
  if (!local) {
    const uint64_t failures = shared_->connect_failures.fetch_add(1, std::memory_order_relaxed) + 1;
    if (failures >= kUnreachableAfter) {
      // Worded by the engine after the run, with every attempt counted (connections that were
      // already connecting fail after this one).
      shared_->unreachable.store(true, std::memory_order_relaxed);
      shared_->Abort(kUnreachableReason);
    }
    return;
  }
  // Running out of fds or ports while other connections are connecting is normal with a large
  // -c (every connection starts before any connect completes): those will succeed or free what
  // is missing. Only when nothing is alive can no retry ever succeed.
  if (shared_->live_connections.load(std::memory_order_relaxed) > 0 ||
      shared_->workers_starting.load(std::memory_order_relaxed) > 0) {
    return;
  }
  const uint64_t stuck = shared_->stuck_local_failures.fetch_add(1, std::memory_order_relaxed) + 1;
  if (stuck >= kUnreachableAfter) {
    shared_->Abort(absl::StrCat("could not open a connection to ", options_.target.ToString(), ": ",
                                PhaseName(phase), " ", ErrnoName(err), " (", stuck,
                                " attempts failed on this machine, none succeeded)"));
  }
}

void LoadWorker::ArmTimer(Conn& c, int64_t at_ns) {
  CancelTimer(c);
  c.timer = loop_->AddTimer(at_ns, TokenOf(c));
  c.timer_armed = true;
}

void LoadWorker::CancelTimer(Conn& c) {
  if (c.timer_armed) {
    loop_->CancelTimer(c.timer);
    c.timer_armed = false;
  }
}

void LoadWorker::ScheduleRetry(Conn& c) {
  if (stopping_) {
    c.state = State::kIdle;
    return;
  }
  // Exponential back-off with jitter so a refused or overloaded target is not hammered in
  // lockstep by every connection.
  c.state = State::kWaiting;
  ArmTimer(c, Now() + c.retry.Next());
}

void LoadWorker::ReturnReservation(Conn& c) {
  budget_.ReturnReserved(c.reserved);
  c.reserved = 0;
}

void LoadWorker::WaitForShortage(Conn& c) {
  c.state = State::kWaiting;
  if (std::optional<int64_t> probe_at = gate_.OnShortage(c.slot, Now())) {
    ArmShortageTimer(*probe_at);
  }
}

void LoadWorker::ArmShortageTimer(int64_t at_ns) {
  if (shortage_timer_ != 0) {
    loop_->CancelTimer(shortage_timer_);
  }
  shortage_timer_ = loop_->AddTimer(at_ns, kShortageToken);
}

void LoadWorker::OnShortageTimer() {
  shortage_timer_ = 0;
  if (stopping_) {
    return;
  }
  if (std::optional<uint32_t> probe = gate_.OnProbeTime(Now())) {
    Resume(*probe);
  }
}

void LoadWorker::PassedLocalLimits(const Conn& c) {
  for (const uint32_t slot : gate_.OnThrough(c.slot, Now())) {
    Resume(slot);
  }
}

void LoadWorker::Resume(uint32_t slot) {
  Conn& c = conns_[slot];
  if (c.state == State::kClosing) {
    c.after_close = AfterClose::kReopen;  // its failed connect is still being closed
  } else if (c.state == State::kWaiting || c.state == State::kIdle) {
    StartConnect(c);
  }
}

void LoadWorker::StartConnect(Conn& c) {
  if (stopping_) {
    c.state = State::kIdle;
    return;
  }
  if (!gate_.MayStart(c.slot)) {
    // This machine is short of fds, ports or socket memory: one attempt at a time tries.
    c.state = State::kWaiting;
    gate_.Park(c.slot);
    return;
  }
  if (connect_pacer_.paced() && !c.connect_slot_reserved) {
    const int64_t at = connect_pacer_.Reserve(Now());
    if (at > Now()) {
      c.connect_slot_reserved = true;
      c.state = State::kWaiting;
      ArmTimer(c, at);
      return;
    }
  }
  c.connect_slot_reserved = false;
  if (budget_.reserves()) {
    // With churn, each incarnation takes its messages from the budget up front, so no
    // connection is opened that will find nothing left to send.
    c.reserved = budget_.ReserveIncarnation();
    if (c.reserved == 0) {
      c.state = State::kIdle;
      if (std::optional<int64_t> probe_at = gate_.OnAbandoned(c.slot, Now())) {
        ArmShortageTimer(*probe_at);
      }
      MaybeFinish();
      return;
    }
  }
  c.gen = loop::NextGeneration(c.gen);
  c.uid = (static_cast<uint64_t>(c.id) << 32) | c.gen;
  c.pipeline.Reset();
  c.issued = c.completed = 0;
  if (InWindow(Now())) {
    ++counters_.connect_attempts;
  } else {
    ++counters_.warmup_connect_attempts;
  }

  absl::StatusOr<UniqueFd> fd = CreateTcpSocket(options_.target.family(), Blocking::kNonBlocking);
  if (!fd.ok()) {
    // EMFILE, ENFILE, ENOBUFS: counted, retried when the gate lets it; the run goes on.
    const int err = ErrnoOf(fd.status()).value_or(EIO);
    RecordErrno(Phase::kSocket, err);
    AttemptFailed(/*local=*/true, Phase::kSocket, err);
    ReturnReservation(c);
    WaitForShortage(c);
    return;
  }
  // Echo latency, not Nagle's: a message's last partial segment must not wait for an ACK.
  if (options_.nodelay) {
    (void)SetNoDelay(fd->get(), true);
  }
  if (!options_.sources.empty()) {
    const SocketAddress& source = options_.sources[c.id % options_.sources.size()];
    if (source.port() == 0) {
      // Lets connect() pick the port for the whole 4-tuple (Linux 4.2+), so each source address
      // gets the full port range towards the target instead of sharing bind()'s.
      (void)SetIntOption(fd->get(), IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, 1,
                         "IP_BIND_ADDRESS_NO_PORT");
    } else {
      (void)SetReuseAddr(fd->get(), true);
    }
    absl::Status bound = Bind(fd->get(), source);
    if (!bound.ok()) {
      const int err = ErrnoOf(bound).value_or(EIO);
      RecordErrno(Phase::kBind, err);
      AttemptFailed(/*local=*/true, Phase::kBind, err);
      ReturnReservation(c);
      WaitForShortage(c);
      return;
    }
  }
  c.fd = fd->Release();
  c.state = State::kConnecting;
  shared_->live_connections.fetch_add(1, std::memory_order_relaxed);
  // Each connect is timed from its own call, not from the completion that started it: the
  // connections a worker opens at start (or after a batch of closes) are created one after
  // another, and the first ones' time must not be charged to the last.
  now_ns_ = MonotonicNanos();
  c.connect_start_ns = Now();
  loop_->Connect(c.fd, options_.target, TokenOf(c));
}

void LoadWorker::OnConnect(Conn& c, int res) {
  if (c.state != State::kConnecting) {
    return;  // cancelled by our own close (deadline, stop)
  }
  if (res < 0) {
    RecordErrno(Phase::kConnect, -res);
    const bool local = IsLocalShortage(Phase::kConnect, -res);
    // First: the connection is no longer live.
    CloseConn(c, local ? AfterClose::kWaitShortage : AfterClose::kRetry);
    AttemptFailed(local, Phase::kConnect, -res);
    if (local) {
      // The gate holds the worker's other starts from now, not from when the close completes.
      if (std::optional<int64_t> probe_at = gate_.OnShortage(c.slot, Now())) {
        ArmShortageTimer(*probe_at);
      }
    } else {
      PassedLocalLimits(c);  // the target answered: this machine had what the attempt needed
    }
    return;
  }
  c.state = State::kOpen;
  c.retry.Reset();
  shared_->connects_ok.fetch_add(1, std::memory_order_relaxed);
  ++counters_.open_connections;
  // The true peak of all threads' open connections together.
  const int64_t open = shared_->open_connections.fetch_add(1, std::memory_order_relaxed) + 1;
  int64_t peak = shared_->peak_open_connections.load(std::memory_order_relaxed);
  while (open > peak && !shared_->peak_open_connections.compare_exchange_weak(
                            peak, open, std::memory_order_relaxed)) {
  }
  connect_interval_.Record(Now() - c.connect_start_ns);
  if (InWindow(c.connect_start_ns)) {
    ++counters_.connections_opened;
    connect_.Record(Now() - c.connect_start_ns);
  } else {
    ++counters_.warmup_connections_opened;
  }
  c.receiving = true;
  loop_->Receive(c.fd, TokenOf(c));
  if (interval_ns_ > 0 && !c.schedule_started && c.next_intended_ns < Now()) {
    // The first connect of the run takes time the schedule did not plan for; start the
    // schedule from now rather than charge the handshake to the first messages.
    c.next_intended_ns = Now();
    c.schedule_origin_ns = Now();
  }
  FillPipeline(c);
  PassedLocalLimits(c);
}

void LoadWorker::FillPipeline(Conn& c) {
  while (c.state == State::kOpen && !c.pipeline.full()) {
    if (options_.churn > 0 && c.issued >= options_.churn) {
      break;
    }
    int64_t intended = Now();
    if (interval_ns_ > 0) {
      if (c.next_intended_ns > Now()) {
        if (!c.timer_armed && MayIssue(c.next_intended_ns)) {
          ArmTimer(c, c.next_intended_ns);
        }
        break;
      }
      intended = c.next_intended_ns;
    }
    if (!MayIssue(intended)) {
      break;
    }
    if (!budget_.TakeOne(&c.reserved)) {
      break;
    }
    if (interval_ns_ > 0) {
      c.next_intended_ns = intended + static_cast<int64_t>(interval_ns_);
      c.schedule_started = true;
    }
    Message& m = c.pipeline.Push();
    m.size = PayloadPattern::MessageSize(c.uid, m.seq, options_.size_min, options_.size_max);
    m.intended_ns = intended;
    m.data = shared_->pattern->MessageStart(c.uid, m.seq);
    ++c.issued;
  }
  TrySend(c);
  MaybeFinish();
}

void LoadWorker::TrySend(Conn& c) {
  if (c.state != State::kOpen || c.send_in_flight) {
    return;
  }
  Message* next = c.pipeline.NextToSend();
  if (next == nullptr) {
    return;  // everything issued is sent
  }
  Message& m = *next;
  const uint32_t offset = c.pipeline.send_offset();
  if (offset == 0) {
    if (stopping_) {
      return;  // the drain waits for the echoes of what was sent; it sends nothing new
    }
    m.sent_ns = Now();
    if (InWindow(Now())) {
      c.pipeline.StartWindowAt(m.seq);
    }
    if (c.pipeline.Counted(m.seq)) {
      ++counters_.messages_sent;
      if (interval_ns_ > 0) {
        send_lag_.Record(Now() - m.intended_ns);
      }
    }
  }
  c.send_in_flight = true;
  loop_->Send(c.fd, m.data + offset, m.size - offset, TokenOf(c));
}

void LoadWorker::OnSend(Conn& c, int res) {
  c.send_in_flight = false;
  if (c.state != State::kOpen) {
    return;
  }
  if (res < 0) {
    RecordErrno(Phase::kWrite, -res);
    FailConn(c);
    return;
  }
  const uint64_t seq = c.pipeline.send_seq();
  if (c.pipeline.Counted(seq)) {
    counters_.bytes_sent += res;
  }
  // The message sent may have been completed (popped) already: its size comes from the seq.
  c.pipeline.AdvanceSend(
      res, PayloadPattern::MessageSize(c.uid, seq, options_.size_min, options_.size_max));
  TrySend(c);
}

void LoadWorker::OnReceive(Conn& c, const loop::Completion& completion) {
  if (!completion.more) {
    c.receiving = false;
  }
  if (c.state != State::kOpen) {
    return;
  }
  if (completion.res < 0) {
    RecordErrno(Phase::kRead, -completion.res);
    FailConn(c);
    return;
  }
  if (completion.res == 0) {
    RecordClass(Phase::kRead, ErrorClass::kEof);
    FailConn(c);
    return;
  }
  const std::byte* data = completion.data;
  size_t left = static_cast<size_t>(completion.res);
  while (left > 0) {
    if (c.pipeline.empty()) {
      // Bytes nobody asked for: the server sent more than it was sent. They belong to no
      // message, so the time they arrived decides whether they are counted.
      if (CountError()) {
        if (InWindow(Now())) {
          counters_.bytes_received += left;
          ++counters_.data_errors;
        } else {
          ++counters_.warmup_data_errors;
        }
      }
      break;
    }
    Message& m = c.pipeline.Oldest();
    const size_t take = std::min<size_t>(left, m.size - m.received);
    if (c.pipeline.Counted(m.seq)) {
      counters_.bytes_received += take;
    }
    if (!m.bad && !PayloadPattern::Matches(m.data, m.received, data, take)) {
      m.bad = true;
    }
    m.received += take;
    data += take;
    left -= take;
    if (m.received == m.size) {
      CompleteHead(c);
      if (c.state != State::kOpen) {
        return;
      }
    }
  }
  if (!completion.more && c.state == State::kOpen) {
    // A multishot receive that ended without an error (the backend ran out of buffers):
    // re-arm.
    c.receiving = true;
    loop_->Receive(c.fd, TokenOf(c));
  }
  FillPipeline(c);
}

void LoadWorker::CompleteHead(Conn& c) {
  Message& m = c.pipeline.Oldest();
  const bool counted = c.pipeline.Counted(m.seq);
  if (counted && WindowClosed()) {
    ++counters_.in_flight_at_end;
  } else if (m.bad) {
    // An echo that differs from what was sent is a data error, not a completion: a target that
    // does not echo must not look like a fast one.
    if (!CountError()) {
      ++counters_.in_flight_at_end;  // past the error that ended the run
    } else if (counted) {
      ++counters_.data_errors;
    } else {
      ++counters_.warmup_data_errors;
    }
  } else if (counted) {
    ++counters_.messages_completed;
    counters_.last_completion_ns = Now();
    rtt_.Record(Now() - m.intended_ns);
    interval_.Record(Now() - m.intended_ns);
    if (!options_.raw_latencies_path.empty()) {
      raw_rtt_.push_back(Now() - m.intended_ns);
    }
    if (interval_ns_ > 0) {
      rtt_uncorrected_.Record(Now() - m.sent_ns);
    }
  }
  c.pipeline.PopOldest();
  ++c.completed;
  // An incarnation is over after --churn messages, or with -n once its reserved share (which
  // may be smaller at the end of the budget) is done.
  if (options_.churn > 0 && c.pipeline.empty() &&
      (c.completed >= options_.churn || (budget_.bounded() && c.reserved == 0))) {
    // Reconnect only when there is something left to send: with -n the last connection of each
    // worker must not open just to close again.
    const bool more = MayIssue(Now()) && budget_.HasMoreAfter(c.reserved);
    if (!more && budget_.bounded()) {
      budget_.MarkExhausted();
    }
    CloseConn(c, more ? AfterClose::kReopen : AfterClose::kNothing);
    return;
  }
  if (stopping_ && !c.pipeline.AwaitingEcho()) {
    CloseConn(c, AfterClose::kNothing);
  }
}

void LoadWorker::FailMessages(Conn& c) {
  for (size_t i = 0; i < c.pipeline.size(); ++i) {
    const Message& m = c.pipeline.At(i);
    if (m.sent_ns == 0) {
      // Never sent, so it did not fail: it goes back to -n's budget and is sent on another
      // connection (or on this one once it reconnects).
      budget_.ReturnUnsent(1);
      continue;
    }
    if (!c.pipeline.Counted(m.seq)) {
      continue;  // sent during the warmup
    }
    if (WindowClosed()) {
      ++counters_.in_flight_at_end;
    } else {
      ++counters_.messages_failed;
    }
  }
  c.pipeline.Clear();
}

void LoadWorker::FailConn(Conn& c) {
  FailMessages(c);
  CloseConn(c, AfterClose::kRetry);
}

void LoadWorker::CloseConn(Conn& c, AfterClose after) {
  CancelTimer(c);
  if (c.state == State::kOpen) {
    --counters_.open_connections;
    shared_->open_connections.fetch_sub(1, std::memory_order_relaxed);
  }
  if (c.state == State::kOpen || c.state == State::kConnecting) {
    shared_->live_connections.fetch_sub(1, std::memory_order_relaxed);
  }
  ReturnReservation(c);  // what this incarnation will not send now
  if (c.state == State::kClosing) {
    c.after_close = std::min(c.after_close, after);
    return;
  }
  if (c.fd < 0) {
    c.state = State::kIdle;
    return;
  }
  if (options_.close == CloseMode::kRst) {
    (void)SetLinger(c.fd, Linger{Linger::Mode::kReset, 0});
  }
  FailMessages(c);
  c.state = State::kClosing;
  c.after_close = after;
  ++closing_;
  loop_->Close(c.fd, TokenOf(c));
  c.fd = -1;
}

void LoadWorker::OnClosed(Conn& c) {
  --closing_;
  c.state = State::kIdle;
  c.receiving = false;
  c.send_in_flight = false;
  switch (c.after_close) {
    case AfterClose::kNothing:
      break;
    case AfterClose::kReopen:
      StartConnect(c);
      break;
    case AfterClose::kRetry:
      ScheduleRetry(c);
      break;
    case AfterClose::kWaitShortage:
      // In the gate since its connect failed.
      c.state = stopping_ ? State::kIdle : State::kWaiting;
      break;
  }
  MaybeFinish();
}

void LoadWorker::OnConnTimer(Conn& c) {
  c.timer_armed = false;
  if (c.state == State::kWaiting) {
    StartConnect(c);
  } else if (c.state == State::kOpen) {
    FillPipeline(c);
  }
}

void LoadWorker::OnTick() {
  if (shared_->stop.load(std::memory_order_acquire)) {
    BeginStop(true);
  } else if (shared_->end_ns > 0 && Now() >= shared_->end_ns) {
    BeginStop(false);
  }
  const int64_t connect_timeout = ToNs(options_.connect_timeout);
  const int64_t read_timeout = ToNs(options_.read_timeout);
  for (Conn& c : conns_) {
    if (c.state == State::kConnecting && Now() - c.connect_start_ns >= connect_timeout) {
      RecordClass(Phase::kConnect, ErrorClass::kDeadline);
      // Whose deadline it was: a socket the kernel already has ESTABLISHED got its SYN/ACK, and
      // only this loop had not seen it yet (the connect's completion was still to be reaped).
      if (HandshakeCompleted(c.fd)) {
        ++counters_.connect_deadlines_answered;
      } else {
        ++counters_.connect_deadlines_unanswered;
      }
      CloseConn(c, AfterClose::kRetry);
      AttemptFailed(/*local=*/false, Phase::kConnect, 0);
      PassedLocalLimits(c);  // its SYN left: this machine had what the attempt needed
    } else if (c.state == State::kOpen && !c.pipeline.empty()) {
      const Message& oldest = c.pipeline.Oldest();
      // During the drain the messages are already "in flight at the end": the drain deadline
      // (never later than the read timeout) closes their connections without an error.
      if (!stopping_ && oldest.sent_ns > 0 && Now() - oldest.sent_ns >= read_timeout) {
        // A message whose last byte never left is stuck in the write (the peer does not read),
        // not waiting for its echo.
        const bool written = c.pipeline.Written(oldest.seq);
        RecordClass(written ? Phase::kRead : Phase::kWrite, ErrorClass::kDeadline);
        FailConn(c);
      } else if (stopping_ && Now() >= drain_deadline_ns_) {
        CloseConn(c, AfterClose::kNothing);
      }
    }
  }
  Publish();
  MaybeFinish();
  if (tick_timer_ != 0) {
    tick_timer_ = loop_->AddTimer(Now() + kTickNs, kTickToken);
  }
}

void LoadWorker::StartNextBatch() {
  const size_t end = std::min(conns_.size(), next_to_start_ + kStartBatch);
  for (; next_to_start_ < end; ++next_to_start_) {
    StartConnect(conns_[next_to_start_]);
  }
  if (next_to_start_ < conns_.size()) {
    // The loop reaps the completions of this batch before the next one starts.
    loop_->AddTimer(Now(), kStartToken);
  } else if (!all_started_) {
    all_started_ = true;
    shared_->workers_starting.fetch_sub(1, std::memory_order_relaxed);
  }
}

void LoadWorker::CountScheduled(int64_t end_ns) {
  if (interval_ns_ <= 0) {
    return;
  }
  for (const Conn& c : conns_) {
    counters_.messages_scheduled +=
        ScheduledTimes(c.schedule_origin_ns, interval_ns_, shared_->measure_start_ns, end_ns);
  }
}

void LoadWorker::BeginStop(bool hard) {
  if (hard) {
    if (hard_stopped_) {
      return;
    }
    hard_stopped_ = true;
  }
  if (!stopping_) {
    stopping_ = true;
    // The window ended at the planned end, or now (-n done, an abort, an interrupt).
    CountScheduled(shared_->end_ns > 0 ? std::min(Now(), shared_->end_ns) : Now());
    gate_.Clear(Now());
    if (shortage_timer_ != 0) {
      loop_->CancelTimer(shortage_timer_);
      shortage_timer_ = 0;
    }
    // Let the messages in flight finish (so the counts add up), but not for longer than a
    // round trip may take.
    drain_deadline_ns_ = Now() + std::min<int64_t>(ToNs(options_.read_timeout), 2'000'000'000);
  }
  if (hard) {
    drain_deadline_ns_ = Now();
  }
  for (Conn& c : conns_) {
    switch (c.state) {
      case State::kWaiting:
        CancelTimer(c);
        c.state = State::kIdle;
        break;
      case State::kConnecting:
        CloseConn(c, AfterClose::kNothing);
        break;
      case State::kOpen:
        if (!c.pipeline.AwaitingEcho() || Now() >= drain_deadline_ns_) {
          CloseConn(c, AfterClose::kNothing);
        }
        break;
      case State::kIdle:
      case State::kClosing:
        c.after_close = AfterClose::kNothing;
        break;
    }
  }
  MaybeFinish();
}

void LoadWorker::MaybeFinish() {
  if (!stopping_ && budget_.exhausted()) {
    // -n: this worker's share is issued; stop once the connections are idle.
    bool idle = true;
    for (const Conn& c : conns_) {
      if (!c.pipeline.empty() || c.reserved > 0) {
        idle = false;
        break;
      }
    }
    if (idle) {
      BeginStop(false);
      return;
    }
  }
  if (!stopping_ || closing_ > 0) {
    return;
  }
  for (const Conn& c : conns_) {
    if (c.state != State::kIdle) {
      return;
    }
  }
  if (tick_timer_ != 0) {
    loop_->CancelTimer(tick_timer_);
    tick_timer_ = 0;
  }
  loop_->RequestStop();
}

void LoadWorker::OnCompletion(const loop::Completion& completion) {
  now_ns_ = kNotRead;
  if (!hard_stopped_ && shared_->stop.load(std::memory_order_relaxed)) {
    // An abort or interrupt ends the window at once, on every thread, not at the next tick.
    BeginStop(true);
  }
  if (completion.token == kTickToken) {
    OnTick();
    return;
  }
  if (completion.token == kStartToken) {
    StartNextBatch();
    return;
  }
  if (completion.token == kShortageToken) {
    OnShortageTimer();
    return;
  }
  const uint32_t slot = loop::SlotOf(completion.token);
  SOCKLAB_CHECK(slot < conns_.size(), "completion for an unknown connection");
  Conn& c = conns_[slot];
  if (completion.op == loop::Op::kClose) {
    OnClosed(c);
    return;
  }
  if (loop::GenerationOf(completion.token) != c.gen) {
    return;  // a stale timer of an earlier incarnation
  }
  switch (completion.op) {
    case loop::Op::kConnect:
      OnConnect(c, completion.res);
      break;
    case loop::Op::kSend:
      OnSend(c, completion.res);
      break;
    case loop::Op::kReceive:
      OnReceive(c, completion);
      break;
    case loop::Op::kTimer:
      OnConnTimer(c);
      break;
    case loop::Op::kAccept:
    case loop::Op::kClose:
      break;
  }
}

}  // namespace socklab::client

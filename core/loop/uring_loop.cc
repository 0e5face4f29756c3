#include "core/loop/uring_loop.h"

#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "core/base/check.h"
#include "core/base/status.h"
#include "core/base/status_macros.h"
#include "core/net/error_class.h"
#include "core/net/socket.h"

namespace socklab::loop {
namespace {

constexpr uint16_t kBufferGroup = 0;
constexpr unsigned kMaxCqeBatch = 256;
// Reaping rounds per RunOnce: bounded so timers and synthesized completions still get a turn
// under a flood of CQEs.
constexpr int kMaxReapRounds = 4;

}  // namespace

absl::StatusOr<std::unique_ptr<EventLoop>> UringLoop::Create(CompletionHandler* handler,
                                                             const LoopOptions& options) {
  std::unique_ptr<UringLoop> loop(new UringLoop(handler, options));
  absl::Status status = loop->Init();
  if (!status.ok()) {
    return status;
  }
  return std::unique_ptr<EventLoop>(std::move(loop));
}

UringLoop::UringLoop(CompletionHandler* handler, const LoopOptions& options)
    : LoopBase(handler), options_(options) {}

absl::Status UringLoop::Init() {
  struct Mode {
    unsigned flags;
    const char* name;
  };
  std::vector<Mode> modes;
  if (options_.io_uring_defer_taskrun) {
    // 6.1+. R_DISABLED (5.10): the issuer becomes the thread that enables the ring in RunOnce.
    modes.push_back(
        {IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_R_DISABLED,
         "single_issuer+defer_taskrun"});
  }
  // 5.19: task work runs at our next kernel entry instead of interrupting the loop; TASKRUN_FLAG
  // tells liburing to enter the kernel when some is pending.
  modes.push_back({IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG, "coop_taskrun"});
  modes.push_back({0, "plain"});
  int ret = -EINVAL;
  for (const Mode& mode : modes) {
    io_uring_params params{};
    params.flags = mode.flags;
    ret = io_uring_queue_init_params(options_.ring_entries, &ring_, &params);
    if (ret == 0) {
      setup_mode_ = mode.name;
      needs_enable_ = (mode.flags & IORING_SETUP_R_DISABLED) != 0;
      break;
    }
    if (ret != -EINVAL) {
      break;
    }
  }
  if (ret < 0) {
    return ErrnoError(-ret, absl::StrCat("io_uring_setup (", options_.ring_entries, " entries)"),
                      "use --backend epoll");
  }
  ring_ready_ = true;
  SOCKLAB_ASSIGN_OR_RETURN(buffers_,
                           BufferRing::Create(&ring_, kBufferGroup, options_.receive_buffer_count,
                                              options_.receive_buffer_size));

  wake_fd_.Reset(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  if (!wake_fd_) {
    return ErrnoError(errno, "eventfd");
  }
  ArmWake();
  return absl::OkStatus();
}

UringLoop::~UringLoop() {
  // The buffer group goes first, while the ring it is registered with still exists; receives
  // still in flight then find no buffer to fill.
  buffers_.reset();
  if (ring_ready_) {
    io_uring_queue_exit(&ring_);
  }
  for (auto& st : fds_) {
    if (!st) {
      continue;
    }
    for (int fd : st->accepted) {
      if (fd >= 0) {
        ::close(fd);
      }
    }
  }
  for (size_t fd = 0; fd < fds_.size(); ++fd) {
    if (fds_[fd] && fds_[fd]->closing && !fds_[fd]->close_submitted) {
      ::close(static_cast<int>(fd));
    }
  }
}

UringLoop::FdState& UringLoop::State(int fd) {
  SOCKLAB_CHECK(fd >= 0, "operation submitted on a negative fd");
  if (static_cast<size_t>(fd) >= fds_.size()) {
    fds_.resize(static_cast<size_t>(fd) + 1);
  }
  if (!fds_[fd]) {
    fds_[fd] = std::make_unique<FdState>();
  } else if (fds_[fd]->close_submitted) {
    // A submitted close leaves the state of the old socket behind until its CQE is reaped, but
    // the kernel frees the number when the close runs: socket() or accept() may hand it out
    // again first (a reconnect from the handler of another close in the same batch). The user
    // submitting on the number proves the old socket is gone; its close record keeps what the
    // completion needs, and OnClose leaves this new state alone. -ECANCELED completions still
    // owed to the old socket's user (an SQ-full flush can run the close early) move along.
    FdState& old = *fds_[fd];
    ReplaceState(fd);
    FdState& fresh = *fds_[fd];
    fresh.accept.cancels = std::move(old.accept.cancels);
    fresh.receive.InheritOwedCancels(old.receive.TakeOwedCancels());
    fresh.flush_queued = old.flush_queued;
  }
  return *fds_[fd];
}

void UringLoop::EndOp(FdState& st) {
  // An underflow would let MaybeFinishClose submit IORING_OP_CLOSE while a request still holds
  // the file, and close(2) alone does not end a socket the ring still references: the socket
  // would stay open with no fd. Only a state mixed up between two sockets that shared a number
  // can get here.
  SOCKLAB_CHECK(st.inflight > 0, "io_uring completion for an fd with no operation in flight");
  --st.inflight;
}

void UringLoop::ReplaceState(int fd) {
  retired_states_.push_back(std::move(fds_[fd]));
  fds_[fd] = std::make_unique<FdState>();
}

int32_t UringLoop::NewRecord(Kind kind, int fd, Token token) {
  int32_t index;
  if (!free_records_.empty()) {
    index = free_records_.back();
    free_records_.pop_back();
  } else {
    index = static_cast<int32_t>(records_.size());
    records_.emplace_back();
  }
  OpRecord& r = records_[index];
  r.kind = kind;
  r.fd = fd;
  r.token = token;
  return index;
}

void UringLoop::FreeRecord(int32_t index) {
  records_[index].kind = Kind::kFree;
  records_[index].address.reset();
  free_records_.push_back(index);
}

void UringLoop::EnsureEnabled() {
  if (on_loop_thread_) {
    return;
  }
  on_loop_thread_ = true;
  if (needs_enable_) {
    // Debian's liburing 2.3 declares io_uring_enable_rings but does not export it (it is missing
    // from the 2.3 symbol map), so the register call is made directly.
    long ret =
        syscall(__NR_io_uring_register, ring_.ring_fd, IORING_REGISTER_ENABLE_RINGS, nullptr, 0);
    SOCKLAB_CHECK(ret == 0, "io_uring_register(ENABLE_RINGS) failed");
    needs_enable_ = false;
  }
  // The ring's fd in this thread's table of registered rings (5.18): io_uring_enter then finds
  // the ring by index instead of an fget/fput of the fd per call (bench/RESULTS.md). The table is
  // the thread's, hence here. Refused (an older kernel, a thread with 16 rings registered
  // already): the fd it is; liburing keeps track of which.
  (void)io_uring_register_ring_fd(&ring_);
}

io_uring_sqe* UringLoop::GetSqe() {
  io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
  if (sqe == nullptr) {
    // SQ full: flush it to the kernel and retry; completions stay in the CQ for the next reap.
    ++counters_.sq_full_flushes;
    EnsureEnabled();
    buffers_->Refill();
    io_uring_submit(&ring_);
    sqe = io_uring_get_sqe(&ring_);
  }
  SOCKLAB_CHECK(sqe != nullptr, "io_uring submission queue still full after submitting");
  return sqe;
}

void UringLoop::SubmitCancel(int32_t record) {
  io_uring_sqe* sqe = GetSqe();
  io_uring_prep_cancel64(sqe, static_cast<uint64_t>(record) + 1, 0);
  io_uring_sqe_set_data64(sqe, 0);  // its own result (0, -ENOENT, -EALREADY) is not needed
}

void UringLoop::CancelKernelOp(KernelOp& op) {
  if (op.record >= 0 && !op.cancel_sent) {
    op.cancel_sent = true;
    SubmitCancel(op.record);
  }
}

void UringLoop::ArmWake() {
  int32_t index = NewRecord(Kind::kWake, wake_fd_.get(), 0);
  io_uring_sqe* sqe = GetSqe();
  io_uring_prep_read(sqe, wake_fd_.get(), &wake_value_, sizeof(wake_value_), 0);
  io_uring_sqe_set_data64(sqe, static_cast<uint64_t>(index) + 1);
}

void UringLoop::ArmAccept(int fd, FdState& st) {
  int32_t index = NewRecord(Kind::kAccept, fd, 0);
  io_uring_sqe* sqe = GetSqe();
  io_uring_prep_multishot_accept(sqe, fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
  io_uring_sqe_set_data64(sqe, static_cast<uint64_t>(index) + 1);
  st.accept_op = KernelOp{index, false};
  ++st.inflight;
}

void UringLoop::ArmReceive(int fd, FdState& st) {
  int32_t index = NewRecord(Kind::kReceive, fd, 0);
  io_uring_sqe* sqe = GetSqe();
  if (st.receive_one_shot) {
    // Length 0 with a selected buffer: up to the buffer's size.
    io_uring_prep_recv(sqe, fd, nullptr, 0, 0);
    ++counters_.one_shot_receives;
  } else {
    io_uring_prep_recv_multishot(sqe, fd, nullptr, 0, 0);
  }
  sqe->flags |= IOSQE_BUFFER_SELECT;
  sqe->buf_group = buffers_->group();
  io_uring_sqe_set_data64(sqe, static_cast<uint64_t>(index) + 1);
  st.receive_op = KernelOp{index, false};
  ++st.inflight;
}

void UringLoop::SubmitNextSend(int fd, FdState& st) {
  PendingSend send = st.sends.front();
  st.sends.erase(st.sends.begin());
  int32_t index = NewRecord(Kind::kSend, fd, send.token);
  io_uring_sqe* sqe = GetSqe();
  io_uring_prep_send(sqe, fd, send.data, send.size, MSG_NOSIGNAL);
  io_uring_sqe_set_data64(sqe, static_cast<uint64_t>(index) + 1);
  st.send_op = KernelOp{index, false};
  ++st.inflight;
}

void UringLoop::QueueFlush(int fd, FdState& st) {
  if (!st.flush_queued) {
    st.flush_queued = true;
    flush_queue_.push_back(fd);
  }
}

void UringLoop::Accept(int listen_fd, Token token) {
  FdState& st = State(listen_fd);
  st.accept.armed = true;
  st.accept.token = token;
  if (!st.accepted.empty()) {
    QueueFlush(listen_fd, st);
  }
  if (st.accept_op.record < 0) {
    ArmAccept(listen_fd, st);
  }
  // Else the op is still in flight (perhaps being cancelled): if it ends, OnAccept re-arms.
}

void UringLoop::CancelAccept(int listen_fd) {
  FdState& st = State(listen_fd);
  if (st.accept.armed) {
    st.accept.armed = false;
    st.accept.cancels.push_back(st.accept.token);
    QueueFlush(listen_fd, st);
  }
  CancelKernelOp(st.accept_op);
}

void UringLoop::Connect(int fd, const SocketAddress& address, Token token) {
  FdState& st = State(fd);
  int32_t index = NewRecord(Kind::kConnect, fd, token);
  // Kept until the completion: the kernel reads the address when the SQE is submitted, which is
  // after this call returns.
  records_[index].address = std::make_unique<SocketAddress>(address);
  const SocketAddress& kept = *records_[index].address;
  io_uring_sqe* sqe = GetSqe();
  io_uring_prep_connect(sqe, fd, kept.sockaddr_ptr(), kept.length());
  io_uring_sqe_set_data64(sqe, static_cast<uint64_t>(index) + 1);
  st.connect_op = KernelOp{index, false};
  ++st.inflight;
}

void UringLoop::Receive(int fd, Token token) {
  FdState& st = State(fd);
  if (st.receive.Arm(token)) {
    // What is kept goes first; the flush arms the kernel receive once it is out.
    QueueFlush(fd, st);
    return;
  }
  if (st.receive_op.record < 0) {
    ArmReceive(fd, st);
  }
  // Else the op is still in flight (its cancel on the way): if it ends, OnReceive re-arms.
}

void UringLoop::CancelReceive(int fd) {
  FdState& st = State(fd);
  if (st.receive.Cancel()) {
    QueueFlush(fd, st);  // to deliver the -ECANCELED
  }
  // The user fell behind: from now on no kernel receive takes more than one buffer ahead of it.
  st.receive_one_shot = true;
  st.receive_paused = true;
  // Stop the kernel reading too, or backpressure would only move the bytes into our stash.
  CancelKernelOp(st.receive_op);
}

void UringLoop::Send(int fd, const void* data, size_t size, Token token) {
  FdState& st = State(fd);
  // One send in flight per fd: two io_uring sends on a stream socket may complete out of order
  // when the first has to wait for buffer space.
  st.sends.push_back(PendingSend{data, size, token});
  if (st.send_op.record < 0) {
    SubmitNextSend(fd, st);
  }
}

void UringLoop::Close(int fd, Token token) {
  FdState& st = State(fd);
  st.closing = true;
  st.close_token = token;
  // Every operation the user sees as pending ends with -ECANCELED now; the kernel ops are
  // cancelled below and their late CQEs only settle the records.
  if (st.accept.armed) {
    st.accept.armed = false;
    Defer(Op::kAccept, st.accept.token, fd, -ECANCELED, false);
  }
  if (std::optional<Token> receive = st.receive.Abandon()) {
    Defer(Op::kReceive, *receive, fd, -ECANCELED, false);
  }
  for (const PendingSend& send : st.sends) {
    Defer(Op::kSend, send.token, fd, -ECANCELED, false);
  }
  st.sends.clear();
  // A listener's connections accepted meanwhile go at once (their clients see EOF, as they
  // would see RST from the closed listener's backlog), not at loop destruction.
  for (int accepted : st.accepted) {
    if (accepted >= 0) {
      ::close(accepted);
    }
  }
  st.accepted.clear();
  // Every request on this fd (an in-flight send or connect then completes with -ECANCELED or its
  // real result), each by its own user_data: the kernel finds that in its cancel hash, where a
  // cancel by fd (IORING_ASYNC_CANCEL_FD) walks every request of the ring, and closing 5,000
  // connections that way took O(n^2) (bench/RESULTS.md).
  CancelKernelOp(st.accept_op);
  CancelKernelOp(st.receive_op);
  CancelKernelOp(st.send_op);
  CancelKernelOp(st.connect_op);
  MaybeFinishClose(fd, st);
}

void UringLoop::MaybeFinishClose(int fd, FdState& st) {
  if (!st.closing || st.inflight > 0 || st.close_submitted) {
    return;
  }
  st.close_submitted = true;
  int32_t index = NewRecord(Kind::kClose, fd, st.close_token);
  io_uring_sqe* sqe = GetSqe();
  io_uring_prep_close(sqe, fd);
  io_uring_sqe_set_data64(sqe, static_cast<uint64_t>(index) + 1);
}

size_t UringLoop::UnreadBytes(int fd) {
  // The socket first: task work that moves its bytes into CQEs runs only at a syscall's end (the
  // ioctl's own included), so bytes are counted either in the queue or in the CQ scan below.
  size_t unread = ReceiveQueueBytes(fd).value_or(0);
  if (fd >= 0 && static_cast<size_t>(fd) < fds_.size() && fds_[fd]) {
    unread += fds_[fd]->receive.kept_bytes();
  }
  // Receive completions posted since the last reap (without DEFER_TASKRUN, task work runs at
  // the end of any syscall this thread makes).
  unsigned head;
  io_uring_cqe* cqe;
  io_uring_for_each_cqe(&ring_, head, cqe) {
    if (cqe->user_data == 0 || cqe->res <= 0) {
      continue;
    }
    const OpRecord& r = records_[cqe->user_data - 1];
    if (r.kind == Kind::kReceive && r.fd == fd) {
      unread += static_cast<size_t>(cqe->res);
    }
  }
  return unread;
}

int UringLoop::HoldReceiveBuffer() {
  if (holdable_buffer_ < 0 || held_buffers_ >= buffers_->count() / 2) {
    return -1;
  }
  int held = holdable_buffer_;
  holdable_buffer_ = -1;
  buffer_held_ = true;
  ++held_buffers_;
  return held;
}

void UringLoop::ReleaseReceiveBuffer(int hold) {
  SOCKLAB_CHECK(hold >= 0 && static_cast<unsigned>(hold) < buffers_->count() && held_buffers_ > 0,
                "released a receive buffer that was not held");
  --held_buffers_;
  buffers_->Return(hold);
}

void UringLoop::Wake() {
  uint64_t one = 1;
  [[maybe_unused]] ssize_t n = ::write(wake_fd_.get(), &one, sizeof(one));
}

void UringLoop::ProcessFlushes() {
  if (flush_queue_.empty()) {
    return;
  }
  flush_batch_.clear();
  flush_batch_.swap(flush_queue_);
  for (int fd : flush_batch_) {
    FdState& st = *fds_[fd];
    st.flush_queued = false;
    std::vector<Token> cancels = std::move(st.accept.cancels);
    st.accept.cancels.clear();
    for (Token token : cancels) {
      Deliver(Op::kAccept, token, fd, -ECANCELED, false);
    }
    while (!st.closing && st.accept.armed && !st.accepted.empty()) {
      int new_fd = st.accepted.front();
      st.accepted.erase(st.accepted.begin());
      Deliver(Op::kAccept, st.accept.token, fd, new_fd, true);
    }
    // Chunks of at most one receive buffer, as a kernel receive would give them. Close() from
    // the handler drops the rest (ReceiveDelivery::Abandon).
    bool wants_bytes =
        st.receive.Flush(buffers_->buffer_size(), [&](const ReceiveDelivery::Release& r) {
          Deliver(Op::kReceive, r.token, fd, r.res, r.more, r.data);
        });
    if (!st.closing && wants_bytes && st.receive_op.record < 0) {
      // What was kept is delivered and the user still wants bytes: only now does the kernel read
      // the socket again.
      ArmReceive(fd, st);
    }
  }
}

void UringLoop::DispatchSynthetic() {
  // Handlers may queue more while these run; a few rounds, then the wait gets its turn.
  for (int round = 0; round < 4 && (HasDeferred() || !flush_queue_.empty()); ++round) {
    DeliverDeferred();
    ProcessFlushes();
  }
}

void UringLoop::OnAccept(int32_t index, int res, bool final) {
  int fd = records_[index].fd;
  if (final) {
    FreeRecord(index);
  }
  FdState& st = *fds_[fd];
  if (final) {
    st.accept_op.record = -1;
    EndOp(st);
  }
  // EINTR and EAGAIN are no error of the listener nor of a connection: nothing to deliver, and
  // a request they ended is re-armed below. A multishot accept waits for connections itself, also
  // on an O_NONBLOCK listener (the kernel stopped failing those with EAGAIN in 5.18, a73825ba70c9,
  // before multishot accept came in 5.19), so EAGAIN is not expected here at all.
  const Disposition disposition =
      res < 0 ? Dispose(Phase::kAccept, -res) : Disposition::kRetry;  // (a new fd: not read)
  const bool no_error =
      res < 0 && (disposition == Disposition::kRetry || disposition == Disposition::kNotReady);
  if (res >= 0 || disposition == Disposition::kSkip) {
    // A connection, or an error of one connection (ECONNABORTED ...): the user counts it and the
    // accept stays armed (re-armed below if the kernel ended it).
    if (st.closing) {
      if (res >= 0) {
        ::close(res);
      }
    } else if (st.accept.armed && st.accepted.empty() && !st.flush_queued) {
      Deliver(Op::kAccept, st.accept.token, fd, res, true);
    } else {
      st.accepted.push_back(res);
    }
  } else if (res != -ECANCELED && !no_error && !st.closing) {
    // EMFILE, ENFILE, ENOBUFS, ...: the kernel ended the multishot; the user decides when to
    // re-arm (backing off instead of spinning on a full fd table).
    if (st.accept.armed) {
      st.accept.armed = false;
      Deliver(Op::kAccept, st.accept.token, fd, res, false);
    }
    if (!final) {
      CancelKernelOp(st.accept_op);
    }
  }
  if (final) {
    if (st.closing) {
      MaybeFinishClose(fd, st);
    } else if (st.accept.armed && st.accept_op.record < 0) {
      // Ended by the kernel (CQ overflow, a transient error, our cancel overtaken by a re-arm):
      // the user still wants connections.
      ++counters_.accept_rearms;
      ArmAccept(fd, st);
    }
  }
}

void UringLoop::OnReceive(int32_t index, int res, uint32_t flags, bool final) {
  int fd = records_[index].fd;
  if (final) {
    FreeRecord(index);
  }
  FdState& st = *fds_[fd];
  if (final) {
    st.receive_op.record = -1;
    EndOp(st);
  }
  const int bid = buffers_->Take(flags);
  const std::byte* data = bid >= 0 ? buffers_->data(bid) : nullptr;
  if (res > 0 && !st.closing) {
    bool socket_empty = (flags & IORING_CQE_F_SOCK_NONEMPTY) == 0;
    if (st.receive_one_shot && !st.receive_paused && final && socket_empty &&
        static_cast<unsigned>(res) < buffers_->buffer_size()) {
      // A single-shot receive emptied the socket with room to spare in its buffer: the user
      // keeps up (the peer sent a message and waits), multishot again. A full buffer that
      // happened to empty the socket is a stream caught between two segments.
      st.receive_one_shot = false;
    } else if (!st.receive_one_shot && !socket_empty) {
      // The peer is ahead: stop this multishot before its passes take the socket's whole
      // queue; the user sees one continuous receive, re-armed single-shot when it ends.
      st.receive_one_shot = true;
      if (!final) {
        CancelKernelOp(st.receive_op);
      }
    }
  }
  if (res > 0) {
    if (st.closing) {
      // dropped: the user closed the connection
    } else if (!st.flush_queued && st.receive.DeliversNow()) {
      // (A queued flush has completions of this fd to deliver first.)
      holdable_buffer_ = bid;
      Deliver(Op::kReceive, st.receive.token(), fd, res, true, data);
      holdable_buffer_ = -1;
    } else {
      // Taken before the cancel landed. Only the op the user cancelled can get here (Receive()
      // arms no new one while bytes are kept), so this is bounded by what one receive takes
      // between the user's CancelReceive and the kernel's cancel.
      counters_.stashed_bytes += static_cast<uint64_t>(res);
      st.receive.Keep(data, static_cast<size_t>(res));
      counters_.stash_peak_bytes =
          std::max<uint64_t>(counters_.stash_peak_bytes, st.receive.kept_bytes());
      if (st.receive.armed()) {
        QueueFlush(fd, st);
      }
    }
  } else if (res == -ENOBUFS || res == -ECANCELED) {
    if (res == -ENOBUFS) {
      ++counters_.enobufs;
      buffers_->RanDry();
    }
    // ENOBUFS: the buffer ring ran dry (6.0 ends the multishot); re-armed below once buffers are
    // back. ECANCELED: our own cancel; the user was told already.
  } else if (!st.closing) {
    // EOF or an error ends the receive.
    if (!st.flush_queued && st.receive.DeliversNow()) {
      Deliver(Op::kReceive, st.receive.End(), fd, res, false);
    } else {
      st.receive.KeepEnd(res);
    }
    if (!final) {
      CancelKernelOp(st.receive_op);
    }
  }
  if (buffer_held_) {
    buffer_held_ = false;  // ReleaseReceiveBuffer() returns it
  } else if (bid >= 0) {
    // Only now: the handler has returned and no longer reads the buffer.
    buffers_->Return(bid);
  }
  if (final) {
    if (st.closing) {
      MaybeFinishClose(fd, st);
    } else if (st.receive.WantsKernelReceive() && st.receive_op.record < 0) {
      // The user sees one continuous receive across ENOBUFS, a multishot the kernel ended
      // without F_MORE, or a cancel overtaken by a new Receive(). (With something kept, the
      // flush arms once it is delivered.)
      ++counters_.receive_rearms;
      ArmReceive(fd, st);
    }
  }
}

void UringLoop::OnSend(int32_t index, int res) {
  int fd = records_[index].fd;
  Token token = records_[index].token;
  FreeRecord(index);
  FdState& st = *fds_[fd];
  st.send_op.record = -1;
  EndOp(st);
  if (!st.closing && !st.sends.empty()) {
    SubmitNextSend(fd, st);
  }
  Deliver(Op::kSend, token, fd, res, false);
  if (st.closing) {
    MaybeFinishClose(fd, st);
  }
}

void UringLoop::OnConnect(int32_t index, int res) {
  int fd = records_[index].fd;
  Token token = records_[index].token;
  FreeRecord(index);
  FdState& st = *fds_[fd];
  st.connect_op.record = -1;
  EndOp(st);
  Deliver(Op::kConnect, token, fd, res, false);
  if (st.closing) {
    MaybeFinishClose(fd, st);
  }
}

void UringLoop::OnClose(int32_t index, int res) {
  int fd = records_[index].fd;
  Token token = records_[index].token;
  FreeRecord(index);
  // The fd number is free again and may come back from an accept in this very batch: start it
  // with a fresh state before the handler runs, unless a new socket with this number already has
  // one (see State()).
  FdState& st = *fds_[fd];
  if (st.close_submitted) {
    // -ECANCELED completions still owed (an SQ-full flush can run the close before the dispatch
    // step that delivers them) come before the close, as promised.
    std::vector<Token> accept_cancels = std::move(st.accept.cancels);
    std::vector<Token> receive_cancels = st.receive.TakeOwedCancels();
    bool flush_queued = st.flush_queued;
    ReplaceState(fd);
    fds_[fd]->flush_queued = flush_queued;  // the number may still be listed in flush_queue_
    for (Token cancelled : accept_cancels) {
      Deliver(Op::kAccept, cancelled, fd, -ECANCELED, false);
    }
    for (Token cancelled : receive_cancels) {
      Deliver(Op::kReceive, cancelled, fd, -ECANCELED, false);
    }
  }
  Deliver(Op::kClose, token, fd, res, false);
}

void UringLoop::OnCqe(uint64_t user_data, int res, uint32_t flags) {
  if (user_data == 0) {
    return;  // a cancel request's own result
  }
  int32_t index = static_cast<int32_t>(user_data - 1);
  bool final = (flags & IORING_CQE_F_MORE) == 0;
  switch (records_[index].kind) {
    case Kind::kAccept:
      OnAccept(index, res, final);
      break;
    case Kind::kReceive:
      OnReceive(index, res, flags, final);
      break;
    case Kind::kSend:
      OnSend(index, res);
      break;
    case Kind::kConnect:
      OnConnect(index, res);
      break;
    case Kind::kClose:
      OnClose(index, res);
      break;
    case Kind::kWake:
      FreeRecord(index);
      ArmWake();
      break;
    case Kind::kFree:
      SOCKLAB_CHECK(false, "io_uring completion for a finished operation");
      break;
  }
}

absl::StatusOr<int> UringLoop::RunOnce(int64_t max_wait_ns) {
  EnsureEnabled();
  delivered_ = 0;
  DispatchSynthetic();
  int64_t timeout_ns =
      (delivered_ > 0 || HasDeferred() || !flush_queue_.empty()) ? 0 : WaitTimeoutNs(max_wait_ns);
  // One io_uring_enter: submits the iteration's SQEs, runs deferred task work and waits for one
  // CQE or the timeout (IORING_FEAT_EXT_ARG, 5.11), whichever first.
  __kernel_timespec ts{};
  ts.tv_sec = timeout_ns < 0 ? 0 : timeout_ns / 1'000'000'000;
  ts.tv_nsec = timeout_ns < 0 ? 0 : timeout_ns % 1'000'000'000;
  io_uring_cqe* first = nullptr;
  buffers_->Refill();
  int ret =
      io_uring_submit_and_wait_timeout(&ring_, &first, 1, timeout_ns < 0 ? nullptr : &ts, nullptr);
  if (ret < 0 && ret != -ETIME && ret != -EINTR && ret != -EAGAIN && ret != -EBUSY) {
    return ErrnoError(-ret, "io_uring_enter");
  }
  StartBatch();

  io_uring_cqe* cqes[kMaxCqeBatch];
  struct Copied {
    uint64_t user_data;
    int res;
    uint32_t flags;
  };
  Copied batch[kMaxCqeBatch];
  for (int round = 0; round < kMaxReapRounds; ++round) {
    unsigned n = io_uring_peek_batch_cqe(&ring_, cqes, kMaxCqeBatch);
    // Copy and release the CQ slots first: handlers submit, and the kernel may post more.
    for (unsigned i = 0; i < n; ++i) {
      batch[i] = Copied{cqes[i]->user_data, cqes[i]->res, cqes[i]->flags};
    }
    io_uring_cq_advance(&ring_, n);
    for (unsigned i = 0; i < n; ++i) {
      OnCqe(batch[i].user_data, batch[i].res, batch[i].flags);
    }
    if (n < kMaxCqeBatch) {
      break;
    }
  }

  DeliverExpiredTimers();
  DispatchSynthetic();
  retired_states_.clear();  // no completion is being delivered now
  return delivered_;
}

}  // namespace socklab::loop

#pragma once

#include <liburing.h>

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/inlined_vector.h"
#include "absl/status/statusor.h"
#include "core/base/unique_fd.h"
#include "core/loop/buffer_ring.h"
#include "core/loop/event_loop.h"
#include "core/loop/loop_base.h"
#include "core/loop/receive_delivery.h"

namespace socklab::loop {

// The completion backend: operations run in the kernel through one io_uring per loop.
// - Multishot accept (5.19) and multishot receive (6.0) into a provided-buffer ring shared by all
//   connections (BufferRing): an idle connection costs no receive buffer.
// - IORING_SETUP_SINGLE_ISSUER | DEFER_TASKRUN (6.1) when the kernel takes them, else
//   COOP_TASKRUN | TASKRUN_FLAG (5.19), else plain: each step back on -EINVAL. The ring starts
//   disabled (R_DISABLED) and is enabled by the first RunOnce, so the thread that runs the loop
//   (not the one that created it) becomes the single issuer.
// - One io_uring_enter per iteration submits everything queued since the last one and waits
//   with the timer heap's timeout (EXT_ARG, 5.11); a full SQ is flushed and retried.
// - user_data is the index (+1) of an internal op record that is freed only by its last CQE, so
//   a completion never reaches the user for an op the user already considers finished. What the
//   kernel delivers after CancelReceive/CancelAccept (a multishot op stops only when the cancel
//   lands) is kept per fd (the stash: ReceiveDelivery for receives) and handed over first when
//   the user re-arms.
// - The stash is bounded by one cancel: no kernel receive is armed while it holds bytes (it is
//   delivered first, the kernel receive armed only once it is empty), so what it holds is only
//   what one receive took before its cancel landed, and its memory goes back when it empties.
// - One multishot receive pass takes all the socket holds (newer kernels requeue a pass after
//   MULTISHOT_MAX_RETRY = 32 buffers, and the requeued pass may run in the same io_uring_enter;
//   older ones do not stop; 29 buffers measured on 6.18), so a multishot receive is armed only
//   while the user keeps up: a socket starts with single-shot IORING_OP_RECV (one buffer each),
//   switches to multishot when one of them leaves the socket empty (no
//   IORING_CQE_F_SOCK_NONEMPTY, 6.0) without filling its buffer, and back to single-shot when a
//   completion says the peer is ahead (F_SOCK_NONEMPTY); once the user has called CancelReceive
//   it stays single-shot. A cancel for backpressure then leaves at most one buffer behind, except
//   the first one of a connection if it lands in the pass of a multishot receive that found an
//   idle socket flooded.
// - HoldReceiveBuffer() keeps a provided buffer from going back to the ring until it is
//   released, for a send straight from it. At most half the ring is held at once: the other half
//   stays for receives, which end with ENOBUFS when the ring runs dry.
//
// - The first submission to the kernel (the first RunOnce, or an SQ-full flush before it)
//   registers the ring's fd with its thread (IORING_REGISTER_RING_FDS, 5.18), so io_uring_enter
//   skips the fd lookup. The registration holds the ring until the loop
//   is destroyed on that thread or the thread ends.
//
// Thread affinity and ownership: see EventLoop; destroy the loop on the thread that ran it, or
// after that thread has ended. Owns the ring, the buffer ring, the wake eventfd and every fd
// passed to Close() until its close completes.
class UringLoop final : public LoopBase {
 public:
  static absl::StatusOr<std::unique_ptr<EventLoop>> Create(CompletionHandler* handler,
                                                           const LoopOptions& options);
  ~UringLoop() override;

  Backend backend() const override { return Backend::kIoUring; }
  void Accept(int listen_fd, Token token) override;
  void CancelAccept(int listen_fd) override;
  void Connect(int fd, const SocketAddress& address, Token token) override;
  void Receive(int fd, Token token) override;
  void CancelReceive(int fd) override;
  void Send(int fd, const void* data, size_t size, Token token) override;
  void Close(int fd, Token token) override;
  size_t UnreadBytes(int fd) override;
  int HoldReceiveBuffer() override;
  void ReleaseReceiveBuffer(int hold) override;
  absl::StatusOr<int> RunOnce(int64_t max_wait_ns) override;
  void Wake() override;

  // The setup flags the kernel accepted: "single_issuer+defer_taskrun", "coop_taskrun" or
  // "plain". Any thread.
  const std::string& setup_mode() const { return setup_mode_; }

  // What the backend did behind the user's back, for tests and benchmarks. Loop thread only.
  struct Counters {
    uint64_t receive_rearms = 0;     // kernel receives the loop re-armed by itself (ENOBUFS, no
                                     // F_MORE, single-shot done, switch of mode)
    uint64_t one_shot_receives = 0;  // single-shot receives armed (new socket, peer ahead)
    uint64_t enobufs = 0;            // of which the buffer ring ran dry
    uint64_t stashed_bytes = 0;      // bytes held between CancelReceive and the next Receive
    uint64_t stash_peak_bytes = 0;   // the most one fd's stash held at once
    uint64_t sq_full_flushes = 0;    // io_uring_get_sqe found the SQ full
    uint64_t accept_rearms = 0;      // multishot accepts the kernel ended and the loop re-armed
                                     // (CQ overflow, EINTR, a transient error)
  };
  const Counters& counters() const { return counters_; }

 private:
  enum class Kind : uint8_t { kAccept, kConnect, kReceive, kSend, kClose, kWake, kFree };
  // 24 bytes: one per operation in flight, so every idle connection's multishot receive holds
  // one. The address only a connect needs lives out of line.
  struct OpRecord {
    Kind kind = Kind::kFree;
    int fd = -1;
    Token token = 0;
    std::unique_ptr<SocketAddress> address;  // kConnect: the kernel reads it at submission
  };
  // A multishot operation in the ring (the kernel's accept or receive behind the user's).
  struct KernelOp {
    int32_t record = -1;  // in flight, -1 if none
    bool cancel_sent = false;
  };
  // The accept as the user sees it.
  struct UserAccept {
    bool armed = false;
    Token token = 0;
    // -ECANCELED completions owed to the user, delivered in order before any stashed fd.
    std::vector<Token> cancels;
  };
  struct PendingSend {
    const void* data;
    size_t size;
    Token token;
  };
  struct FdState {
    UserAccept accept;
    KernelOp accept_op;
    ReceiveDelivery receive;
    KernelOp receive_op;
    KernelOp send_op;  // one at a time
    KernelOp connect_op;
    absl::InlinedVector<PendingSend, 1> sends;  // not yet submitted
    uint32_t inflight = 0;                      // kernel ops on this fd (records not yet finished)
    bool closing = false;
    bool close_submitted = false;
    Token close_token = 0;
    bool flush_queued = false;
    // The next kernel receive is single-shot: the socket had bytes left after the last one (the
    // peer is ahead), or the user paused. Fresh sockets start so: a client that connects and
    // floods gets no multishot pass ahead of the user.
    bool receive_one_shot = true;
    // The user has paused the receive (CancelReceive) at least once: this peer can outrun its
    // handler, so the fd stays single-shot for good.
    bool receive_paused = false;
    // Accept results taken by the kernel while the user had no accept armed, in order: new fds,
    // or -errno of the transient errors (delivered with more = true as well).
    std::vector<int> accepted;
  };
  UringLoop(CompletionHandler* handler, const LoopOptions& options);
  absl::Status Init();

  FdState& State(int fd);
  // Gives `fd` a fresh state; the old one lives until the end of the dispatch step, since code
  // up the stack (a completion being delivered) may still hold a reference to it.
  void ReplaceState(int fd);
  // An operation on `st` ended (its record's last CQE).
  static void EndOp(FdState& st);
  int32_t NewRecord(Kind kind, int fd, Token token);
  void FreeRecord(int32_t index);
  io_uring_sqe* GetSqe();
  // On the first submission to the kernel, from the loop thread: enables the ring (R_DISABLED)
  // and registers its fd with that thread.
  void EnsureEnabled();
  void SubmitCancel(int32_t record);
  // Cancels `op` if it is in flight and not being cancelled already.
  void CancelKernelOp(KernelOp& op);
  void ArmAccept(int fd, FdState& st);
  void ArmReceive(int fd, FdState& st);
  void ArmWake();
  void SubmitNextSend(int fd, FdState& st);
  void MaybeFinishClose(int fd, FdState& st);
  void QueueFlush(int fd, FdState& st);
  void ProcessFlushes();
  void DispatchSynthetic();

  void OnCqe(uint64_t user_data, int res, uint32_t flags);
  void OnAccept(int32_t index, int res, bool final);
  void OnReceive(int32_t index, int res, uint32_t flags, bool final);
  void OnSend(int32_t index, int res);
  void OnConnect(int32_t index, int res);
  void OnClose(int32_t index, int res);

  LoopOptions options_;
  io_uring ring_{};
  bool ring_ready_ = false;
  bool needs_enable_ = false;
  bool on_loop_thread_ = false;  // EnsureEnabled ran (on the loop thread)
  std::string setup_mode_;

  std::unique_ptr<BufferRing> buffers_;  // destroyed before the ring exits

  UniqueFd wake_fd_;
  uint64_t wake_value_ = 0;

  // deque: records stay put while new ones are added.
  std::deque<OpRecord> records_;
  std::vector<int32_t> free_records_;
  std::vector<std::unique_ptr<FdState>> fds_;
  std::vector<std::unique_ptr<FdState>> retired_states_;  // see ReplaceState
  std::vector<int> flush_queue_;
  std::vector<int> flush_batch_;
  Counters counters_;
  // The provided buffer whose bytes the handler is being given now (-1: none, or the bytes are
  // a copy kept by ReceiveDelivery), and whether the handler held it.
  int holdable_buffer_ = -1;
  bool buffer_held_ = false;
  unsigned held_buffers_ = 0;
};

}  // namespace socklab::loop

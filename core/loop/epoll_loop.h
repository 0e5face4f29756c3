#pragma once

#include <cstddef>
#include <memory>
#include <vector>

#include "absl/container/inlined_vector.h"
#include "absl/status/statusor.h"
#include "core/base/unique_fd.h"
#include "core/loop/event_loop.h"
#include "core/loop/loop_base.h"

namespace socklab::loop {

// The readiness backend: performs each operation's syscall when epoll says the fd is ready and
// synthesizes the completion io_uring would have produced.
//
// Edge-triggered, registered once per fd with EPOLLIN|EPOLLOUT|EPOLLRDHUP|EPOLLET: interest never
// changes, so backpressure (CancelReceive), a send that hits EAGAIN and a connect cost no
// epoll_ctl at all, where level triggering would need an EPOLL_CTL_MOD each time the wanted set
// changes (twice per stalled send). The price is that the loop must remember readiness itself:
// two bits per fd, set by events and cleared only by EAGAIN, a short read (a short TCP read
// means the receive queue was empty and later data raises a new edge, unless the event already
// reported the peer's FIN, see FdState::short_read_drains) or a listener whose accept queue the
// loop has emptied by its count (see DoAccepts). Operations are tried
// optimistically first, so an fd is registered only when an operation first has to wait, or
// when a short read on it needs the registration's own poll to vouch that the queue is drained
// (see DoReceives).
//
// Receives read into one buffer shared by all fds; HoldReceiveBuffer() takes it out of the loop
// and puts a spare in its place (at most max_held_receive_buffers at once), so a held buffer
// costs a swap, not a copy.
//
// Thread affinity and ownership: see EventLoop. Owns the epoll fd, the wake eventfd and the
// receive buffers, held ones included.
class EpollLoop final : public LoopBase {
 public:
  static absl::StatusOr<std::unique_ptr<EventLoop>> Create(CompletionHandler* handler,
                                                           const LoopOptions& options);
  ~EpollLoop() override;

  Backend backend() const override { return Backend::kEpoll; }
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

 private:
  struct PendingSend {
    const std::byte* data;
    size_t size;
    Token token;
  };
  struct FdState {
    bool registered = false;  // believed to be in the epoll set
    bool readable = true;     // optimistic until EAGAIN says otherwise
    bool writable = true;
    // The last event had no EPOLLRDHUP/HUP/ERR, so a short read means the queue is drained. When
    // the event did carry a hangup (or no event was seen since the fd went idle), a FIN may sit
    // behind the data already signalled: read on until EAGAIN or EOF instead.
    bool short_read_drains = false;
    bool queued = false;  // on run_, or being processed (ProcessFd)
    bool accept_armed = false;
    bool listener = false;  // Accept() was used on it since its last Close()
    bool receive_armed = false;
    bool connecting = false;
    Token accept_token = 0;
    Token receive_token = 0;
    Token connect_token = 0;
    absl::InlinedVector<PendingSend, 1> sends;
  };

  EpollLoop(CompletionHandler* handler, const LoopOptions& options, UniqueFd epoll_fd,
            UniqueFd wake_fd);

  FdState& State(int fd);
  static bool Busy(const FdState& st) {
    return st.accept_armed || st.receive_armed || st.connecting || !st.sends.empty();
  }
  static bool Runnable(const FdState& st) {
    return (st.writable && (st.connecting || !st.sends.empty())) ||
           (st.readable && (st.accept_armed || st.receive_armed));
  }
  // Called before adding an operation to an idle fd: the fd number may belong to a new socket
  // since the last operation (the caller may close idle fds itself), so readiness is re-assumed
  // and registration re-checked on the next wait.
  void PrepareForOp(FdState& st);
  void QueueIfRunnable(int fd, FdState& st);
  // Makes sure an edge will be reported for `fd`; on failure completes every pending op. True
  // when this call added the fd to the set, which polls it: readiness it already has is reported
  // by the next wait.
  bool WaitForEdge(int fd, FdState& st);
  void FailAll(int fd, FdState& st, int res);

  void RunPasses();
  void ProcessFd(int fd);
  void DoConnect(int fd, FdState& st);
  void DoSends(int fd, FdState& st);
  void DoAccepts(int fd, FdState& st);
  void DoReceives(int fd, FdState& st);

  LoopOptions options_;
  UniqueFd epoll_fd_;
  UniqueFd wake_fd_;
  // Indexed by fd; unique_ptr so a state stays put while a handler grows the table.
  std::vector<std::unique_ptr<FdState>> fds_;
  std::vector<int> run_;
  std::vector<int> run_batch_;
  // Receive buffers by hold id; buffers_[reading_] is the one recv() fills.
  std::vector<std::unique_ptr<std::byte[]>> buffers_;
  int reading_ = 0;
  std::vector<int> spare_buffers_;
  unsigned held_buffers_ = 0;
  // Inside the handler of a receive completion from buffers_[reading_]: it may be held.
  bool holdable_ = false;
  bool use_pwait2_ = true;
};

}  // namespace socklab::loop

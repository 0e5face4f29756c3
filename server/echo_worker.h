#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "core/base/unique_fd.h"
#include "core/loop/event_loop.h"
#include "server/connection_table.h"
#include "server/echo_buffer.h"
#include "server/fault.h"
#include "server/server_options.h"
#include "server/server_stats.h"

namespace socklab::server {

// What the workers of one server share. Thread affinity: any thread (atomics only).
struct SharedState {
  std::atomic<uint64_t> open{0};  // connections open across all workers (--max-connections)
  std::atomic<bool> draining{false};
  std::atomic<int64_t> drain_deadline_ns{0};
  // Every worker, filled before any thread starts and read-only after: a worker that frees a
  // connection at the --max-connections limit wakes the others, which may be paused.
  std::vector<class EchoWorker*> workers;
  std::atomic<int> workers_created{0};  // each worker's index (--fault-seed draws per worker)
  // --fault refuse-after: connections accepted by all workers; at the count every listener closes.
  std::atomic<uint64_t> fault_accepts{0};
};

// One thread's share of the server: an EventLoop, a listener (its own SO_REUSEPORT socket, or
// its own dup of the shared one) and the connections accepted on it.
//
// Thread affinity: constructed on any thread, then Run() on the worker thread, which alone
// touches the loop and the connections. Wake() and stats() may be used from any thread.
class EchoWorker final : public loop::CompletionHandler {
 public:
  // `listener` is owned: a reuseport socket of its own, or a dup of a shared listener (so that
  // each worker can close its fd through its loop while the others still accept on theirs).
  // `options` and `shared` must outlive the worker.
  static absl::StatusOr<std::unique_ptr<EchoWorker>> Create(const ServerOptions& options,
                                                            loop::Backend backend,
                                                            UniqueFd listener, SharedState* shared);
  ~EchoWorker() override;

  // The worker thread's body: serves until the server drains, then returns. The error is the
  // loop's own failure (never a connection's).
  absl::Status Run();
  // Any thread: makes the worker re-check the shared state (drain, accept limit).
  void Wake() { loop_->Wake(); }
  const WorkerStats& stats() const { return stats_; }
  loop::Backend backend() const { return loop_->backend(); }

  void OnCompletion(const loop::Completion& completion) override;

 private:
  EchoWorker(const ServerOptions& options, UniqueFd listener, SharedState* shared);

  void OnAccept(const loop::Completion& c);
  void OnAccepted(int fd);
  // Takes one place below --max-connections (always succeeds without a limit).
  bool TryReserve();
  // Sets up an accepted fd whose place is reserved and starts receiving.
  void Activate(int fd);
  void OnReceive(Connection& conn, uint32_t slot, const loop::Completion& c);
  void OnSend(Connection& conn, uint32_t slot, const loop::Completion& c);
  void OnClose(Connection& conn, uint32_t slot, const loop::Completion& c);
  // The time for the activity clocks (last_activity_ns, send_progress_ns), which only the
  // timeouts' Sweep reads: without --idle-timeout and --write-timeout it is 0, and the echo path
  // reads no clock.
  int64_t ActivityNanos() const { return sweep_period_ns_ > 0 ? loop_->BatchNanos() : 0; }
  void OnTimer(loop::Token token);

  // --fault (server/fault.h). At accept: picks the connection or not, applies blackhole and
  // byte triggers of 0, arms the time triggers. Returns false when the connection is gone.
  bool StartFaults(Connection& conn, uint32_t slot, int64_t now);
  // A connection's fault timer fired (ApplyDueTimeFaults armed it).
  void OnFaultTimer(loop::Token token);
  // Applies the time triggers due by `now` (reset first: it ends everything) and arms the timer
  // for the next one.
  void ApplyDueTimeFaults(Connection& conn, uint32_t slot, int64_t now);
  // stop-reading-after: cancels the receive for good; the peer's bytes wait in the kernel.
  void StopReading(Connection& conn);
  // half-close-after: shutdown(SHUT_WR) once the echo queued so far is sent (at once if none).
  void HalfClose(Connection& conn);
  void ShutWriteIfDue(Connection& conn);
  // delay: holds the last `n` bytes appended to the echo until now + delay (+ jitter).
  void HoldBack(Connection& conn, uint32_t slot, size_t n, int64_t now);
  // Releases the held chunks due by `now` to the send path, and arms the next release.
  void ReleaseHeld(Connection& conn, uint32_t slot, int64_t now);
  // reset-after: SO_LINGER {1, 0} and close, so the kernel sends RST and drops what is queued.
  void AbortConnection(Connection& conn, uint32_t slot);
  // close-after: read no more, echo what was read, then FIN (as after the peer's own EOF).
  void EndStream(Connection& conn, uint32_t slot);
  // refuse-after: whether every listener is to close now.
  bool RefusingAccepts() const;
  // Brings the accept state in line with what is wanted now (not draining, below the limit,
  // not backing off); loop thread.
  void UpdateAccept();
  // Serves parked connections while there is room below --max-connections (also while
  // draining: the kernel completed them, their bytes are as accepted as any).
  void ActivateParked();
  void StartReceive(Connection& conn, uint32_t slot);
  void StartSend(Connection& conn, uint32_t slot);
  // Ends the direct echo's hold on its receive buffer (all sent, failed or closing).
  void ReleaseDirect(Connection& conn);
  // Closes the connection: through the loop at once, or after lingering (--linger SECONDS).
  void CloseConnection(Connection& conn, uint32_t slot);
  void SubmitClose(Connection& conn, uint32_t slot);
  // --linger SECONDS without SO_LINGER: close() with SO_LINGER {1, N} waits in the kernel up to N
  // s for the peer to acknowledge our FIN, and a waiting close() cannot be cut short, so with
  // many of them on 8 closer threads a drain deadline of 1 s became 25 s. The worker does the
  // same wait itself instead: shutdown(SHUT_RDWR) sends the FIN behind the queued bytes as close()
  // would, then the connection waits (polled every 10 ms) until the FIN is acknowledged or N s
  // passed, and only then is closed, without lingering. The peer sees the same segments either
  // way; the drain can end every wait at once.
  void StartLinger(Connection& conn, uint32_t slot);
  // Closes the lingering connections whose wait is over (all of them with `stop_waiting`).
  void CheckLingering(bool stop_waiting);
  void FreeIfDone(Connection& conn, uint32_t slot);
  void Sweep(int64_t now);
  // Whether the peer has taken no echo bytes for the write timeout while some were waiting for
  // it, in our queue or in the kernel's send queue; refreshes what the peer acknowledged.
  bool WriteStalled(Connection& conn, int64_t now, int64_t write_timeout_ns);
  // The drain (SIGINT/SIGTERM): stop accepting, then serve every connection as before until its
  // peer closes (EOF, then the rest of the echo, then our FIN) or the drain deadline, when
  // CutAtDeadline() closes what is left. A connection is never closed for being quiet: a
  // request/response client between two requests looks exactly like that.
  void StartDrain();
  // At the drain deadline: closes every connection still open and every parked one, counting
  // them and the echo bytes their peers will never get.
  void CutAtDeadline();
  // Echo bytes of `conn` that closing it now loses: queued here, not yet read from the socket
  // (the loop's UnreadBytes), and, when the close is an RST (bytes unread, or --linger rst), the
  // kernel's send queue, which an RST discards.
  uint64_t UnechoedBytes(const Connection& conn);
  // Closes the listener through the loop, which cancels its accept and closes whatever the
  // kernel accepted for it meanwhile; the kClose completes the drain's listener part.
  void CloseListener();
  void ArmBackoff(int64_t now);

  const ServerOptions& options_;
  SharedState* shared_;
  FaultDice fault_dice_;
  int listener_;
  std::unique_ptr<loop::EventLoop> loop_;
  ConnectionTable table_;
  ChunkPool pool_;
  WorkerStats stats_;

  // Accepted while another worker took the last place (or before a multishot accept's cancel
  // landed): held unread, as if still in the backlog, until there is room.
  std::deque<int> parked_;
  bool accept_armed_ = false;
  bool accept_cancel_sent_ = false;
  bool listener_open_ = true;      // ours to close (not yet handed to the loop's Close)
  bool listener_closing_ = false;  // Close submitted, kClose not yet delivered
  bool backoff_armed_ = false;
  int64_t backoff_ns_ = 0;
  bool limit_paused_ = false;
  bool sweep_armed_ = false;
  int64_t sweep_period_ns_ = 0;
  bool draining_ = false;
  bool cut_ = false;                    // the drain deadline passed and CutAtDeadline() ran
  std::vector<loop::Token> lingering_;  // connections waiting out --linger before their close
  bool linger_timer_armed_ = false;
};

}  // namespace socklab::server

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
  void OnAccepted(int fd, int64_t now);
  // Takes one place below --max-connections (always succeeds without a limit).
  bool TryReserve();
  // Sets up an accepted fd whose place is reserved and starts receiving.
  void Activate(int fd, int64_t now);
  void OnReceive(Connection& conn, uint32_t slot, const loop::Completion& c);
  void OnSend(Connection& conn, uint32_t slot, const loop::Completion& c);
  void OnClose(Connection& conn, uint32_t slot, const loop::Completion& c);
  void OnTimer(loop::Token token);

  // Brings the accept state in line with what is wanted now (not draining, below the limit,
  // not backing off); loop thread.
  void UpdateAccept();
  void StartReceive(Connection& conn, uint32_t slot);
  void StartSend(Connection& conn, uint32_t slot);
  void CloseConnection(Connection& conn, uint32_t slot);
  void FreeIfDone(Connection& conn, uint32_t slot);
  void Sweep(int64_t now);
  void StartDrain(int64_t now);
  // While draining: a connection with nothing left to echo closes once nothing it sent is unread
  // and it has been quiet for a moment (or at EOF): closing with bytes unread or still on their
  // way would send RST, and the client would lose echo bytes. Queues the check for after the
  // current dispatch step.
  void QueueDrainCheck(Connection& conn, uint32_t slot);
  void RunDrainChecks();
  void CloseAll();
  // Closes the listener through the loop, which cancels its accept and closes whatever the
  // kernel accepted for it meanwhile; the kClose completes the drain's listener part.
  void CloseListener();
  void ArmBackoff(int64_t now);

  const ServerOptions& options_;
  SharedState* shared_;
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
  bool forced_ = false;
  std::vector<loop::Token> drain_checks_;
  std::vector<loop::Token> drain_checks_batch_;
  int64_t drain_timer_ns_ = 0;  // deadline of the latest drain-check timer armed, 0 if none
};

}  // namespace socklab::server

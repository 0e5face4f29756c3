#pragma once

#include <atomic>
#include <cstdint>
#include <latch>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "client/load/issue_policy.h"
#include "client/load/load_options.h"
#include "client/load/message_pipeline.h"
#include "client/load/payload.h"
#include "client/load/shortage_gate.h"
#include "core/base/backoff.h"
#include "core/base/clock.h"
#include "core/loop/event_loop.h"
#include "core/loop/slot_token.h"
#include "core/stats/error_counts.h"
#include "core/stats/histogram.h"

namespace socklab::client {

// The abort reason a worker sets when the target never answered; the engine rewords it with the
// attempts of every thread once they have all stopped.
inline constexpr char kUnreachableReason[] = "could not reach the target";

// State the loop threads of one run share. Owned by the engine; outlives the workers.
struct LoadShared {
  const LoadOptions* options = nullptr;
  const PayloadPattern* pattern = nullptr;
  loop::Backend backend = loop::Backend::kEpoll;
  int64_t start_ns = 0;
  int64_t measure_start_ns = 0;     // start + warmup
  int64_t end_ns = 0;               // 0: bounded by messages only
  std::atomic<bool> stop{false};    // end the run now (interrupt, abort)
  std::atomic<int64_t> stop_ns{0};  // monotonic time of the first Abort(); 0 = none
  // The run aborted because the target never answered a connect; the engine words the reason
  // once every worker has counted its attempts.
  std::atomic<bool> unreachable{false};
  std::atomic<uint64_t> errors{0};  // for --max-errors (socket and data errors, warmup included)
  std::atomic<uint64_t> connects_ok{0};
  // Failed attempts that say something about the target (see LoadWorker::AttemptFailed).
  std::atomic<uint64_t> connect_failures{0};
  // Local failures (no fd, no port, no kernel memory) while no connection of the run was
  // connecting or open, so none can free what is missing.
  std::atomic<uint64_t> stuck_local_failures{0};
  // Workers that have not yet started their first connects: until then "nothing is connecting"
  // is not yet known (a thread may start late on a busy machine).
  std::atomic<int> workers_starting{0};
  // Counts down as each thread has created its event loop (or failed to): connections start
  // once all have.
  explicit LoadShared(int threads) : loops_created(threads) {}
  std::latch loops_created;
  std::atomic<int64_t> live_connections{0};  // connecting or open, all threads
  std::atomic<int64_t> open_connections{0};  // open, all threads
  std::atomic<int64_t> peak_open_connections{0};
  std::mutex abort_mutex;
  std::string abort_reason;  // guarded by abort_mutex

  // Any thread: ends the run, keeping the first reason and its time.
  void Abort(const std::string& reason);
};

// Cumulative counters one worker publishes for the per-second series (and the final result).
struct WorkerCounters {
  uint64_t messages_sent = 0;
  uint64_t messages_completed = 0;
  uint64_t messages_failed = 0;
  uint64_t in_flight_at_end = 0;    // sent in the window, still unanswered when it closed
  uint64_t messages_scheduled = 0;  // open loop: the schedule's times in the window
  uint64_t bytes_sent = 0;
  uint64_t bytes_received = 0;
  uint64_t data_errors = 0;
  uint64_t warmup_data_errors = 0;
  uint64_t errors = 0;  // socket errors, warmup included (both ErrorCounts' totals)
  uint64_t connections_opened = 0;
  uint64_t connect_attempts = 0;
  uint64_t warmup_connections_opened = 0;
  uint64_t warmup_connect_attempts = 0;
  int64_t open_connections = 0;
  int64_t last_completion_ns = 0;  // monotonic, of the last counted echo
  // Local shortages (ShortageGate): attempts that failed on one, starts that waited for one to
  // pass, and the time this worker spent short.
  // Connect deadlines by what the kernel said of the socket when they fired (TCP_INFO): the
  // handshake had completed (this client was late to see it), or it was still in SYN_SENT.
  uint64_t connect_deadlines_answered = 0;
  uint64_t connect_deadlines_unanswered = 0;
  uint64_t shortage_failures = 0;
  uint64_t shortage_waits = 0;
  int64_t shortage_ns = 0;
};

// One loop thread of a load run: owns an EventLoop and the connections given to it.
// Thread affinity: Run() and the completion callbacks on the worker's own thread; Publish-side
// accessors (TakeInterval) from the engine thread under the worker's mutex; the final
// accessors only after the thread has been joined.
class LoadWorker : public loop::CompletionHandler {
 public:
  // `connection_ids` are global connection numbers (they pick source addresses); `budget` is
  // this worker's share of -n (a fixed split: no thread takes another's messages, so the
  // counts are exact); the rates are this worker's shares.
  LoadWorker(LoadShared* shared, std::vector<int> connection_ids, int64_t budget, double rate_share,
             double connect_rate_share);
  ~LoadWorker() override;

  // The thread body: creates the loop, runs until the worker's part of the run is over.
  void Run();
  absl::Status status() const { return status_; }  // after join
  bool done() const { return done_.load(std::memory_order_acquire); }

  // Engine thread: the counters so far; merges the round-trip and connect latencies since the
  // last call into `interval_into` and `connect_into`, and every socket error so far (warmup
  // included) into `errors_into`.
  WorkerCounters TakeInterval(Histogram* interval_into, Histogram* connect_into,
                              ErrorCounts* errors_into);

  // After join.
  const WorkerCounters& counters() const { return counters_; }
  const Histogram& rtt() const { return rtt_; }
  const Histogram& rtt_uncorrected() const { return rtt_uncorrected_; }
  const Histogram& send_lag() const { return send_lag_; }
  const Histogram& connect_latency() const { return connect_; }
  const ErrorCounts& error_counts() const { return errors_; }
  const ErrorCounts& warmup_error_counts() const { return warmup_errors_; }
  // Test-only (LoadOptions::raw_latencies_path): every latency recorded into rtt(), in ns.
  const std::vector<int64_t>& raw_rtt() const { return raw_rtt_; }

  void OnCompletion(const loop::Completion& completion) override;

 private:
  using Message = MessagePipeline::Message;
  static constexpr int64_t kRetryInitialNs = 10'000'000;
  static constexpr int64_t kRetryMaxNs = 1'000'000'000;
  enum class State : uint8_t { kIdle, kWaiting, kConnecting, kOpen, kClosing };
  // What a connection does once its close completes; the smallest wins when a close is asked
  // for twice.
  enum class AfterClose : uint8_t { kNothing, kReopen, kRetry, kWaitShortage };
  struct Conn {
    uint32_t slot = 0;  // index in conns_
    int id = 0;         // global connection number
    // loop::NextGeneration() at each connect attempt. Never 0, not even before the first
    // attempt, when the connect pacer's timer already carries it: tokens of generation 0 are
    // the worker's own (tick, start, shortage).
    uint32_t gen = loop::kFirstGeneration;
    State state = State::kIdle;
    AfterClose after_close = AfterClose::kNothing;
    int fd = -1;
    uint64_t uid = 0;  // this incarnation, for the payload
    int64_t connect_start_ns = 0;
    // Retries after the target failed it (refused, reset, a deadline); local shortages wait in
    // the worker's ShortageGate instead.
    Backoff retry{kRetryInitialNs, kRetryMaxNs};
    bool connect_slot_reserved = false;
    bool receiving = false;
    bool send_in_flight = false;
    loop::TimerId timer = 0;
    bool timer_armed = false;
    MessagePipeline pipeline;  // the messages in flight, the send cursor
    uint64_t issued = 0;       // on this incarnation, for --churn
    int64_t reserved = 0;      // -n with --churn: messages taken from the budget, not yet issued
    uint64_t completed = 0;
    int64_t next_intended_ns = 0;  // open loop schedule
    // Open loop: the schedule's first time; it then runs every interval_ns_ from here.
    int64_t schedule_origin_ns = 0;
    bool schedule_started = false;
  };

  loop::Token TokenOf(const Conn& c) const { return loop::MakeToken(c.slot, c.gen); }

  void StartConnect(Conn& c);
  void OnConnect(Conn& c, int res);
  void FillPipeline(Conn& c);
  void TrySend(Conn& c);
  void OnSend(Conn& c, int res);
  void OnReceive(Conn& c, const loop::Completion& completion);
  void CompleteHead(Conn& c);
  void OnClosed(Conn& c);
  void OnConnTimer(Conn& c);
  void OnTick();
  // Ends the connection after an error: its in-flight messages fail, it reconnects after a
  // backoff.
  void FailConn(Conn& c);
  // Counts the connection's in-flight messages as failed (those the window counts) and drops
  // them.
  void FailMessages(Conn& c);
  void CloseConn(Conn& c, AfterClose after);
  void ArmTimer(Conn& c, int64_t at_ns);
  void CancelTimer(Conn& c);
  void ScheduleRetry(Conn& c);
  // An attempt of `c` failed for a local shortage (socket, bind, or connect EADDRNOTAVAIL,
  // ENOBUFS...): it waits in the gate, which times the worker's next attempt.
  void WaitForShortage(Conn& c);
  // -n with --churn: the messages `c` took from the budget go back (it will not send them).
  void ReturnReservation(Conn& c);
  // An attempt of `c` got past this machine's limits: the gate releases waiting connections.
  void PassedLocalLimits(const Conn& c);
  // Starts a connection the gate released (after its close, if that is still in flight).
  void Resume(uint32_t slot);
  void OnShortageTimer();
  void ArmShortageTimer(int64_t at_ns);
  void BeginStop(bool hard);
  // Starts the next kStartBatch connections; the rest after the loop has reaped completions.
  void StartNextBatch();
  // Open loop: counts the times each connection's schedule had in the window [measure start,
  // `end_ns`), sent or not.
  void CountScheduled(int64_t end_ns);
  void MaybeFinish();
  void RecordErrno(Phase phase, int err);
  void RecordClass(Phase phase, ErrorClass error_class);
  // Counts one error (socket or data) toward --max-errors. False when the run already ended on
  // --max-errors: that error is past the one that ended it and is not counted anywhere (the
  // report then says "more than N" with exactly N + 1 counted).
  bool CountError();
  // An attempt to open a connection failed (its error recorded, the connection no longer
  // connecting). `local` failures (socket and bind errors; connect EMFILE, EADDRNOTAVAIL,
  // EADDRINUSE, ENOBUFS) are shortages on this machine: they are retried with backoff and never
  // make the target "unreachable", unless nothing of the run is connecting or open (so nothing
  // will free an fd or a port) and no connect ever succeeded. The others (refused, kernel
  // timeout, unreachable, our deadline) count toward "could not reach the target".
  void AttemptFailed(bool local, Phase phase, int err);
  bool InWindow(int64_t now) const { return now >= shared_->measure_start_ns; }
  // The measured window is over: the planned end passed, or the run is stopping (-n done, an
  // abort, an interrupt). A counted message that is answered or fails from now on is "in flight
  // at the end", never completed or failed: rates are over the window asked for.
  bool WindowClosed() const {
    return stopping_ || shared_->stop.load(std::memory_order_relaxed) ||
           (shared_->end_ns > 0 && Now() >= shared_->end_ns);
  }
  ErrorCounts& ErrorsNow() { return InWindow(Now()) ? errors_ : warmup_errors_; }
  // The time of the completion being handled, read from the clock when first asked for: the
  // completion of a send that leaves nothing else to send (most of them) asks for none.
  int64_t Now() const {
    if (now_ns_ == kNotRead) {
      now_ns_ = MonotonicNanos();
    }
    return now_ns_;
  }
  bool MayIssue(int64_t intended_ns) const;
  void Publish();

  LoadShared* shared_;
  const LoadOptions& options_;
  std::unique_ptr<loop::EventLoop> loop_;
  std::vector<Conn> conns_;
  double interval_ns_ = 0;  // open loop: per-connection send interval
  ConnectPacer connect_pacer_;
  ShortageGate gate_;
  loop::TimerId shortage_timer_ = 0;  // 0: none armed
  bool stopping_ = false;
  bool hard_stopped_ = false;
  size_t next_to_start_ = 0;  // connections [0, next_to_start_) were started
  bool all_started_ = false;
  MessageBudget budget_;  // this worker's share of -n
  int64_t drain_deadline_ns_ = 0;
  int closing_ = 0;  // connections whose close has not completed
  loop::TimerId tick_timer_ = 0;
  static constexpr int64_t kNotRead = -1;
  mutable int64_t now_ns_ = kNotRead;  // see Now()
  absl::Status status_;
  std::atomic<bool> done_{false};

  WorkerCounters counters_;
  Histogram rtt_;
  Histogram rtt_uncorrected_;
  Histogram send_lag_;
  Histogram connect_;
  Histogram interval_;
  Histogram connect_interval_;    // every connect since the last Publish, warmup included
  ErrorCounts errors_;            // in the measured window
  ErrorCounts warmup_errors_;     // during the warmup
  std::vector<int64_t> raw_rtt_;  // test-only, see raw_rtt()

  std::mutex publish_mutex_;
  WorkerCounters published_;              // guarded by publish_mutex_
  Histogram published_interval_;          // guarded by publish_mutex_
  Histogram published_connect_interval_;  // guarded by publish_mutex_
  ErrorCounts published_errors_;          // guarded by publish_mutex_; warmup included
};

}  // namespace socklab::client

#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>

#include "core/net/error_class.h"
#include "core/stats/error_counts.h"
#include "nlohmann/json_fwd.hpp"

namespace socklab::server {

// A consistent-enough copy of the counters of one or more worker threads.
// Plain value type; thread affinity: none.
struct StatsSnapshot {
  uint64_t open = 0;
  uint64_t accepted = 0;
  uint64_t closed = 0;
  uint64_t bytes_in = 0;
  uint64_t bytes_out = 0;
  uint64_t accept_pauses_limit = 0;   // accepting stopped at --max-connections
  uint64_t accept_pauses_no_fds = 0;  // accepting backed off after EMFILE/ENFILE/ENOBUFS
  uint64_t parked_over_limit = 0;     // accepted past the limit (a race); held unread until room
  uint64_t backpressure_pauses = 0;   // receives stopped because the peer did not read
  // Closes the server decided on (its timeouts, the drain deadline): counted here only, not in
  // `errors`, which holds what the kernel reported.
  uint64_t idle_timeouts = 0;
  uint64_t write_timeouts = 0;
  uint64_t drain_cut = 0;             // connections still open at the drain deadline, closed
  uint64_t drain_unechoed_bytes = 0;  // echo bytes their peers never got (see UnechoedBytes)
  // --fault: each fault applied, by mode (the server's own doing, like timeouts: not errors).
  uint64_t fault_resets = 0;           // reset-after: connections aborted with RST
  uint64_t fault_closes = 0;           // close-after: connections closed with FIN mid-stream
  uint64_t fault_half_closes = 0;      // half-close-after: shutdown(SHUT_WR) mid-stream
  uint64_t fault_stopped_reading = 0;  // stop-reading-after: connections no longer read
  uint64_t fault_blackholes = 0;       // blackhole: connections never read nor written
  uint64_t fault_paced = 0;            // delay, rate, slice: connections whose echo is paced
  uint64_t fault_listener_closes = 0;  // refuse-after: listeners closed
  uint64_t fault_refused_late = 0;     // refuse-after: accepted past the count, aborted at once
  ErrorCounts errors;

  uint64_t faults() const {
    return fault_resets + fault_closes + fault_half_closes + fault_stopped_reading +
           fault_blackholes + fault_paced + fault_listener_closes + fault_refused_late;
  }

  void Add(const StatsSnapshot& other);
};

// The counters of one worker thread. The worker (its loop thread) is the only writer; any thread
// may take a Snapshot() at any time (periodic stats lines): counters are relaxed atomics, and the
// error table, which changes rarely, sits behind a mutex.
class WorkerStats {
 public:
  void AddAccepted() {
    Bump(accepted_);
    Bump(open_);
  }
  void AddClosed() {
    Bump(closed_);
    open_.store(open_.load(kRelaxed) - 1, kRelaxed);
  }
  void AddBytesIn(uint64_t n) { Bump(bytes_in_, n); }
  void AddBytesOut(uint64_t n) { Bump(bytes_out_, n); }
  void AddAcceptPauseLimit() { Bump(accept_pauses_limit_); }
  void AddAcceptPauseNoFds() { Bump(accept_pauses_no_fds_); }
  void AddParkedOverLimit() { Bump(parked_over_limit_); }
  void AddBackpressurePause() { Bump(backpressure_pauses_); }
  void AddIdleTimeout() { Bump(idle_timeouts_); }
  void AddWriteTimeout() { Bump(write_timeouts_); }
  void AddDrainCut(uint64_t unechoed_bytes) {
    Bump(drain_cut_);
    Bump(drain_unechoed_bytes_, unechoed_bytes);
  }
  void AddFaultReset() { Bump(fault_resets_); }
  void AddFaultClose() { Bump(fault_closes_); }
  void AddFaultHalfClose() { Bump(fault_half_closes_); }
  void AddFaultStopReading() { Bump(fault_stopped_reading_); }
  void AddFaultBlackhole() { Bump(fault_blackholes_); }
  void AddFaultPaced() { Bump(fault_paced_); }
  void AddFaultListenerClose() { Bump(fault_listener_closes_); }
  void AddFaultRefusedLate() { Bump(fault_refused_late_); }
  void RecordErrno(Phase phase, int err, int64_t now_ns);
  void RecordClass(Phase phase, ErrorClass error_class, int64_t now_ns);

  StatsSnapshot Snapshot() const;

 private:
  static constexpr std::memory_order kRelaxed = std::memory_order_relaxed;
  // Single writer: a load and a store, no locked read-modify-write on the data path.
  static void Bump(std::atomic<uint64_t>& counter, uint64_t n = 1) {
    counter.store(counter.load(kRelaxed) + n, kRelaxed);
  }

  std::atomic<uint64_t> open_{0};
  std::atomic<uint64_t> accepted_{0};
  std::atomic<uint64_t> closed_{0};
  std::atomic<uint64_t> bytes_in_{0};
  std::atomic<uint64_t> bytes_out_{0};
  std::atomic<uint64_t> accept_pauses_limit_{0};
  std::atomic<uint64_t> accept_pauses_no_fds_{0};
  std::atomic<uint64_t> parked_over_limit_{0};
  std::atomic<uint64_t> backpressure_pauses_{0};
  std::atomic<uint64_t> idle_timeouts_{0};
  std::atomic<uint64_t> write_timeouts_{0};
  std::atomic<uint64_t> drain_cut_{0};
  std::atomic<uint64_t> drain_unechoed_bytes_{0};
  std::atomic<uint64_t> fault_resets_{0};
  std::atomic<uint64_t> fault_closes_{0};
  std::atomic<uint64_t> fault_half_closes_{0};
  std::atomic<uint64_t> fault_stopped_reading_{0};
  std::atomic<uint64_t> fault_blackholes_{0};
  std::atomic<uint64_t> fault_paced_{0};
  std::atomic<uint64_t> fault_listener_closes_{0};
  std::atomic<uint64_t> fault_refused_late_{0};
  mutable std::mutex errors_mu_;
  ErrorCounts errors_;
};

// "open=500 accepted=+20 closed=+3 in=1.2 MiB/s out=1.2 MiB/s errors=+1 (read ECONNRESET +1)":
// one --stats-interval line from two snapshots `seconds` apart. Every field is for the interval
// (counts as +N, bytes as rates) except open, the connections open now; accept_pauses=+N,
// timeouts=+N (idle and write) and faults=+N (--fault, by mode) appear when not 0.
std::string IntervalLine(const StatsSnapshot& now, const StatsSnapshot& before, double seconds);

// The final summary, several lines of text / one JSON object (without the run's header fields,
// which the caller adds).
std::string SummaryText(const StatsSnapshot& stats);
nlohmann::json SummaryJson(const StatsSnapshot& stats);

}  // namespace socklab::server

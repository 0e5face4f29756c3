#pragma once

#include <cstdint>

namespace socklab::server {

// Where one echo connection is in its life, and which of its loop operations are in flight.
// Every change goes through one of the transitions below, each of which checks that it starts
// from a state it may start from (a broken one is a bug in the worker: it aborts), so no
// combination the worker never produces can be written down: a linger without a close, a
// receive cancel without a receive, a half-close done without being asked for. The count of
// operations in flight, which decides when the slot is freed, is derived from the operations
// themselves rather than kept beside them.
//
//   kFree -> kOpen -> kFinishing -> kLingering -> kClosing -> kClosed -> kFree
//
// kOpen and kFinishing may skip ahead: to kLingering (--linger SECONDS), or straight to kClosing
// (a reset-after fault, a socket error, a timeout, the drain deadline, no --linger). The worker
// decides when; what it does on each (syscalls, counters) stays in EchoWorker.
//
// Two fault modes (server/fault.h) add a fact of their own beside the phase, because they
// combine with it rather than follow it: stop-reading-after (no receive is armed again; the
// stream may still end, by close-after) and half-close-after (the write side shuts down once the
// echo so far is out, while reading goes on and the peer may still end the stream).
//
// Plain value type. Thread affinity: the connection's worker thread.
class ConnectionState {
 public:
  enum class Phase : uint8_t {
    kFree,       // the slot holds no connection
    kOpen,       // reading (unless stop-reading-after fired) and echoing
    kFinishing,  // no more reads (the peer's FIN, or close-after ended the stream): the echo of
                 // what was read goes out, then the close
    kLingering,  // --linger SECONDS: shutdown(SHUT_RDWR) sent our FIN; the Close waits for its
                 // acknowledgement (or the time limit)
    kClosing,    // the loop's Close submitted: it cancels the receive and the send first
    kClosed,     // the Close completed; freed once every operation has completed
  };
  // The connection's (multishot) receive: at most one.
  enum class Receive : uint8_t {
    kIdle,
    kArmed,
    kCancelling,  // CancelReceive() submitted; its last completion is still to come
  };
  // half-close-after.
  enum class HalfClose : uint8_t {
    kNone,
    kPending,  // fired: bytes read from now on are not echoed; SHUT_WR once the echo so far is out
    kDone,     // shutdown(SHUT_WR) done
  };

  Phase phase() const { return phase_; }
  Receive receive() const { return receive_; }
  HalfClose half_close() const { return half_close_; }
  bool sending() const { return sending_; }
  bool read_stopped() const { return read_stopped_; }

  bool in_use() const { return phase_ != Phase::kFree; }
  bool finishing() const { return phase_ == Phase::kFinishing; }
  bool lingering() const { return phase_ == Phase::kLingering; }
  bool receive_idle() const { return receive_ == Receive::kIdle; }
  bool half_close_requested() const { return half_close_ != HalfClose::kNone; }
  // Open or finishing: reads, echoes and faults still apply.
  bool live() const { return phase_ == Phase::kOpen || phase_ == Phase::kFinishing; }
  // Lingering or closed through the loop: nothing is read, echoed or armed any more.
  bool closing() const { return in_use() && !live(); }
  // Whether a receive is wanted: open, and stop-reading-after has not fired.
  bool reads_on() const { return phase_ == Phase::kOpen && !read_stopped_; }
  // Whether the fd is still the worker's own to close (not yet handed to the loop's Close).
  bool owns_fd() const { return live() || phase_ == Phase::kLingering; }
  // Loop operations submitted and not yet completed for good.
  int in_flight() const {
    return (receive_ != Receive::kIdle ? 1 : 0) + (sending_ ? 1 : 0) +
           (phase_ == Phase::kClosing ? 1 : 0);
  }
  // The Close and every other operation completed: the slot may be freed.
  bool done() const { return phase_ == Phase::kClosed && in_flight() == 0; }

  // kFree -> kOpen: a new connection in the slot.
  void Open();
  // kOpen -> kFinishing: the stream ended. False (and no change) when it had already ended or
  // the connection is closing: an EOF or a close-after then changes nothing.
  bool EndReads();
  // stop-reading-after fired (open or finishing; once).
  void StopReading();
  // half-close-after fired (open or finishing; once): kNone -> kPending.
  void RequestHalfClose();
  // kPending -> kDone: shutdown(SHUT_WR) is done now.
  void ShutWrite();
  // Open or finishing -> kLingering.
  void BeginLinger();
  // Open, finishing or lingering -> kClosing: the loop's Close is submitted now.
  void SubmitClose();
  // kClosing -> kClosed: the Close's completion.
  void CloseCompleted();
  // kClosed with nothing in flight -> kFree.
  void Free();

  // kIdle -> kArmed: a Receive is submitted now.
  void StartReceive();
  // kArmed -> kCancelling. False when there is nothing to cancel (no receive, or its cancel was
  // already submitted): the caller submits CancelReceive() only on true.
  bool CancelReceive();
  // The receive's last completion (more == false): -> kIdle.
  void ReceiveEnded();
  // One Send at a time: submitted now / completed.
  void StartSend();
  void SendEnded();

 private:
  Phase phase_ = Phase::kFree;
  Receive receive_ = Receive::kIdle;
  HalfClose half_close_ = HalfClose::kNone;
  bool sending_ = false;
  bool read_stopped_ = false;  // stop-reading-after fired; kept when the stream then ends
};

}  // namespace socklab::server

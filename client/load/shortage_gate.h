#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <vector>

#include "core/base/backoff.h"

namespace socklab::client {

// Paces one worker's connection starts while this machine is short of something a connection
// needs (fds: socket EMFILE/ENFILE; ports: connect EADDRNOTAVAIL; socket memory: ENOBUFS,
// ENOMEM). Without it every waiting connection retried on its own timer: about 3000 failing
// socket() calls a second at -c 1000 under 'ulimit -n 128', which also starved the loop.
//
// While short, the worker's starts wait here (parked, in order) and one of them at a time, the
// probe, tries after a back-off (Backoff: 10 ms doubling to 1 s). A probe that fails backs off
// further; one that gets through (the connection opens, or the target answers at all) ends the
// shortage and resets the back-off, and each success then releases two waiting starts, so the
// waiting ones return at the pace the machine lets them (like TCP's slow start), not all at
// once into the same shortage.
//
// Plain state, no clock and no sockets: the worker arms a timer for the times it returns and
// starts the slots it hands back. Slots are the worker's connection indices.
// Thread affinity: the worker's loop thread.
class ShortageGate {
 public:
  static constexpr int64_t kInitialBackoffNs = 10'000'000;
  static constexpr int64_t kMaxBackoffNs = 1'000'000'000;

  ShortageGate() : backoff_(kInitialBackoffNs, kMaxBackoffNs) {}

  // Whether `slot` may try to open a connection now: no shortage, or it is the probe.
  bool MayStart(uint32_t slot) const { return !short_ || probe_ == slot; }

  // `slot` may not start (MayStart false): it waits for the shortage to pass.
  void Park(uint32_t slot);

  // An attempt of `slot` failed for a local shortage (already counted as an error). The slot
  // waits, first in line. Returns the time of the next probe when a timer must be armed for it
  // (the shortage begins, or the probe failed); nullopt when one is already pending.
  std::optional<int64_t> OnShortage(uint32_t slot, int64_t now_ns);

  // The probe timer fired: the slot to start as the probe, or nullopt when nothing waits (the
  // shortage is then over).
  std::optional<uint32_t> OnProbeTime(int64_t now_ns);

  // An attempt of `slot` got past this machine's limits (it opened, or the target answered):
  // resets the back-off and returns the waiting slots to start now. During a shortage only the
  // probe's success ends it: the others took their fd or port before it began.
  std::vector<uint32_t> OnThrough(uint32_t slot, int64_t now_ns);

  // `slot` will make no attempt after all (the run stops, -n is used up): if it was the probe,
  // the next probe is due at once.
  std::optional<int64_t> OnAbandoned(uint32_t slot, int64_t now_ns);

  // The run stops: nothing waits any more.
  void Clear(int64_t now_ns);

  bool in_shortage() const { return short_; }
  size_t waiting() const { return parked_.size(); }
  // Counts for the report: attempts that failed on a shortage, starts that had to wait, and
  // the time of the run spent in a shortage (closed at the moment it ends).
  uint64_t shortage_failures() const { return shortage_failures_; }
  uint64_t waits() const { return waits_; }
  int64_t shortage_ns(int64_t now_ns) const {
    return shortage_ns_ + (short_ ? now_ns - shortage_since_ns_ : 0);
  }
  const Backoff& backoff() const { return backoff_; }

 private:
  static constexpr uint32_t kNoProbe = ~uint32_t{0};
  // Waiting slots released per success after a shortage.
  static constexpr size_t kReleasePerSuccess = 2;

  void EndShortage(int64_t now_ns);

  Backoff backoff_;
  bool short_ = false;
  uint32_t probe_ = kNoProbe;
  std::deque<uint32_t> parked_;
  uint64_t shortage_failures_ = 0;
  uint64_t waits_ = 0;
  int64_t shortage_since_ns_ = 0;
  int64_t shortage_ns_ = 0;
};

}  // namespace socklab::client

#include "client/load/shortage_gate.h"

#include <algorithm>

namespace socklab::client {

void ShortageGate::Park(uint32_t slot) {
  parked_.push_back(slot);
  ++waits_;
}

std::optional<int64_t> ShortageGate::OnShortage(uint32_t slot, int64_t now_ns) {
  ++shortage_failures_;
  ++waits_;
  // First in line: it was started before the others that wait.
  parked_.push_front(slot);
  if (!short_) {
    short_ = true;
    shortage_since_ns_ = now_ns;
    return now_ns + backoff_.Next();
  }
  if (probe_ == slot) {
    probe_ = kNoProbe;
    return now_ns + backoff_.Next();
  }
  // An attempt started before the shortage began: the probe (or its timer) is already pending.
  return std::nullopt;
}

void ShortageGate::EndShortage(int64_t now_ns) {
  if (short_) {
    short_ = false;
    probe_ = kNoProbe;
    shortage_ns_ += std::max<int64_t>(0, now_ns - shortage_since_ns_);
  }
}

std::optional<uint32_t> ShortageGate::OnProbeTime(int64_t now_ns) {
  if (!short_ || probe_ != kNoProbe) {
    return std::nullopt;
  }
  if (parked_.empty()) {
    EndShortage(now_ns);
    return std::nullopt;
  }
  probe_ = parked_.front();
  parked_.pop_front();
  return probe_;
}

std::vector<uint32_t> ShortageGate::OnThrough(uint32_t slot, int64_t now_ns) {
  if (short_ && probe_ != slot) {
    return {};
  }
  EndShortage(now_ns);
  backoff_.Reset();
  std::vector<uint32_t> release;
  while (!parked_.empty() && release.size() < kReleasePerSuccess) {
    release.push_back(parked_.front());
    parked_.pop_front();
  }
  return release;
}

std::optional<int64_t> ShortageGate::OnAbandoned(uint32_t slot, int64_t now_ns) {
  if (!short_ || probe_ != slot) {
    return std::nullopt;
  }
  probe_ = kNoProbe;
  return now_ns;
}

void ShortageGate::Clear(int64_t now_ns) {
  parked_.clear();
  EndShortage(now_ns);
}

}  // namespace socklab::client

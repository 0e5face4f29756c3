#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace socklab::tcpstat {

// TCP states with the numbers the kernel uses (include/net/tcp_states.h), which are also the
// hex codes in the "st" column of /proc/net/tcp and inet_diag_msg.idiag_state.
//
// kNewSynRecv (0x0C) exists since Linux 4.4 for request sockets, but neither /proc/net/tcp nor
// inet_diag ever reports it: both print a request socket as SYN_RECV (0x03). It is kept so that
// every number the kernel defines has a name.
enum class TcpState : uint8_t {
  kEstablished = 0x01,
  kSynSent = 0x02,
  kSynRecv = 0x03,
  kFinWait1 = 0x04,
  kFinWait2 = 0x05,
  kTimeWait = 0x06,
  kClose = 0x07,
  kCloseWait = 0x08,
  kLastAck = 0x09,
  kListen = 0x0A,
  kClosing = 0x0B,
  kNewSynRecv = 0x0C,
};

inline constexpr int kMinTcpState = 0x01;
inline constexpr int kMaxTcpState = 0x0C;

// All states in kernel order, for loops and tables.
inline constexpr TcpState kAllTcpStates[] = {
    TcpState::kEstablished, TcpState::kSynSent,  TcpState::kSynRecv, TcpState::kFinWait1,
    TcpState::kFinWait2,    TcpState::kTimeWait, TcpState::kClose,   TcpState::kCloseWait,
    TcpState::kLastAck,     TcpState::kListen,   TcpState::kClosing, TcpState::kNewSynRecv,
};

// The states a socket can be reported in (everything but kNewSynRecv, see above): the columns of
// tables, CSV and JSON, so every sample has the same keys.
inline constexpr TcpState kReportedTcpStates[] = {
    TcpState::kEstablished, TcpState::kSynSent,  TcpState::kSynRecv, TcpState::kFinWait1,
    TcpState::kFinWait2,    TcpState::kTimeWait, TcpState::kClose,   TcpState::kCloseWait,
    TcpState::kLastAck,     TcpState::kListen,   TcpState::kClosing,
};

// The kernel's name: "ESTABLISHED", "TIME_WAIT", "NEW_SYN_RECV".
absl::string_view TcpStateName(TcpState state);

// The state for a kernel code (1..12); nullopt for anything else.
std::optional<TcpState> TcpStateFromCode(int code);

// A state from user text, case-insensitive, '-' and '_' alike: "TIME_WAIT", "time-wait",
// "timewait", and the short names `ss` prints ("estab", "syn-recv", "close-wait", ...).
std::optional<TcpState> ParseTcpStateName(absl::string_view text);

// A set of states as a bit mask with bit (1 << code): the same layout as inet_diag_req_v2's
// idiag_states, so it can go to the kernel unchanged. Thread affinity: none (a value).
class TcpStateSet {
 public:
  constexpr TcpStateSet() = default;
  static constexpr TcpStateSet All() { return TcpStateSet(((1u << (kMaxTcpState + 1)) - 1) & ~1u); }
  static constexpr TcpStateSet None() { return TcpStateSet(0); }
  static constexpr TcpStateSet Of(std::initializer_list<TcpState> states) {
    uint32_t bits = 0;
    for (TcpState state : states) {
      bits |= 1u << static_cast<int>(state);
    }
    return TcpStateSet(bits);
  }
  static constexpr TcpStateSet FromBits(uint32_t bits) { return TcpStateSet(bits & All().bits_); }

  constexpr bool Contains(TcpState state) const { return (bits_ >> static_cast<int>(state)) & 1u; }
  constexpr bool IsAll() const { return bits_ == All().bits_; }
  constexpr bool empty() const { return bits_ == 0; }
  constexpr uint32_t bits() const { return bits_; }
  constexpr void Add(TcpState state) { bits_ |= 1u << static_cast<int>(state); }

  friend constexpr bool operator==(TcpStateSet a, TcpStateSet b) { return a.bits_ == b.bits_; }

 private:
  constexpr explicit TcpStateSet(uint32_t bits) : bits_(bits) {}
  // Default: every state (an absent --state filter).
  uint32_t bits_ = ((1u << (kMaxTcpState + 1)) - 1) & ~1u;
};

// "established,time_wait" (comma separated names as ParseTcpStateName accepts, or "all");
// errors are UsageErrors listing the accepted names.
absl::StatusOr<TcpStateSet> ParseTcpStateSet(absl::string_view text);

// "ESTABLISHED,TIME_WAIT" or "all".
std::string TcpStateSetToString(TcpStateSet set);

}  // namespace socklab::tcpstat

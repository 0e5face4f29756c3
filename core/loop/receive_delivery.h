#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "core/loop/event_loop.h"

namespace socklab::loop {

// One fd's continuous receive as its user sees it, between the kernel's receive completions and
// the handler: how the io_uring backend gives CancelReceive() epoll's meaning although a
// multishot receive stops only when its cancel lands, taking bytes until then.
// - Cancel() disarms the user's receive at once and owes it one -ECANCELED (more = false).
// - What the kernel completes meanwhile is kept here: bytes (copied, so their provided buffer can
//   go back to the kernel), then the EOF or error that ended the kernel's receive.
// - Flush() hands over, in order, the -ECANCELED owed, the kept bytes in chunks to the receive
//   the user armed again, then the kept end. Nothing the kernel completes goes to the handler
//   directly (DeliversNow() is false) until all of it is out.
// So the user sees what epoll gives: each receive ends with exactly one completion with
// more = false, and the bytes arrive in the order the peer sent them, none after an EOF or error.
//
// Pure bookkeeping: no fd, no ring, no handler. The loop calls the user's side from Receive(),
// CancelReceive() and Close(), the kernel's side from receive completions, and Flush() from its
// dispatch step; the loop arms a kernel receive only when Flush() (or Arm()) says nothing is kept.
//
// Thread affinity: loop thread only (one object per fd). Ownership: owns the kept bytes; what a
// Release points to stays valid until the deliver callback returns.
class ReceiveDelivery {
 public:
  // A receive completion that Flush() hands over (the loop adds op and fd).
  struct Release {
    Token token;
    int res;                // kept bytes (> 0), -ECANCELED, 0 (EOF) or -errno
    bool more;              // false ends the receive `token` was armed with
    const std::byte* data;  // res > 0: the bytes, valid until the callback returns
  };

  // --- The user's side.

  // Receive(token): arms the user's receive. Returns true when kept bytes or a kept end must
  // reach it first: the caller runs Flush() and reads the socket no further before that (a kernel
  // receive armed now would keep taking bytes while a handler that cancels after each chunk
  // leaves the rest here, so what is kept would grow with every pause instead of staying in the
  // socket).
  bool Arm(Token token);
  // CancelReceive(): disarms. Returns true when a receive was armed: its -ECANCELED is owed, and
  // Flush() delivers it before anything kept.
  bool Cancel();
  // Close(): disarms and drops what is kept. Returns the armed receive's token, if any, for the
  // caller to complete with -ECANCELED itself; -ECANCELED already owed stays owed. Called from a
  // Flush() callback, the memory goes once the callback returns.
  std::optional<Token> Abandon();

  bool armed() const { return armed_; }
  Token token() const { return token_; }

  // --- The kernel's side.

  // True when what the kernel completes now may go straight to the handler, from the kernel's
  // buffer (the per-message path: no copy, no allocation): the user has a receive armed and
  // nothing owed or kept goes before it.
  bool DeliversNow() const { return armed_ && cancels_.empty() && kept_bytes() == 0 && !end_kept_; }
  // The kernel's receive ended (EOF or an error) while DeliversNow(): disarms and returns the
  // token the caller completes with that result (more = false).
  Token End();
  // Keeps `size` bytes the kernel received when !DeliversNow(). Not from a Flush() callback.
  void Keep(const std::byte* data, size_t size);
  // Keeps the result (0 for EOF or -errno) that ended the kernel's receive when !DeliversNow(),
  // for Flush() to deliver after the kept bytes.
  void KeepEnd(int res);

  // Bytes kept and not handed over yet.
  size_t kept_bytes() const { return kept_.size() - head_; }
  bool end_kept() const { return end_kept_; }
  // The user's receive is armed and nothing is kept: the socket may be read (a kernel receive
  // armed) for it.
  bool WantsKernelReceive() const { return armed_ && kept_bytes() == 0 && !end_kept_; }

  // --- The flush.

  // Hands over, through `deliver`, in order: every -ECANCELED owed when it is called; then, while
  // the user's receive is armed and owes nothing, the kept bytes in chunks of at most `max_chunk`
  // bytes (more = true); then, once no bytes are left, the kept end (more = false, which
  // disarms). `deliver` may call Arm(), Cancel() and Abandon() as a handler does, with effect at
  // once: a Cancel() stops the chunks, and the -ECANCELED it owes waits for the next Flush(), so
  // a handler that re-arms and cancels on every -ECANCELED cannot hold the caller here.
  // Returns WantsKernelReceive() after it: the caller arms a kernel receive unless one is in
  // flight.
  bool Flush(size_t max_chunk, absl::FunctionRef<void(const Release&)> deliver);

  // When a new socket takes over the fd number before this one's close completed: the
  // -ECANCELED still owed, oldest first, which this object then no longer owes.
  std::vector<Token> TakeOwedCancels();
  // The new socket's object owes them instead, before anything of its own.
  void InheritOwedCancels(std::vector<Token> cancels);

 private:
  // clear() would keep the capacity: a connection that once kept a burst would hold its memory
  // for as long as it lives.
  void ReleaseKept();

  bool armed_ = false;
  bool flushing_ = false;  // inside Flush()'s chunk loop: a callback may be reading kept_
  bool end_kept_ = false;
  int end_res_ = 0;
  Token token_ = 0;
  std::vector<Token> cancels_;  // -ECANCELED owed, oldest first
  std::string kept_;            // the first head_ bytes were handed over already
  size_t head_ = 0;
};

}  // namespace socklab::loop

#pragma once

#include <signal.h>
#include <termios.h>

#include <cstddef>
#include <deque>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "client/states/states_options.h"
#include "client/states/states_output.h"
#include "core/tcpstat/tally.h"

namespace socklab::client {

// The last samples a --watch screen shows: the newest sample and a bounded history of tallies
// for the change column and the sparklines. Thread affinity: the caller's thread.
class WatchHistory {
 public:
  explicit WatchHistory(size_t capacity = 120) : capacity_(capacity) {}
  void Add(const StatesSample& sample);
  const std::deque<tcpstat::StateTally>& tallies() const { return tallies_; }
  const StatesSample& latest() const { return latest_; }
  size_t samples() const { return samples_; }

 private:
  size_t capacity_;
  size_t samples_ = 0;
  std::deque<tcpstat::StateTally> tallies_;
  StatesSample latest_;
};

// One full screen of --watch as text (lines end with "\x1b[K\n" so a redraw clears leftovers):
// the filter and time, then per state the count, the change since the previous sample and a
// sparkline of the history scaled to that state's own maximum. `unicode` picks block
// characters (▁..█) over ASCII (" .:-=+*#"). Pure.
std::string RenderWatchFrame(const WatchHistory& history, const StatesOptions& options, int width,
                             bool unicode);

// True when the locale environment asks for UTF-8 (LC_ALL, LC_CTYPE, LANG).
bool TerminalWantsUnicode();

// The terminal while --watch runs: alternate screen, hidden cursor, keys unbuffered and not
// echoed, and Ctrl-C / Ctrl-Z read as keys (so the program, not the tty driver, ends the view
// and the terminal is always restored). The destructor restores everything. Move-less; thread
// affinity: the thread that opened it. Does not own the fds.
class TerminalSession {
 public:
  // Fails (UsageError) when `out_fd` is not a terminal. `in_fd` may be a non-terminal, in which
  // case keys are not read and only signals end the view.
  static absl::StatusOr<std::unique_ptr<TerminalSession>> Open(int in_fd, int out_fd);
  TerminalSession(const TerminalSession&) = delete;
  TerminalSession& operator=(const TerminalSession&) = delete;
  ~TerminalSession();

  // Replaces the screen's contents with `frame`.
  void Draw(const std::string& frame);
  int Width() const;

  // Waits until `deadline_nanos` (MonotonicNanos) for a key; true when the user asked to quit
  // (q, Q, Ctrl-C, Ctrl-D) or `*stop` was set by a signal handler.
  bool WaitForQuit(int64_t deadline_nanos, const volatile sig_atomic_t* stop);

 private:
  TerminalSession(int in_fd, int out_fd) : in_fd_(in_fd), out_fd_(out_fd) {}
  void Write(absl::string_view text);

  int in_fd_;
  int out_fd_;
  bool in_is_tty_ = false;
  termios saved_{};
};

}  // namespace socklab::client

#include "client/states/watch_view.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <memory>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "core/base/clock.h"
#include "core/base/status.h"

namespace socklab::client {
namespace {

using tcpstat::StateTally;
using tcpstat::TcpState;

constexpr absl::string_view kUnicodeBlocks[] = {"▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"};
constexpr char kAsciiBlocks[] = " .:-=+*#";
constexpr absl::string_view kLineEnd = "\x1b[K\n";  // erase the rest of the line, newline

std::string Sparkline(const std::deque<StateTally>& tallies, TcpState state, size_t width,
                      bool unicode) {
  size_t n = std::min(width, tallies.size());
  uint32_t max = 0;
  for (size_t i = tallies.size() - n; i < tallies.size(); ++i) {
    max = std::max(max, tallies[i].Count(state));
  }
  std::string out;
  for (size_t i = tallies.size() - n; i < tallies.size(); ++i) {
    uint32_t count = tallies[i].Count(state);
    // 0 is a blank (or the lowest block), any non-zero value at least the lowest mark.
    int level = max == 0 ? -1 : static_cast<int>((uint64_t{count} * 7 + max - 1) / max);
    if (count == 0) {
      level = -1;
    }
    if (unicode) {
      absl::StrAppend(&out, level < 0 ? " " : kUnicodeBlocks[std::clamp(level, 0, 7)]);
    } else {
      out.push_back(level < 0 ? ' ' : kAsciiBlocks[std::clamp(level, 1, 7)]);
    }
  }
  return out;
}

}  // namespace

void WatchHistory::Add(const StatesSample& sample) {
  ++samples_;
  latest_ = sample;
  tallies_.push_back(sample.tally);
  while (tallies_.size() > capacity_) {
    tallies_.pop_front();
  }
}

std::string RenderWatchFrame(const WatchHistory& history, const StatesOptions& options, int width,
                             bool unicode) {
  const StatesSample& sample = history.latest();
  const StateTally& now = sample.tally;
  const StateTally* before =
      history.tallies().size() >= 2 ? &history.tallies()[history.tallies().size() - 2] : nullptr;
  std::string out = absl::StrCat("socklab states  ", options.filter.ToString(), "  source ",
                                 tcpstat::SourceName(options.source), "  every ",
                                 absl::FormatDuration(options.EffectiveInterval()), "  ",
                                 absl::FormatTime("%H:%M:%S", sample.time, absl::UTCTimeZone()),
                                 " UTC", kLineEnd);
  absl::StrAppend(&out, "q or Ctrl-C quits", kLineEnd, kLineEnd);
  absl::StrAppend(
      &out, absl::StrFormat("%-12s %8s %8s  %s", "STATE", "COUNT", "CHANGE", "HISTORY (own scale)"),
      kLineEnd);
  // 32 columns for the labels; the sparkline takes what is left.
  size_t spark_width = static_cast<size_t>(std::max(width - 34, 8));
  for (TcpState state : tcpstat::kReportedTcpStates) {
    if (state == TcpState::kClose || state == TcpState::kClosing) {
      // Shown only when present: CLOSE never appears in the tables and CLOSING is rare.
      bool seen = false;
      for (const StateTally& tally : history.tallies()) {
        seen = seen || tally.Count(state) != 0;
      }
      if (!seen) {
        continue;
      }
    }
    std::string change = "";
    if (before != nullptr) {
      int64_t delta = int64_t{now.Count(state)} - int64_t{before->Count(state)};
      change = delta == 0 ? "0" : absl::StrFormat("%+d", delta);
    }
    absl::StrAppend(
        &out,
        absl::StrFormat("%-12s %8u %8s  ", tcpstat::TcpStateName(state), now.Count(state), change),
        Sparkline(history.tallies(), state, spark_width, unicode), kLineEnd);
  }
  std::string total_change = "";
  if (before != nullptr) {
    int64_t delta = int64_t{now.total} - int64_t{before->total};
    total_change = delta == 0 ? "0" : absl::StrFormat("%+d", delta);
  }
  absl::StrAppend(&out, absl::StrFormat("%-12s %8u %8s", "total", now.total, total_change),
                  kLineEnd, kLineEnd);
  if (now.Count(TcpState::kListen) != 0) {
    absl::StrAppend(&out, DescribeAcceptQueues(now), kLineEnd);
  }
  absl::StrAppend(&out, RenderSamplingCost(sample, options.source), kLineEnd);
  return out;
}

bool TerminalWantsUnicode() {
  for (const char* name : {"LC_ALL", "LC_CTYPE", "LANG"}) {
    const char* value = std::getenv(name);
    if (value != nullptr && value[0] != '\0') {
      std::string lower = absl::AsciiStrToLower(value);
      return absl::StrContains(lower, "utf-8") || absl::StrContains(lower, "utf8");
    }
  }
  return false;
}

absl::StatusOr<std::unique_ptr<TerminalSession>> TerminalSession::Open(int in_fd, int out_fd) {
  if (!isatty(out_fd)) {
    return UsageError("--watch needs a terminal on stdout",
                      "use -i 1s (with --format csv|json) to record a series to a file or pipe");
  }
  std::unique_ptr<TerminalSession> session(new TerminalSession(in_fd, out_fd));
  if (isatty(in_fd) && tcgetattr(in_fd, &session->saved_) == 0) {
    termios raw = session->saved_;
    raw.c_lflag &= ~static_cast<tcflag_t>(ICANON | ECHO | ISIG);
    raw.c_cc[VMIN] = 0;
    raw.c_cc[VTIME] = 0;
    if (tcsetattr(in_fd, TCSANOW, &raw) == 0) {
      session->in_is_tty_ = true;
    }
  }
  // Alternate screen (the shell's screen comes back on exit) and no cursor.
  session->Write("\x1b[?1049h\x1b[?25l\x1b[H\x1b[2J");
  return session;
}

TerminalSession::~TerminalSession() {
  Write("\x1b[?25h\x1b[?1049l");
  if (in_is_tty_) {
    tcsetattr(in_fd_, TCSANOW, &saved_);
  }
}

void TerminalSession::Write(absl::string_view text) {
  while (!text.empty()) {
    ssize_t written = ::write(out_fd_, text.data(), text.size());
    if (written < 0) {
      if (errno == EINTR) {
        continue;
      }
      return;  // the terminal went away; nothing useful to do
    }
    text.remove_prefix(static_cast<size_t>(written));
  }
}

void TerminalSession::Draw(const std::string& frame) {
  // Home, the frame, then clear below: no flicker from a full clear each time.
  Write(absl::StrCat("\x1b[H", frame, "\x1b[J"));
}

int TerminalSession::Width() const {
  winsize size{};
  if (ioctl(out_fd_, TIOCGWINSZ, &size) == 0 && size.ws_col > 0) {
    return size.ws_col;
  }
  return 80;
}

bool TerminalSession::WaitForQuit(int64_t deadline_nanos, const volatile sig_atomic_t* stop) {
  while (*stop == 0) {
    int64_t left = deadline_nanos - MonotonicNanos();
    if (left <= 0) {
      return false;
    }
    pollfd fds{.fd = in_fd_, .events = POLLIN, .revents = 0};
    timespec timeout{.tv_sec = left / 1'000'000'000, .tv_nsec = left % 1'000'000'000};
    // Signals stay deliverable during the wait (the handler sets *stop and ppoll returns EINTR).
    int ready = ppoll(in_is_tty_ ? &fds : nullptr, in_is_tty_ ? 1 : 0, &timeout, nullptr);
    if (ready > 0 && (fds.revents & POLLIN) != 0) {
      char keys[64];
      ssize_t n = ::read(in_fd_, keys, sizeof(keys));
      for (ssize_t i = 0; i < n; ++i) {
        if (keys[i] == 'q' || keys[i] == 'Q' || keys[i] == 3 || keys[i] == 4) {
          return true;
        }
      }
    } else if (ready > 0) {
      return true;  // POLLHUP/POLLERR: the terminal is gone
    }
  }
  return true;
}

}  // namespace socklab::client

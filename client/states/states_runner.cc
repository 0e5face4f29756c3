#include "client/states/states_runner.h"

#include <signal.h>
#include <time.h>
#include <unistd.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "client/states/states_output.h"
#include "client/states/watch_view.h"
#include "core/base/clock.h"
#include "core/cli/flags.h"
#include "core/tcpstat/reader.h"

namespace socklab::client {
namespace {

constexpr absl::string_view kProgram = "socklab states";

volatile sig_atomic_t g_stop = 0;

void OnStopSignal(int) { g_stop = 1; }

// SIGINT/SIGTERM set g_stop for the lifetime of this object, then the old handlers come back.
// No SA_RESTART, so a sleeping wait returns EINTR at once.
class StopSignals {
 public:
  StopSignals() {
    g_stop = 0;
    struct sigaction action {};
    action.sa_handler = OnStopSignal;
    sigemptyset(&action.sa_mask);
    sigaction(SIGINT, &action, &old_int_);
    sigaction(SIGTERM, &action, &old_term_);
  }
  ~StopSignals() {
    sigaction(SIGINT, &old_int_, nullptr);
    sigaction(SIGTERM, &old_term_, nullptr);
  }

 private:
  struct sigaction old_int_ {};
  struct sigaction old_term_ {};
};

absl::StatusOr<StatesSample> TakeSample(const StatesOptions& options) {
  StatesSample sample;
  sample.time = absl::Now();
  absl::StatusOr<tcpstat::TcpSnapshot> snapshot = tcpstat::ReadTcpSnapshot(
      options.filter, {.source = options.source, .keep_sockets = options.list});
  if (!snapshot.ok()) {
    return snapshot.status();
  }
  sample.snapshot = *std::move(snapshot);
  sample.tally = sample.snapshot.tally;
  return sample;
}

// Sleeps until `deadline_nanos` or a stop signal; false when stopped.
bool SleepUntil(int64_t deadline_nanos) {
  while (g_stop == 0) {
    int64_t left = deadline_nanos - MonotonicNanos();
    if (left <= 0) {
      return true;
    }
    timespec wait{.tv_sec = left / 1'000'000'000, .tv_nsec = left % 1'000'000'000};
    nanosleep(&wait, nullptr);  // EINTR on a signal: the loop re-checks g_stop
  }
  return false;
}

void Emit(std::FILE* out, const std::string& text) {
  std::fwrite(text.data(), 1, text.size(), out);
  std::fflush(out);
}

void EmitSample(const StatesSample& sample, const StatesOptions& options, size_t index,
                std::FILE* out) {
  if (options.format == StatesFormat::kJson) {
    Emit(out, SampleToJson(sample, options).dump() + "\n");
    return;
  }
  if (options.format == StatesFormat::kPrometheus) {
    Emit(out, RenderPrometheus(sample, options));
    return;
  }
  if (options.list) {
    std::string text;
    if (options.format == StatesFormat::kTable && options.IsSeries()) {
      text = absl::StrCat(index == 0 ? "" : "\n", "# ", FormatTimestamp(sample.time), "  ",
                          sample.snapshot.sockets.size(), " sockets\n");
    }
    bool header = options.format == StatesFormat::kTable || index == 0;
    Emit(out, text + RenderSocketList(sample, options.format, header));
    return;
  }
  if (!options.IsSeries() && options.format == StatesFormat::kTable) {
    Emit(out, RenderTallyTable(sample, options));
    return;
  }
  // Series rows; the table repeats its header every 20 rows, as vmstat does.
  std::string text;
  if (index == 0 || (options.format == StatesFormat::kTable && index % 20 == 0)) {
    text = RenderSeriesHeader(options.format);
  }
  Emit(out, text + RenderSeriesRow(sample, options.format));
}

int RunWatch(const StatesOptions& options, std::FILE* out) {
  absl::StatusOr<std::unique_ptr<TerminalSession>> session =
      TerminalSession::Open(STDIN_FILENO, fileno(out));
  if (!session.ok()) {
    return cli::ReportFailure(kProgram, session.status());
  }
  bool unicode = TerminalWantsUnicode();
  WatchHistory history;
  int64_t interval = absl::ToInt64Nanoseconds(options.EffectiveInterval());
  int64_t next = MonotonicNanos();
  absl::Status failure;
  while (g_stop == 0) {
    absl::StatusOr<StatesSample> sample = TakeSample(options);
    if (!sample.ok()) {
      failure = sample.status();
      break;
    }
    history.Add(*sample);
    (*session)->Draw(RenderWatchFrame(history, options, (*session)->Width(), unicode));
    next += interval;
    if (next < MonotonicNanos()) {
      next = MonotonicNanos() + interval;  // fell behind: do not burst to catch up
    }
    if ((*session)->WaitForQuit(next, &g_stop)) {
      break;
    }
  }
  session->reset();  // restore the terminal before anything else is printed
  if (!failure.ok()) {
    return cli::ReportFailure(kProgram, failure);
  }
  return 0;
}

}  // namespace

int RunStates(const StatesOptions& options, std::FILE* out, std::FILE* err) {
  if (absl::Status valid = options.Validate(); !valid.ok()) {
    return cli::ReportFailure(kProgram, valid, options.format == StatesFormat::kJson);
  }
  StopSignals signals;
  if (options.watch) {
    return RunWatch(options, out);
  }
  const bool series = options.IsSeries();
  const int64_t interval = absl::ToInt64Nanoseconds(options.EffectiveInterval());
  int64_t next = MonotonicNanos();
  for (size_t index = 0; g_stop == 0; ++index) {
    absl::StatusOr<StatesSample> sample = TakeSample(options);
    if (!sample.ok()) {
      return cli::ReportFailure(kProgram, sample.status(), options.format == StatesFormat::kJson);
    }
    EmitSample(*sample, options, index, out);
    if (options.verbose) {
      Emit(err, RenderSamplingCost(*sample, options.source) + "\n");
    }
    if (!series || (options.count != 0 && index + 1 >= options.count)) {
      break;
    }
    next += interval;
    if (next < MonotonicNanos()) {
      next = MonotonicNanos() + interval;
    }
    if (!SleepUntil(next)) {
      break;
    }
  }
  return 0;
}

}  // namespace socklab::client

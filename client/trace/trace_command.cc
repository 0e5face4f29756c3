#include "client/trace/trace_command.h"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include <limits>
#include <memory>

#include "absl/strings/str_cat.h"
#include "client/trace/trace_output.h"
#include "client/trace/trace_timeline.h"
#include "core/base/clock.h"
#include "core/base/errno_name.h"
#include "core/base/status.h"
#include "core/base/status_macros.h"
#include "core/base/unique_fd.h"
#include "core/base/units.h"
#include "core/capture/conversation.h"
#include "core/capture/kernel_events.h"
#include "core/capture/packet_capture.h"

namespace socklab::client {
namespace {

constexpr const char* kProgram = "socklab trace";
// Between two reads of the capture and the trace.
constexpr int64_t kTickNs = 50'000'000;
// A line is printed once this old: the capture and the trace hand over their items with their
// own delays, and a line must not be printed before an older one from the other source.
constexpr int64_t kHoldBackNs = 200'000'000;
// The capture's ring: room for a busy port's frames between two ticks.
constexpr int kCaptureBufferBytes = 16 << 20;

volatile sig_atomic_t g_stop = 0;

void OnStopSignal(int) { g_stop = 1; }

int64_t RealtimeNanos() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

std::string KernelRelease() {
  utsname u{};
  return uname(&u) == 0 ? std::string(u.release) : std::string();
}

absl::Status EnterNetns(const std::string& name) {
  UniqueFd fd(open(NetnsPath(name).c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid() || setns(fd.get(), CLONE_NEWNET) != 0) {
    return absl::PermissionDeniedError(absl::StrCat("cannot enter network namespace ", name, ": ",
                                                    DescribeErrno(errno), "; run as root"));
  }
  return absl::OkStatus();
}

// The capture and the kernel events of one trace, read a tick at a time into the timeline.
class Tracer {
 public:
  Tracer(const TraceOptions& options, FILE* out) : options_(options), out_(out) {}

  // Opens what can be opened; the reasons for what cannot go into setup().
  absl::Status Open() {
    setup_.kernel_release = KernelRelease();
    absl::StatusOr<std::unique_ptr<PacketCapture>> capture =
        PacketCapture::Open(options_.interface, kCaptureBufferBytes);
    if (capture.ok()) {
      capture_ = *std::move(capture);
      SOCKLAB_RETURN_IF_ERROR(capture_->WatchPort(options_.port));
      if (!options_.pcap.empty()) {
        SOCKLAB_RETURN_IF_ERROR(capture_->CreateFile(options_.pcap));
      }
    } else {
      setup_.capture_missing = std::string(capture.status().message());
    }
    absl::StatusOr<std::unique_ptr<KernelEventTrace>> events = KernelEventTrace::Open();
    if (events.ok()) {
      events_ = *std::move(events);
      SOCKLAB_RETURN_IF_ERROR(events_->WatchPort(options_.port));
    } else {
      setup_.events_missing = std::string(events.status().message());
    }
    if (capture_ == nullptr && events_ == nullptr) {
      return absl::PermissionDeniedError(absl::StrCat(
          "nothing to trace with: ", setup_.capture_missing, "; ", setup_.events_missing));
    }
    timeline_ = std::make_unique<TraceTimeline>(events_ != nullptr, capture_ != nullptr);
    start_ns_ = MonotonicNanos();
    wall_minus_monotonic_ns_ = RealtimeNanos() - start_ns_;
    return absl::OkStatus();
  }

  const TraceSetup& setup() const { return setup_; }

  // Reads what arrived and prints the lines older than the hold-back (all of them when `last`).
  absl::Status Tick(bool last) {
    if (capture_ != nullptr) {
      absl::StatusOr<std::vector<CapturedFrame>> frames = capture_->TakeFrames();
      if (!frames.ok()) {
        return frames.status();
      }
      for (const TcpSegment& s : DecodeFrames(capture_->link_type(), *frames)) {
        timeline_->AddSegment(tracker_.Add(s), s.wall_ns - wall_minus_monotonic_ns_);
      }
    }
    if (events_ != nullptr) {
      absl::StatusOr<std::vector<KernelEvent>> events = events_->TakeNew();
      if (!events.ok()) {
        return events.status();
      }
      for (const KernelEvent& e : *events) {
        timeline_->AddEvent(e);
      }
    }
    const int64_t until =
        last ? std::numeric_limits<int64_t>::max() : MonotonicNanos() - kHoldBackNs;
    for (const TraceLine& line : timeline_->Take(until)) {
      if (options_.json) {
        std::fprintf(out_, "%s\n", LineJson(line, start_ns_).dump().c_str());
      } else {
        std::fprintf(out_, "%s\n", LineText(line, start_ns_).c_str());
      }
    }
    std::fflush(out_);
    return absl::OkStatus();
  }

  // The summary, the pcap file closed and the trace instance removed.
  absl::Status Finish() {
    TraceLosses losses;
    absl::Status status = absl::OkStatus();
    if (capture_ != nullptr) {
      losses.frames_dropped = capture_->dropped();
      if (!options_.pcap.empty()) {
        status = capture_->WriteFile();
      }
    }
    if (events_ != nullptr) {
      losses.events_overrun = events_->Overruns();
      events_->Remove();
    }
    const double seconds = static_cast<double>(MonotonicNanos() - start_ns_) / 1e9;
    if (options_.json) {
      std::fprintf(out_, "%s\n",
                   SummaryJson(timeline_->counts(), setup_, losses, seconds).dump().c_str());
    } else {
      std::fprintf(out_, "%s", SummaryText(timeline_->counts(), setup_, losses, seconds).c_str());
    }
    std::fflush(out_);
    return status;
  }

 private:
  const TraceOptions& options_;
  FILE* out_;
  TraceSetup setup_;
  std::unique_ptr<PacketCapture> capture_;
  std::unique_ptr<KernelEventTrace> events_;
  ConnectionTracker tracker_;
  std::unique_ptr<TraceTimeline> timeline_;
  int64_t start_ns_ = 0;
  int64_t wall_minus_monotonic_ns_ = 0;
};

absl::StatusOr<uint16_t> ParsePort(absl::string_view text) {
  absl::StatusOr<uint64_t> value = ParseCount(text);
  if (!value.ok() || *value == 0 || *value > 65535) {
    return UsageError(absl::StrCat("bad port '", text, "'"), "give a port from 1 to 65535");
  }
  return static_cast<uint16_t>(*value);
}

}  // namespace

int RunTrace(const TraceOptions& options, FILE* out) {
  if (absl::Status valid = options.Validate(); !valid.ok()) {
    return cli::ReportFailure(kProgram, valid, options.json);
  }
  if (!options.netns.empty()) {
    if (absl::Status entered = EnterNetns(options.netns); !entered.ok()) {
      return cli::ReportFailure(kProgram, entered, options.json);
    }
  }
  Tracer tracer(options, out);
  if (absl::Status opened = tracer.Open(); !opened.ok()) {
    return cli::ReportFailure(kProgram, opened, options.json);
  }
  struct sigaction action {};
  action.sa_handler = OnStopSignal;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
  if (options.json) {
    std::fprintf(out, "%s\n", ConfigJson(options, tracer.setup()).dump().c_str());
  } else {
    std::fprintf(out, "%s", ConfigText(options, tracer.setup()).c_str());
  }
  std::fflush(out);
  const int64_t deadline = options.duration_given
                               ? MonotonicNanos() + absl::ToInt64Nanoseconds(options.duration)
                               : std::numeric_limits<int64_t>::max();
  while (g_stop == 0 && MonotonicNanos() < deadline) {
    // A signal cuts the sleep short.
    const int64_t wait = std::min(kTickNs, deadline - MonotonicNanos());
    if (wait > 0) {
      timespec ts{static_cast<time_t>(wait / 1'000'000'000),
                  static_cast<long>(wait % 1'000'000'000)};
      nanosleep(&ts, nullptr);
    }
    if (absl::Status ticked = tracer.Tick(/*last=*/false); !ticked.ok()) {
      tracer.Finish().IgnoreError();
      return cli::ReportFailure(kProgram, ticked, options.json);
    }
  }
  absl::Status last = tracer.Tick(/*last=*/true);
  absl::Status finished = tracer.Finish();
  if (!last.ok() || !finished.ok()) {
    return cli::ReportFailure(kProgram, !last.ok() ? last : finished, options.json);
  }
  return 0;
}

cli::Command AddTraceCommand(CLI::App& app) {
  CLI::App* sub = app.add_subcommand(
      "trace",
      "Show the segments and the kernel's TCP events (state changes, resets with their reason, "
      "retransmissions) of one port on this host, live, with a summary at the end");
  auto options = std::make_shared<TraceOptions>();
  TraceOptions* o = options.get();
  cli::AddParsedFlag<uint16_t>(*sub, "-p,--port", "The port to trace (either end of a connection)",
                               "PORT", ParsePort, [o](uint16_t port) { o->port = port; })
      ->required();
  CLI::Option* duration = cli::AddDurationFlag(*sub, "-d,--duration", &o->duration,
                                               "Stop after DURATION (10s, 2m); default: at Ctrl-C");
  sub->add_option("--pcap", o->pcap,
                  "Also write the segments to FILE as a pcap (Wireshark, tshark -r)")
      ->type_name("FILE");
  sub->add_flag("--json", o->json, "JSON lines: config, one per segment or event, summary");
  sub->add_option("--netns", o->netns, "Trace inside the network namespace NAME (`ip netns list`)")
      ->type_name("NAME");
  return {sub, [options, duration] {
            options->duration_given = duration->count() > 0;
            return RunTrace(*options, stdout);
          }};
}

}  // namespace socklab::client

#include "client/load/load_engine.h"

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <memory>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "client/load/load_flags.h"
#include "client/load/load_limits.h"
#include "client/load/load_worker.h"
#include "client/load/payload.h"
#include "client/load/shard.h"
#include "core/base/clock.h"
#include "core/base/status_macros.h"
#include "core/base/version.h"
#include "core/limits/limit_hints.h"
#include "core/net/error_class.h"
#include "core/stats/hdr_codec.h"
#include "core/sysinfo/machine.h"
#include "core/sysinfo/tcp_counters.h"
#include "core/tcpstat/reader.h"

namespace socklab::client {
namespace {

// CPU time of this process, all threads.
struct ProcessCpu {
  double user_s = 0;
  double system_s = 0;
};

ProcessCpu ProcessCpuNow() {
  rusage usage = {};
  getrusage(RUSAGE_SELF, &usage);
  return {usage.ru_utime.tv_sec + usage.ru_utime.tv_usec / 1e6,
          usage.ru_stime.tv_sec + usage.ru_stime.tv_usec / 1e6};
}

LoadConfig ConfigOf(const LoadOptions& o, const loop::BackendSelection& selection, int threads,
                    const MachineInfo& machine) {
  LoadConfig c;
  c.version = std::string(Version());
  c.command_line = o.command_line;
  c.started_at = absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", absl::Now(), absl::UTCTimeZone());
  c.target = o.target.ToString();
  c.target_note = o.target_note;
  c.backend = std::string(loop::BackendName(selection.backend));
  c.backend_requested = o.backend_text;
  c.backend_fallback_reason = selection.fallback_reason;
  c.machine = machine;
  for (const LoadFlag& flag : LoadFlagTable()) {
    flag.CopyToConfig(o, &c);
  }
  c.threads = threads;  // the threads that run (the flag's 0 is one per CPU)
  c.close_mode = o.close == CloseMode::kRst ? "rst" : "fin";
  c.nodelay = o.nodelay;
  c.size_min = o.size_min;
  c.size_max = o.size_max;
  if (o.sources.size() == 1) {
    c.bind = o.sources[0].port() != 0 ? o.sources[0].ToString() : o.sources[0].HostString();
  } else if (!o.sources.empty()) {
    c.source_ips = o.sources_text;
  }
  c.run_id = o.run_id;
  c.shard_index = o.shard_index;
  c.shard_count = o.shard_count;
  c.total_connections =
      static_cast<int>(o.total_connections > 0 ? o.total_connections : o.connections);
  c.total_rate = o.shard_count > 1 ? o.total_rate : o.rate;
  c.total_messages = o.shard_count > 1 ? o.total_messages : o.messages;
  if (o.start_at != absl::InfinitePast()) {
    c.start_at = FormatStartAt(o.start_at);
  }
  return c;
}

// The target's listener when it is on this machine, as netlink shows it: the fullest accept
// queue seen over the run and that listener's limit (with SO_REUSEPORT there is one per server
// thread). Unknown (-1) until a read finds it. Thread affinity: the engine thread.
class ListenerWatch {
 public:
  explicit ListenerWatch(const SocketAddress& target) : port_(target.port()) {}

  void Sample() {
    tcpstat::Filter filter;
    filter.local = tcpstat::Endpoint{.port = port_};
    filter.states = tcpstat::TcpStateSet::Of({tcpstat::TcpState::kListen});
    tcpstat::ReadOptions read;
    read.source = tcpstat::Source::kNetlink;
    absl::StatusOr<tcpstat::TcpSnapshot> snapshot = tcpstat::ReadTcpSnapshot(filter, read);
    if (!snapshot.ok()) {
      return;
    }
    for (const tcpstat::TcpSocket& listener : snapshot->sockets) {
      if (!listener.accept_backlog.has_value()) {
        continue;
      }
      const int64_t queue = listener.rx_queue;
      const int64_t backlog = *listener.accept_backlog;
      if (backlog_ < 0 || queue - backlog > queue_max_ - backlog_) {
        queue_max_ = queue;
        backlog_ = backlog;
      }
    }
  }
  int64_t queue_max() const { return queue_max_; }
  int64_t backlog() const { return backlog_; }

 private:
  uint16_t port_;
  int64_t queue_max_ = -1;
  int64_t backlog_ = -1;
};

int64_t CounterDeltaOf(const absl::StatusOr<TcpCounters>& before,
                       const absl::StatusOr<TcpCounters>& after, absl::string_view name) {
  if (!before.ok() || !after.ok()) {
    return HintContext::kUnknownCount;
  }
  const auto b = before->find(name);
  const auto a = after->find(name);
  if (b == before->end() || a == after->end()) {
    return HintContext::kUnknownCount;
  }
  return a->second - b->second;
}

// What the hints know of this run's workload.
HintContext HintContextOf(const LoadOptions& options,
                          const HintContext::ConnectDeadlines& deadlines) {
  HintContext context;
  context.deadlines = deadlines;
  context.loopback_destination = options.target.IsLoopback();
  context.destination_port = options.target.port();
  context.connect_deadline_seconds = absl::ToDoubleSeconds(options.connect_timeout);
  context.source_addresses = std::max<int64_t>(1, static_cast<int64_t>(options.sources.size()));
  return context;
}

// One line per error class a kernel limit explains, from tune's LimitHint (the one place those
// numbers are derived).
std::vector<std::string> HintsFor(const ErrorCounts& errors, const HintContext& context) {
  std::vector<std::string> hints;
  std::set<std::string> seen;
  errors.ForEach([&](Phase phase, ErrorClass error_class, uint64_t, int, int64_t) {
    std::string hint = LimitHint(phase, error_class, ThisMachineLimits(), context);
    if (!hint.empty() && seen.insert(hint).second) {
      hints.push_back(absl::StrCat(PhaseName(phase), " ", ClassLabel(error_class), ": ", hint));
    }
  });
  return hints;
}

// How the workers paced their retries while this machine was short (ShortageGate).
std::string ShortageLine(const WorkerCounters& shortage, int threads) {
  return absl::StrFormat(
      "local shortage: %d connection attempts failed on this machine's limits (above); %s then "
      "tried one connection at a time, backing off %s to %s, while %d starts waited "
      "(%.1f s short)",
      shortage.shortage_failures, threads == 1 ? "the thread" : "each thread",
      absl::FormatDuration(absl::Nanoseconds(ShortageGate::kInitialBackoffNs)),
      absl::FormatDuration(absl::Nanoseconds(ShortageGate::kMaxBackoffNs)), shortage.shortage_waits,
      shortage.shortage_ns / 1e9);
}

}  // namespace

absl::StatusOr<LoadResult> RunLoad(const LoadOptions& options, const LoadHooks& hooks) {
  SOCKLAB_RETURN_IF_ERROR(options.Validate());
  SOCKLAB_ASSIGN_OR_RETURN(loop::BackendSelection selection, loop::SelectBackend(options.backend));
  const MachineInfo machine = ReadMachineInfo();
  // Validate() bounded both counts far below INT_MAX.
  const int connections = static_cast<int>(options.connections);
  int threads = options.threads > 0 ? static_cast<int>(options.threads) : std::max(1, machine.cpus);
  threads = std::min(threads, connections);

  const PayloadPattern pattern(options.size_max);
  LoadShared shared(threads);
  shared.options = &options;
  shared.pattern = &pattern;
  shared.backend = selection.backend;
  shared.workers_starting = threads;

  LoadResult result;
  result.config = ConfigOf(options, selection, threads, machine);
  result.config.limit_notes = CheckLoadLimits(options, threads);
  absl::StatusOr<TcpCounters> counters_before = ReadTcpCounters();
  const ProcessCpu cpu_before = ProcessCpuNow();
  if (hooks.on_start) {
    hooks.on_start(result.config);
  }

  // A listener on this machine (a loopback target) is watched while the run goes: when connects
  // time out, its accept queue and this machine's ListenOverflows tell the server's part.
  const bool listener_local = options.target.IsLoopback();
  ListenerWatch listener(options.target);

  std::vector<std::unique_ptr<LoadWorker>> workers;
  for (int t = 0; t < threads; ++t) {
    std::vector<int> ids;
    for (int id = t; id < connections; id += threads) {
      ids.push_back(id);
    }
    const double share = static_cast<double>(ids.size()) / connections;
    // -n split by thread (a fixed share each), the remainder to the first workers.
    const uint64_t n = options.messages;
    const int64_t budget =
        static_cast<int64_t>(n / threads + (static_cast<uint64_t>(t) < n % threads ? 1 : 0));
    workers.push_back(std::make_unique<LoadWorker>(
        &shared, std::move(ids), budget, options.rate * share, options.connect_rate / threads));
  }

  // --start-at: the run starts --warmup before the time given, so every agent's measured window
  // starts then (as far as their clocks agree). An interrupt ends the wait.
  if (options.start_at != absl::InfinitePast()) {
    const absl::Time begin = options.start_at - options.warmup;
    while (absl::Now() < begin &&
           (hooks.interrupt == nullptr || !hooks.interrupt->load(std::memory_order_relaxed))) {
      absl::SleepFor(std::min(begin - absl::Now(), absl::Milliseconds(50)));
    }
  }
  shared.start_ns = MonotonicNanos();
  result.start_unix_ns = absl::ToUnixNanos(absl::Now());
  result.measure_start_unix_ns = result.start_unix_ns + absl::ToInt64Nanoseconds(options.warmup);
  shared.measure_start_ns = shared.start_ns + absl::ToInt64Nanoseconds(options.warmup);
  shared.end_ns = options.duration > absl::ZeroDuration()
                      ? shared.start_ns + absl::ToInt64Nanoseconds(options.duration)
                      : 0;
  result.start_ns = shared.start_ns;
  std::vector<std::thread> running;
  for (auto& worker : workers) {
    running.emplace_back([w = worker.get()] { w->Run(); });
  }

  // The engine thread: once a second, gather the workers' counters into the time series.
  WorkerCounters previous;
  std::map<std::string, uint64_t> previous_errors;  // cumulative, by cell label
  int64_t previous_ns = shared.start_ns;
  int64_t next_second = shared.start_ns + 1'000'000'000;
  for (;;) {
    bool all_done = true;
    for (const auto& worker : workers) {
      all_done = all_done && worker->done();
    }
    const int64_t now = MonotonicNanos();
    if (hooks.interrupt != nullptr && hooks.interrupt->load(std::memory_order_relaxed) &&
        !shared.stop.load()) {
      shared.Abort("interrupted");
    }
    if (now >= next_second || all_done) {
      Histogram interval;
      Histogram connect_interval;
      ErrorCounts errors_so_far;
      WorkerCounters sum;
      for (auto& worker : workers) {
        const WorkerCounters w = worker->TakeInterval(&interval, &connect_interval, &errors_so_far);
        sum.messages_completed += w.messages_completed;
        sum.bytes_sent += w.bytes_sent;
        sum.bytes_received += w.bytes_received;
        sum.errors += w.errors + w.data_errors + w.warmup_data_errors;
        sum.data_errors += w.data_errors;
        sum.warmup_data_errors += w.warmup_data_errors;
        sum.connections_opened += w.connections_opened;
        sum.open_connections += w.open_connections;
      }
      LoadSecond second;
      second.t_s = (now - shared.start_ns) / 1e9;
      second.interval_s = (now - previous_ns) / 1e9;
      previous_ns = now;
      second.warmup = now <= shared.measure_start_ns;
      second.messages = sum.messages_completed - previous.messages_completed;
      second.bytes_sent = sum.bytes_sent - previous.bytes_sent;
      second.bytes_received = sum.bytes_received - previous.bytes_received;
      second.errors = sum.errors - previous.errors;
      second.connects = sum.connections_opened - previous.connections_opened;
      second.open_connections = sum.open_connections;
      second.p50_ns = interval.ValueAtPercentile(50);
      second.p99_ns = interval.ValueAtPercentile(99);
      second.p99_9_ns = interval.ValueAtPercentile(99.9);
      second.max_ns = interval.max();
      second.connect_p50_ns = connect_interval.ValueAtPercentile(50);
      second.connect_p99_ns = connect_interval.ValueAtPercentile(99);
      second.connect_max_ns = connect_interval.max();
      if (interval.count() > 0) {
        second.rtt_histogram = EncodeHistogram(interval);
      }
      if (connect_interval.count() > 0) {
        second.connect_histogram = EncodeHistogram(connect_interval);
      }
      std::map<std::string, uint64_t> errors = ErrorCellTotals(errors_so_far);
      if (const uint64_t data = sum.data_errors + sum.warmup_data_errors; data > 0) {
        errors["data mismatch"] = data;
      }
      for (const auto& [label, count] : errors) {
        if (const uint64_t delta = count - previous_errors[label]; delta > 0) {
          second.errors_by_class.emplace_back(label, delta);
        }
      }
      previous_errors = std::move(errors);
      previous = sum;
      // The last partial second is kept only when it holds something.
      if (hooks.on_interval) {
        hooks.on_interval(interval, connect_interval);
      }
      if (!all_done || interval.count() > 0 || second.errors > 0) {
        if (hooks.on_second) {
          hooks.on_second(&second);
        }
        result.series.push_back(std::move(second));
      }
      next_second += 1'000'000'000;
      if (listener_local) {
        listener.Sample();
      }
    }
    if (all_done) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(
        std::clamp<int64_t>((next_second - MonotonicNanos()) / 1'000'000, 1, 50)));
  }
  for (std::thread& thread : running) {
    thread.join();
  }
  const int64_t finished_ns = MonotonicNanos();
  const ProcessCpu cpu_after = ProcessCpuNow();
  result.client_cpu_user_s = cpu_after.user_s - cpu_before.user_s;
  result.client_cpu_system_s = cpu_after.system_s - cpu_before.system_s;
  result.wall_s = (finished_ns - shared.start_ns) / 1e9;

  for (auto& worker : workers) {
    if (!worker->status().ok()) {
      return worker->status();
    }
  }

  int64_t last_completion = 0;
  WorkerCounters shortage;  // the workers' local shortages and connect deadlines, summed
  for (auto& worker : workers) {
    const WorkerCounters& w = worker->counters();
    result.messages_sent += w.messages_sent;
    result.messages_completed += w.messages_completed;
    result.messages_failed += w.messages_failed;
    result.messages_in_flight_at_end += w.in_flight_at_end;
    result.messages_scheduled += w.messages_scheduled;
    result.bytes_sent += w.bytes_sent;
    result.bytes_received += w.bytes_received;
    result.data_errors += w.data_errors;
    result.warmup_data_errors += w.warmup_data_errors;
    result.connections_opened += w.connections_opened;
    result.connect_attempts += w.connect_attempts;
    result.warmup_connections_opened += w.warmup_connections_opened;
    result.warmup_connect_attempts += w.warmup_connect_attempts;
    last_completion = std::max(last_completion, w.last_completion_ns);
    shortage.shortage_failures += w.shortage_failures;
    shortage.shortage_waits += w.shortage_waits;
    shortage.shortage_ns = std::max(shortage.shortage_ns, w.shortage_ns);
    shortage.connect_deadlines_answered += w.connect_deadlines_answered;
    shortage.connect_deadlines_unanswered += w.connect_deadlines_unanswered;
    result.rtt.Merge(worker->rtt());
    result.rtt_uncorrected.Merge(worker->rtt_uncorrected());
    result.send_lag.Merge(worker->send_lag());
    result.connect.Merge(worker->connect_latency());
    result.errors.Merge(worker->error_counts());
    result.warmup_errors.Merge(worker->warmup_error_counts());
    result.raw_rtt_ns.insert(result.raw_rtt_ns.end(), worker->raw_rtt().begin(),
                             worker->raw_rtt().end());
  }
  result.peak_open_connections = shared.peak_open_connections.load();
  // The measured window is the one asked for: it ends at the planned end (-d), at the abort or
  // interrupt, or at the last echo of -n, whichever came first. Messages still unanswered when
  // it ended are reported as in flight at the end, so a slow last echo cannot stretch the window
  // and thin the rate.
  int64_t window_end = last_completion > 0 ? last_completion : finished_ns;
  if (shared.end_ns > 0 && finished_ns >= shared.end_ns) {
    window_end = shared.end_ns;
  }
  if (const int64_t stop_ns = shared.stop_ns.load(); stop_ns > 0) {
    window_end = std::min(window_end, stop_ns);
  }
  result.elapsed_s = std::max<int64_t>(0, window_end - shared.measure_start_ns) / 1e9;
  result.abort_reason = shared.abort_reason;
  if (options.rate > 0) {
    if (options.messages > 0) {
      result.messages_scheduled = std::min(result.messages_scheduled, options.messages);
    }
  }
  if (shared.unreachable.load() && result.abort_reason == kUnreachableReason) {
    // Every attempt of every thread: those that failed (as the error lines count them), and
    // those still connecting when the run gave up (abandoned, their outcome unknown).
    uint64_t failed = 0;
    for (const ErrorCounts* counts : {&result.errors, &result.warmup_errors}) {
      counts->ForEach([&](Phase phase, ErrorClass, uint64_t count, int, int64_t) {
        failed += phase == Phase::kConnect ? count : 0;
      });
    }
    const uint64_t attempts = result.connect_attempts + result.warmup_connect_attempts;
    result.abort_reason =
        absl::StrCat("could not reach ", options.target.ToString(), " (none of ", attempts,
                     " connection attempts succeeded: ", failed, " failed");
    if (attempts > failed) {
      absl::StrAppend(&result.abort_reason, ", ", attempts - failed,
                      " abandoned when the run gave up");
    }
    absl::StrAppend(&result.abort_reason, ")");
  }
  if (listener_local) {
    listener.Sample();  // a server that never accepts still holds its full queue now
  }
  absl::StatusOr<TcpCounters> counters_after = ReadTcpCounters();
  HintContext::ConnectDeadlines deadlines;
  deadlines.answered = static_cast<int64_t>(shortage.connect_deadlines_answered);
  deadlines.unanswered = static_cast<int64_t>(shortage.connect_deadlines_unanswered);
  deadlines.listener_local = listener_local;
  deadlines.listen_overflows =
      CounterDeltaOf(counters_before, counters_after, "TcpExt.ListenOverflows");
  deadlines.listen_drops = CounterDeltaOf(counters_before, counters_after, "TcpExt.ListenDrops");
  deadlines.listener_queue_max = listener.queue_max();
  deadlines.listener_backlog = listener.backlog();
  deadlines.local_shortage_errors = static_cast<int64_t>(shortage.shortage_failures);
  ErrorCounts all_errors = result.errors;
  all_errors.Merge(result.warmup_errors);
  const HintContext context = HintContextOf(options, deadlines);
  result.hints = HintsFor(all_errors, context);
  // The port range can bound the connection rate without a single error: connects then take
  // ports still in TIME_WAIT, which only the kernel's counter shows.
  const int64_t recycled = CounterDeltaOf(counters_before, counters_after, "TcpExt.TWRecycled");
  bool ports_named = false;  // by the connect EADDRNOTAVAIL hint above
  all_errors.ForEach([&](Phase phase, ErrorClass error_class, uint64_t, int, int64_t) {
    ports_named |= phase == Phase::kConnect && error_class == ErrorClass::kAddrNotAvail;
  });
  if (std::string recycling = PortRecycleHint(
          recycled, static_cast<int64_t>(result.connect_attempts + result.warmup_connect_attempts),
          ports_named, ThisMachineLimits(), context);
      !recycling.empty()) {
    result.hints.push_back(absl::StrCat("connect: ", recycling));
  }
  if (shortage.shortage_failures > 0) {
    result.hints.push_back(ShortageLine(shortage, threads));
  }
  if (const uint64_t mismatches = result.data_errors + result.warmup_data_errors; mismatches > 0) {
    result.hints.push_back(absl::StrCat(
        "data mismatch: ", mismatches, " echoes differed from what was sent; ",
        options.target.ToString(),
        " may not be an echo server (RFC 862: it must return every byte as received)"));
  }
  if (counters_before.ok() && counters_after.ok()) {
    result.kernel_counters_available = true;
    result.kernel = DiffCounters(*counters_before, *counters_after);
  }
  return result;
}

}  // namespace socklab::client

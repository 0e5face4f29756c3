#include "client/load/load_command.h"

#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <tuple>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "client/load/load_engine.h"
#include "client/load/load_flags.h"
#include "client/load/load_metrics.h"
#include "client/load/load_options.h"
#include "client/load/load_report.h"
#include "client/load/output_file.h"
#include "client/load/repeat_summary.h"
#include "client/load/shard.h"
#include "client/load/sweep_summary.h"
#include "client/load/target.h"
#include "client/report/report_html.h"
#include "core/base/status.h"
#include "core/base/status_macros.h"
#include "core/metrics/http_endpoint.h"
#include "core/tcpstat/reader.h"
#include "core/tcpstat/tcp_state.h"
#include "nlohmann/json.hpp"

namespace socklab::client {
namespace {

constexpr char kProgram[] = "socklab load";

// What the command line gave: the value flags of client/load/load_flags.h straight into
// `options`, the rest as text, turned into LoadOptions by BuildOptions after the parse; and what
// only this front end uses (output files, progress lines, --states, --repeat, --sweep).
struct LoadCommandFlags {
  CLI::App* app = nullptr;  // how often each flag was given
  LoadOptions options;
  std::string target;
  std::string backend = "auto";
  std::string close = "fin";
  bool nagle = false;
  std::string size = "64";
  std::string bind;
  std::string source_ips;
  bool progress = false;
  bool states = false;
  std::string json;  // "-" = stdout
  std::string hgrm;
  std::string html;  // the HTML report of this run (client/report)
  std::string csv;   // the per-second series as CSV
  uint64_t repeat = 1;
  std::string sweep;  // "connections=1,10,100" or "rate=1000,5000"
  bool ipv4 = false;
  bool ipv6 = false;

  // Live Prometheus metrics of the running load, served at ADDR/metrics.
  std::string metrics;

  // One agent of several (client/load/shard.h) and the interval log.
  std::string shard;
  std::string start_at;
  std::string run_id;
  std::string hlog;

  bool Given(const char* name) const { return app->count(name) > 0; }
};

// The test-only environment variable: every round-trip latency of the window, one number (ns) a
// line, to this file; what tests compare the histograms and `socklab merge` against.
constexpr char kRawLatenciesEnv[] = "SOCKLAB_TEST_RAW_LATENCIES";

// --shard, --run-id, --start-at: this agent's part of the load and when its window starts.
absl::Status ApplyAgentFlags(const LoadCommandFlags& f, LoadOptions* o) {
  o->run_id = f.run_id;
  for (char ch : f.run_id) {
    if (!absl::ascii_isalnum(ch) && ch != '-' && ch != '_' && ch != '.') {
      return UsageError(absl::StrCat("--run-id '", f.run_id, "' has a '", std::string(1, ch), "'"),
                        "use letters, digits, '-', '_' and '.' only, e.g. --run-id nightly-42");
    }
  }
  if (!f.shard.empty()) {
    absl::StatusOr<Shard> shard = ParseShard(f.shard);
    if (!shard.ok()) {
      return shard.status();
    }
    o->shard_index = shard->index;
    o->shard_count = shard->count;
    o->total_connections = o->connections;
    o->total_rate = o->rate;
    o->total_messages = o->messages;
    o->connections = ShareOf(o->connections, *shard);
    o->rate = RateShareOf(o->rate, *shard);
    o->messages = ShareOf(o->messages, *shard);
    if (o->connections == 0) {
      return UsageError(absl::StrCat("--shard ", f.shard, " leaves this agent none of -c ",
                                     o->total_connections, " connections"),
                        absl::StrCat("give -c at least ", shard->count, " (one per agent)"));
    }
    if (o->total_messages > 0 && o->messages == 0) {
      return UsageError(absl::StrCat("--shard ", f.shard, " leaves this agent none of -n ",
                                     o->total_messages, " messages"),
                        absl::StrCat("give -n at least ", shard->count, " (one per agent)"));
    }
  }
  if (!f.start_at.empty()) {
    absl::StatusOr<absl::Time> start_at = ParseStartAt(f.start_at);
    if (!start_at.ok()) {
      return start_at.status();
    }
    const absl::Time now = absl::Now();
    if (*start_at - o->warmup <= now) {
      return UsageError(
          absl::StrCat("--start-at ", f.start_at, " is ",
                       *start_at <= now ? "in the past" : "sooner than --warmup from now", " (now ",
                       FormatStartAt(now), ")"),
          "give a time later than now plus --warmup and the agents' start-up, e.g. "
          "--start-at $(( $(date +%s) + 30 ))");
    }
    o->start_at = *start_at;
  }
  if (const char* raw = std::getenv(kRawLatenciesEnv); raw != nullptr) {
    o->raw_latencies_path = raw;
  }
  return absl::OkStatus();
}

// A flag given as 0 where 0 means nothing: one line with what to do instead.
absl::Status CheckNotZero(const CLI::App& app, absl::string_view name, bool zero,
                          absl::string_view meaning, absl::string_view fix) {
  if (app.count(std::string(name)) == 0 || !zero) {
    return absl::OkStatus();
  }
  return UsageError(absl::StrCat(name, " 0 ", meaning), fix);
}

// Registers one flag of the table, its value written into `options`.
CLI::Option* AddTableFlag(CLI::App& app, const LoadFlag& flag, LoadOptions* options) {
  switch (flag.kind) {
    case ValueKind::kCount:
      return cli::AddCountFlag(
          app, flag.names, &(options->*std::get<uint64_t LoadOptions::*>(flag.option)), flag.help);
    case ValueKind::kRate:
      return cli::AddRateFlag(app, flag.names,
                              &(options->*std::get<double LoadOptions::*>(flag.option)), flag.help);
    case ValueKind::kShare:
      return cli::AddShareFlag(
          app, flag.names, &(options->*std::get<double LoadOptions::*>(flag.option)), flag.help);
    case ValueKind::kDuration:
      return cli::AddDurationFlag(app, flag.names,
                                  &(options->*std::get<absl::Duration LoadOptions::*>(flag.option)),
                                  flag.help);
  }
  return nullptr;
}

std::atomic<bool> g_interrupted{false};
std::atomic<int> g_signal{0};  // the first SIGINT or SIGTERM received

void OnInterrupt(int signal_number) {
  int none = 0;
  g_signal.compare_exchange_strong(none, signal_number);
  g_interrupted.store(true);
}

absl::StatusOr<LoadOptions> BuildOptions(const LoadCommandFlags& f) {
  LoadOptions o = f.options;
  for (const LoadFlag& flag : LoadFlagTable()) {
    if (*flag.zero_problem != '\0') {
      SOCKLAB_RETURN_IF_ERROR(CheckNotZero(*f.app, flag.LongName(), flag.OptionValue(o) == 0,
                                           flag.zero_problem, flag.zero_fix));
    }
  }
  SOCKLAB_RETURN_IF_ERROR(CheckNotZero(*f.app, "--repeat", f.repeat == 0, "runs nothing",
                                       "omit --repeat for one run, or give 1 or more runs"));
  if (f.ipv4 && f.ipv6) {
    return UsageError("-4 and -6 together", "give one of them");
  }
  if (f.Given("--min-rate-ratio") && !f.sweep.empty()) {
    return UsageError("--min-rate-ratio and --sweep together",
                      "drop --min-rate-ratio: the sweep's knee names the first value that missed "
                      "the rate");
  }
  absl::StatusOr<std::vector<SocketAddress>> targets =
      ResolveTarget(f.target, f.ipv4 ? AF_INET : (f.ipv6 ? AF_INET6 : AF_UNSPEC));
  if (!targets.ok()) {
    return targets.status();
  }
  o.target = targets->front();
  o.command_line = cli::CommandLine();
  absl::StatusOr<loop::BackendChoice> backend = loop::ParseBackendChoice(f.backend);
  if (!backend.ok()) {
    return backend.status();
  }
  o.backend = *backend;
  o.backend_text = f.backend;
  o.nodelay = !f.nagle;
  if (f.close == "fin") {
    o.close = CloseMode::kFin;
  } else if (f.close == "rst") {
    o.close = CloseMode::kRst;
  } else {
    return UsageError(absl::StrCat("--close ", f.close), "use fin or rst");
  }
  absl::StatusOr<std::pair<uint32_t, uint32_t>> size = ParseSizeRange(f.size);
  if (!size.ok()) {
    return size.status();
  }
  o.size_min = size->first;
  o.size_max = size->second;
  // -n alone runs until the messages are done; with -d as well, whichever comes first.
  if (o.messages > 0 && !f.Given("--duration")) {
    o.duration = absl::ZeroDuration();
  }
  if (!f.bind.empty() && !f.source_ips.empty()) {
    return UsageError("--bind and --source-ips together", "give one of them");
  }
  if (!f.bind.empty()) {
    absl::StatusOr<SocketAddress> bind = ParseBindAddress(f.bind);
    if (!bind.ok()) {
      return bind.status();
    }
    o.sources.push_back(*bind);
    o.sources_text = f.bind;
  }
  if (!f.source_ips.empty()) {
    absl::StatusOr<std::vector<SocketAddress>> sources = ParseSourceRange(f.source_ips);
    if (!sources.ok()) {
      return sources.status();
    }
    o.sources = std::move(*sources);
    o.sources_text = f.source_ips;
  }
  if (absl::Status agent = ApplyAgentFlags(f, &o); !agent.ok()) {
    return agent;
  }
  if (absl::Status valid = o.Validate(); !valid.ok()) {
    return valid;
  }
  // Several addresses (localhost, a name): the first that answers, once the flags are known good.
  o.target = PickReachable(*targets, o.connect_timeout, &o.target_note);
  if (!o.target_note.empty()) {
    o.target_note = absl::StrCat(f.target, " tried: ", o.target_note);
  }
  return o;
}

// Samples the TCP states of the target port's sockets (both ends, as `socklab states` does). A
// failed sample marks the second (unknown, not zero) and is reported on stderr once per run
// (`*warned`).
void SampleStatesInto(uint16_t port, LoadSecond* second, bool* warned) {
  tcpstat::Filter filter;
  filter.port = port;
  absl::StatusOr<tcpstat::StateTally> tally = tcpstat::SampleStates(filter);
  if (!tally.ok()) {
    second->states_error = std::string(tally.status().message());
    if (!*warned) {
      *warned = true;
      std::fprintf(stderr, "%s: --states: sampling failed: %s (such seconds show n/a)\n", kProgram,
                   second->states_error.c_str());
    }
    return;
  }
  for (tcpstat::TcpState state : tcpstat::kReportedTcpStates) {
    second->states.emplace_back(std::string(tcpstat::TcpStateName(state)), tally->Count(state));
  }
}

double SweepValueOf(const LoadOptions& o, const std::string& parameter) {
  return parameter == "rate" ? o.rate : static_cast<double>(o.connections);
}

// The runs to make: --repeat copies of `base`, or one per --sweep value (each validated as its
// own flags would be).
absl::StatusOr<std::vector<LoadOptions>> PlanRuns(const LoadCommandFlags& f,
                                                  const LoadOptions& base,
                                                  const std::optional<SweepSpec>& sweep) {
  if (!sweep.has_value()) {
    return std::vector<LoadOptions>(f.repeat, base);
  }
  if (f.Given("--repeat")) {
    return UsageError("--sweep and --repeat together", "give one of them");
  }
  std::vector<LoadOptions> plan;
  for (double value : sweep->values) {
    LoadOptions o = base;
    if (sweep->parameter == "connections") {
      o.connections = static_cast<uint64_t>(value);
    } else {
      o.rate = value;
    }
    if (absl::Status valid = o.Validate(); !valid.ok()) {
      return valid;
    }
    plan.push_back(std::move(o));
  }
  return plan;
}

int Run(const LoadCommandFlags& flags) {
  absl::StatusOr<LoadOptions> options = BuildOptions(flags);
  if (!options.ok()) {
    return cli::ReportFailure(kProgram, options.status());
  }
  std::optional<SweepSpec> sweep_spec;
  if (!flags.sweep.empty()) {
    absl::StatusOr<SweepSpec> parsed = ParseSweep(flags.sweep);
    if (!parsed.ok()) {
      return cli::ReportFailure(kProgram, parsed.status());
    }
    sweep_spec = std::move(*parsed);
  }
  // Every run's options, checked before any file is created or load is sent.
  absl::StatusOr<std::vector<LoadOptions>> plan = PlanRuns(flags, *options, sweep_spec);
  if (!plan.ok()) {
    return cli::ReportFailure(kProgram, plan.status());
  }
  const bool json_to_stdout = flags.json == "-";
  // Opened before the run: a path that cannot be written is refused before any load is sent.
  std::optional<OutputFile> json_file;
  std::optional<OutputFile> hgrm_file;
  if (!flags.json.empty() && !json_to_stdout) {
    absl::StatusOr<OutputFile> file = OutputFile::Open("--json", flags.json);
    if (!file.ok()) {
      return cli::ReportFailure(kProgram, file.status());
    }
    json_file.emplace(std::move(*file));
  }
  if (!flags.hgrm.empty()) {
    absl::StatusOr<OutputFile> file = OutputFile::Open("--hgrm", flags.hgrm);
    if (!file.ok()) {
      return cli::ReportFailure(kProgram, file.status());
    }
    hgrm_file.emplace(std::move(*file));
  }
  std::optional<OutputFile> hlog_file;
  std::optional<OutputFile> raw_file;
  const std::string& raw_path = options->raw_latencies_path;
  for (auto [flag, path, file] : {std::tuple{"--hlog", &flags.hlog, &hlog_file},
                                  std::tuple{kRawLatenciesEnv, &raw_path, &raw_file}}) {
    if (!path->empty()) {
      absl::StatusOr<OutputFile> opened = OutputFile::Open(flag, *path);
      if (!opened.ok()) {
        return cli::ReportFailure(kProgram, opened.status());
      }
      file->emplace(std::move(*opened));
    }
  }
  if ((options->shard_count > 1 || options->start_at != absl::InfinitePast()) && plan->size() > 1) {
    return cli::ReportFailure(
        kProgram, UsageError("--shard or --start-at with --repeat or --sweep",
                             "run each agent's load once; repeat the whole sharded run instead"));
  }
  std::optional<OutputFile> html_file;
  if (!flags.html.empty()) {
    absl::StatusOr<OutputFile> file = OutputFile::Open("--html", flags.html);
    if (!file.ok()) {
      return cli::ReportFailure(kProgram, file.status());
    }
    html_file.emplace(std::move(*file));
  }
  std::optional<OutputFile> csv_file;
  if (!flags.csv.empty()) {
    absl::StatusOr<OutputFile> file = OutputFile::Open("--csv", flags.csv);
    if (!file.ok()) {
      return cli::ReportFailure(kProgram, file.status());
    }
    csv_file.emplace(std::move(*file));
  }
  // --metrics: served on the endpoint's own thread from LoadMetrics, which the engine thread
  // feeds once a second through the hooks below; bound before any load is sent.
  std::shared_ptr<LoadMetrics> live_metrics;
  std::unique_ptr<metrics::HttpEndpoint> metrics_endpoint;
  if (!flags.metrics.empty()) {
    absl::StatusOr<SocketAddress> address =
        metrics::ParseMetricsAddress("--metrics", flags.metrics);
    if (!address.ok()) {
      return cli::ReportFailure(kProgram, address.status());
    }
    live_metrics = std::make_shared<LoadMetrics>();
    absl::StatusOr<std::unique_ptr<metrics::HttpEndpoint>> endpoint =
        metrics::HttpEndpoint::Start(*address, [live_metrics] { return live_metrics->Text(); });
    if (!endpoint.ok()) {
      cli::ReportFailure(kProgram, endpoint.status());
      return 2;  // the address is the user's to fix (in use, not local), like a bad flag
    }
    metrics_endpoint = std::move(*endpoint);
    std::fprintf(stderr, "%s: metrics at http://%s/metrics\n", kProgram,
                 metrics_endpoint->address().ToString().c_str());
  }
  LoadHooks hooks;
  hooks.interrupt = &g_interrupted;
  const uint16_t port = options->target.port();
  const bool progress = flags.progress || isatty(STDERR_FILENO) == 1;
  const bool states = flags.states;
  auto states_warned = std::make_shared<bool>(false);
  hooks.on_second = [progress, states, port, states_warned, live_metrics](LoadSecond* second) {
    if (states) {
      SampleStatesInto(port, second, states_warned.get());
    }
    if (live_metrics) {
      live_metrics->AddSecond(*second);
    }
    if (progress) {
      std::fprintf(stderr, "%s\n", LoadProgressLine(*second).c_str());
    }
  };
  hooks.on_start = [live_metrics](const LoadConfig& config) {
    for (const std::string& note : config.limit_notes) {
      std::fprintf(stderr, "%s: note: %s\n", kProgram, note.c_str());
    }
    if (live_metrics) {
      live_metrics->Start(config);
    }
  };
  if (live_metrics) {
    hooks.on_interval = [live_metrics](const Histogram& rtt, const Histogram& connect) {
      live_metrics->AddInterval(rtt, connect);
    };
  }
  struct sigaction action = {};
  action.sa_handler = OnInterrupt;
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);

  // --repeat: the same load again, nothing else in between; the report is of the median run (by
  // throughput), with each figure's median and spread over the runs. --sweep: one run per value.
  std::vector<LoadResult> runs;
  for (size_t i = 0; i < plan->size(); ++i) {
    absl::StatusOr<LoadResult> run = RunLoad((*plan)[i], hooks);
    if (!run.ok()) {
      signal(SIGINT, SIG_DFL);
      signal(SIGTERM, SIG_DFL);
      return cli::ReportFailure(kProgram, run.status());
    }
    if (plan->size() > 1) {
      std::fprintf(stderr, "%s: run %zu of %zu%s: %.0f msg/s, p99 %s, errors %llu\n", kProgram,
                   i + 1, plan->size(),
                   !sweep_spec.has_value()
                       ? ""
                       : absl::StrCat(" (", sweep_spec->parameter, "=",
                                      SweepValueOf((*plan)[i], sweep_spec->parameter), ")")
                             .c_str(),
                   run->elapsed_s > 0 ? run->messages_completed / run->elapsed_s : 0.0,
                   FormatLatency(run->rtt.ValueAtPercentile(99)).c_str(),
                   static_cast<unsigned long long>(run->errors.Total() + run->data_errors));
    }
    runs.push_back(std::move(*run));
    if (!runs.back().abort_reason.empty()) {
      break;  // an aborted or interrupted run ends the repetition, and is the one reported
    }
  }
  signal(SIGINT, SIG_DFL);
  signal(SIGTERM, SIG_DFL);
  std::vector<SweepPoint> sweep;
  if (sweep_spec.has_value()) {
    for (size_t i = 0; i < runs.size(); ++i) {
      sweep.push_back(SweepPointOf(SweepValueOf((*plan)[i], sweep_spec->parameter), runs[i]));
    }
  }
  // The run reported in full: an aborted one, else the last of a sweep, else the median.
  const LoadResult* result =
      &runs[!runs.back().abort_reason.empty() || !flags.sweep.empty() ? runs.size() - 1
                                                                      : MedianRunIndex(runs)];
  // With --json - the JSON owns stdout; the text goes to stderr so both stay readable.
  FILE* text_out = json_to_stdout ? stderr : stdout;
  std::fprintf(text_out, "%s%s%s", LoadConfigToText(result->config).c_str(),
               LoadSummaryToText(*result).c_str(), LoadStatesToText(*result).c_str());
  if (!flags.sweep.empty()) {
    std::fprintf(text_out, "%s", SweepToText(sweep_spec->parameter, sweep).c_str());
  } else if (runs.size() > 1) {
    std::fprintf(text_out, "%s", RepeatSummaryToText(RepeatFigures(runs), runs.size()).c_str());
  }
  std::fflush(text_out);
  int code = 0;
  // The JSON is the report's one source: --html draws what --json would write.
  nlohmann::json result_json = LoadResultToJson(*result);
  if (!flags.sweep.empty()) {
    result_json["sweep"] = SweepToJson(sweep_spec->parameter, sweep);
  } else if (flags.repeat > 1) {
    result_json["repeat"] = RepeatSummaryToJson(runs);
  }
  if (!flags.json.empty()) {
    const std::string json = result_json.dump(2) + "\n";
    if (json_to_stdout) {
      std::fputs(json.c_str(), stdout);
      std::fflush(stdout);
    } else if (absl::Status written = json_file->WriteAndClose(json); !written.ok()) {
      code = cli::ReportFailure(kProgram, written);
    }
  }
  if (hgrm_file.has_value()) {
    if (absl::Status written = hgrm_file->WriteAndClose(result->rtt.PercentileDistribution(1e6));
        !written.ok()) {
      code = cli::ReportFailure(kProgram, written);
    }
  }
  if (hlog_file.has_value()) {
    if (absl::Status written = hlog_file->WriteAndClose(LoadResultToHlog(*result)); !written.ok()) {
      code = cli::ReportFailure(kProgram, written);
    }
  }
  if (raw_file.has_value()) {
    std::string raw;
    for (int64_t ns : result->raw_rtt_ns) {
      absl::StrAppend(&raw, ns, "\n");
    }
    if (absl::Status written = raw_file->WriteAndClose(raw); !written.ok()) {
      code = cli::ReportFailure(kProgram, written);
    }
  }
  if (csv_file.has_value()) {
    if (absl::Status written = csv_file->WriteAndClose(LoadSeriesToCsv(*result)); !written.ok()) {
      code = cli::ReportFailure(kProgram, written);
    }
  }
  if (html_file.has_value()) {
    const std::vector<ReportRun> runs = {{"socklab load", result_json}};
    if (absl::Status written = html_file->WriteAndClose(RenderReportHtml(runs)); !written.ok()) {
      code = cli::ReportFailure(kProgram, written);
    }
  }
  // What made the run fail, one line each, after the report.
  const bool interrupted = result->abort_reason == "interrupted";
  if (!result->abort_reason.empty() && !interrupted) {
    std::fprintf(stderr, "%s: %s\n", kProgram, result->abort_reason.c_str());
    code = 1;
  }
  if (const uint64_t mismatches = result->data_errors + result->warmup_data_errors;
      mismatches > 0) {
    std::fprintf(stderr,
                 "%s: %llu echoes differed from what was sent; check that %s is an echo server "
                 "(RFC 862)\n",
                 kProgram, static_cast<unsigned long long>(mismatches),
                 options->target.ToString().c_str());
    code = 1;
  }
  if (result->messages_completed == 0 && result->abort_reason.empty()) {
    std::fprintf(stderr,
                 "%s: no message completed in the measured window; see the errors above, or "
                 "lengthen -d or shorten --warmup\n",
                 kProgram);
    code = 1;
  }
  // Completed, but the open loop sent less of its schedule than --min-rate-ratio asks: its own
  // exit code, after any failure above (which says more).
  if (code == 0 && result->abort_reason.empty() && MinRateRatioMissed(*result)) {
    std::fprintf(stderr,
                 "%s: %.1f%% of the schedule was sent, below --min-rate-ratio %.10g; add "
                 "connections (-c), --pipeline or threads, or lower -R\n",
                 kProgram, 100 * AchievedRatio(*result), result->config.min_rate_ratio);
    code = kExitRateNotReached;
  }
  // Ended by SIGINT or SIGTERM: 128 + the signal, as shells expect of a program the signal
  // stopped (the report above is still complete for the time it ran).
  if (const int signal_number = g_signal.load(); interrupted && signal_number != 0) {
    code = 128 + signal_number;
  }
  return code;
}

}  // namespace

cli::Command AddLoadCommand(CLI::App& app) {
  auto flags = std::make_shared<LoadCommandFlags>();
  CLI::App* sub = app.add_subcommand(
      "load", "Drive a TCP echo server: throughput, latency percentiles, every error by class");
  flags->app = sub;
  sub->add_option("target", flags->target,
                  "HOST:PORT of the echo server (127.0.0.1:7007, [::1]:7007)")
      ->required();
  for (const LoadFlag& flag : LoadFlagTable()) {
    AddTableFlag(*sub, flag, &flags->options);
  }
  sub->add_option("--backend", flags->backend, "auto|io_uring|epoll (default auto)");
  sub->add_option("--close", flags->close, "How the client closes: fin (default) or rst");
  sub->add_flag("--nagle", flags->nagle,
                "Leave Nagle's algorithm on (default: TCP_NODELAY, each message leaves at once)");
  sub->add_option("-s,--size", flags->size, "Message bytes, or MIN-MAX uniform (default 64)");
  sub->add_option("--bind", flags->bind, "Local ADDR[:PORT] to connect from");
  sub->add_option("--source-ips", flags->source_ips,
                  "Rotate local addresses FIRST-LAST (127.0.0.2-127.0.0.40)");
  sub->add_flag("--progress", flags->progress,
                "Progress line each second on stderr (default: when stderr is a terminal)");
  sub->add_flag("--states", flags->states, "Sample the TCP states of the target port each second");
  sub->add_option("--json", flags->json, "Write the full result as JSON to FILE (- = stdout)");
  sub->add_option("--hgrm", flags->hgrm,
                  "Write the latency distribution in HdrHistogram .hgrm format (ms) to FILE");
  sub->add_option("--html", flags->html,
                  "Write the HTML report of this run (charts; as 'socklab report') to FILE");
  cli::AddCountFlag(
      *sub, "--repeat", &flags->repeat,
      "Run the same load N times: the median run's report, each figure's median [min - max]");
  sub->add_option("--sweep", flags->sweep,
                  "One run per value: connections=1,10,100 or rate=1000,5k, or a range "
                  "rate=10k..200k/10 (10 values spaced geometrically: each step the same ratio); "
                  "a summary table and the knee (first value missing the rate or with p99 over "
                  "3x the previous)");
  sub->add_option("--csv", flags->csv,
                  "Write the per-second series as CSV (a header row, one row per second) to FILE");
  sub->add_option("--metrics", flags->metrics,
                  "Serve the running load's live Prometheus metrics at http://ADDR:PORT/metrics "
                  "(counters, open connections, latency histograms in seconds)");
  sub->add_option("--shard", flags->shard,
                  "This agent's part I/N of -c, -R and -n (I from 0, remainders to the first "
                  "shards); merge the agents' --json with 'socklab merge'");
  sub->add_option("--start-at", flags->start_at,
                  "Start the measured window at TIME (RFC 3339 or unix seconds), the run --warmup "
                  "before it, so agents measure together");
  sub->add_option("--run-id", flags->run_id,
                  "A name for the run, written into every output; merge refuses other ids");
  sub->add_option("--hlog", flags->hlog,
                  "Write an HdrHistogram interval log (per second, Tag=rtt and Tag=connect) to "
                  "FILE");
  sub->add_flag("-4", flags->ipv4, "Use IPv4 (localhost -> 127.0.0.1)");
  sub->add_flag("-6", flags->ipv6, "Use IPv6 (localhost -> ::1)");
  return {sub, [flags] { return Run(*flags); }};
}

}  // namespace socklab::client

// socklab-server: the echo server. Flags are read here only, into ServerOptions.

#include <signal.h>
#include <time.h>

#include <algorithm>
#include <cstdio>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "core/base/clock.h"
#include "core/base/status.h"
#include "core/base/units.h"
#include "core/base/version.h"
#include "core/cli/flags.h"
#include "core/metrics/http_endpoint.h"
#include "core/sysinfo/machine.h"
#include "nlohmann/json.hpp"
#include "server/echo_server.h"
#include "server/fault.h"
#include "server/server_flags.h"
#include "server/server_metrics.h"
#include "server/server_options.h"
#include "server/server_stats.h"

namespace socklab::server {
namespace {

constexpr char kProgram[] = "socklab-server";

// The effective configuration, one line, for stderr: the value flags from their table.
std::string ConfigText(const EchoServer& server) {
  const ServerOptions& o = server.options();
  std::string backend(loop::BackendName(server.backend()));
  if (!server.fallback_reason().empty()) {
    absl::StrAppend(&backend, " (io_uring unavailable: ", server.fallback_reason(), ")");
  }
  std::string line = absl::StrCat(
      "listen=", server.address().ToString(), " backend=", backend,
      " listeners=", o.reuse_port ? "reuseport" : "shared",
      " reuseaddr=", o.reuse_addr ? "on" : "off", " linger=", LingerToString(o.linger),
      " nodelay=", o.nodelay ? "on" : "off", " keepalive=", KeepaliveToString(o.keepalive));
  for (const ServerFlag& flag : ServerFlagTable()) {
    absl::StrAppend(&line, " ", flag.text_key, "=", flag.LineText(o));
  }
  absl::StrAppend(&line, " fault=", FaultPlanToString(o.faults));
  return line;
}

nlohmann::json ConfigJson(const EchoServer& server) {
  const ServerOptions& o = server.options();
  nlohmann::json config = {{"listen", server.address().ToString()},
                           {"backend", std::string(loop::BackendName(server.backend()))},
                           {"fallback_reason", server.fallback_reason()},
                           {"reuseport", o.reuse_port},
                           {"reuseaddr", o.reuse_addr},
                           {"linger", LingerToString(o.linger)},
                           {"nodelay", o.nodelay},
                           {"keepalive", KeepaliveToString(o.keepalive)},
                           {"fault", FaultPlanToString(o.faults)}};
  for (const ServerFlag& flag : ServerFlagTable()) {
    config[flag.json_key] = flag.JsonValue(o);
  }
  return config;
}

// Registers one flag of the table, its value written into `options` (a count above INT64_MAX
// saturates: Validate() then refuses it by name).
void AddTableFlag(CLI::App& app, const ServerFlag& flag, ServerOptions* options) {
  if (flag.kind == ServerValueKind::kDuration) {
    cli::AddDurationFlag(app, flag.names,
                         &(options->*std::get<absl::Duration ServerOptions::*>(flag.option)),
                         flag.help);
    return;
  }
  const bool bytes = flag.kind == ServerValueKind::kByteSize;
  cli::AddParsedFlag<uint64_t>(
      app, flag.names, flag.help, bytes ? "BYTES" : "COUNT", bytes ? &ParseByteSize : &ParseCount,
      [options, field = flag.option](uint64_t value) {
        if (const auto* wide = std::get_if<uint64_t ServerOptions::*>(&field)) {
          options->*(*wide) = value;
        } else {
          options->*std::get<int64_t ServerOptions::*>(field) =
              static_cast<int64_t>(std::min<uint64_t>(value, std::numeric_limits<int64_t>::max()));
        }
      });
}

int Main(int argc, char** argv) {
  // A peer that resets while we send must cost an EPIPE completion, not the process (sends use
  // MSG_NOSIGNAL too; this also covers any write path that does not).
  signal(SIGPIPE, SIG_IGN);

  CLI::App app("socklab-server: a TCP echo server (RFC 862) on io_uring or epoll", kProgram);
  ServerOptions options;
  std::string listen = "127.0.0.1:7007";
  std::string backend = "auto";
  std::string linger = "off";
  std::string keepalive = "off";
  bool no_reuseport = false;
  std::vector<std::string> faults;
  double fault_probability = 1.0;
  uint64_t fault_seed = 0;
  app.add_option("-l,--listen", listen, "ADDR:PORT to listen on; port 0 picks a free port")
      ->capture_default_str();
  app.add_option("--backend", backend, "auto | io_uring | epoll")->capture_default_str();
  for (const ServerFlag& flag : ServerFlagTable()) {
    AddTableFlag(app, flag, &options);
  }
  app.add_flag("--no-reuseport", no_reuseport,
               "one listener shared by all threads instead of one SO_REUSEPORT listener each");
  app.add_flag("--reuseaddr,!--no-reuseaddr", options.reuse_addr, "SO_REUSEADDR (default on)");
  app.add_option("--linger", linger, "off | rst (close sends RST) | SECONDS, for accepted sockets")
      ->capture_default_str();
  app.set_version_flag("--version", std::string(kProgram) + " " + std::string(Version()));
  app.add_flag("--nodelay,!--no-nodelay", options.nodelay,
               "TCP_NODELAY on accepted sockets (default on; --no-nodelay: Nagle's algorithm)");
  app.add_option("--keepalive", keepalive,
                 "TCP keepalive on accepted sockets: IDLE,INTVL,CNT (e.g. 30s,5s,3) or off")
      ->capture_default_str();
  app.add_option(
      "--fault", faults,
      "inflict a failure on clients (repeatable, combinable): reset-after=N (RST), "
      "close-after=N (FIN mid-stream), half-close-after=N (SHUT_WR), stop-reading-after=N, "
      "N bytes (4k) or a duration (2s); delay=D[:JITTER] (each echo); rate=BYTES/s; "
      "slice=N[:D] (echo in N-byte pieces D apart); blackhole "
      "(never read nor write); no-accept (connects time out once --backlog fills); "
      "refuse-after=COUNT (close the listener: ECONNREFUSED)");
  cli::AddShareFlag(app, "--fault-probability", &fault_probability,
                    "share of connections the per-connection faults hit, 0..1 (default 1)");
  app.add_option("--fault-seed", fault_seed,
                 "seed for --fault-probability's draws, for repeatable runs (default: random)");
  app.add_flag("--json", options.json,
               "stdout in JSON lines: the listening event, then the final summary");
  std::string metrics_listen;
  app.add_option("--metrics", metrics_listen,
                 "serve live Prometheus metrics at http://ADDR:PORT/metrics (e.g. "
                 "127.0.0.1:9464; port 0 picks a free port): counters per loop, errors, TCP "
                 "states of the listener's port, process fds");
  if (int code = cli::ParseOrExit(app, argc, argv); code >= 0) {
    return code;
  }

  absl::StatusOr<SocketAddress> address = SocketAddress::Parse(listen);
  if (!address.ok()) {
    return cli::ReportFailure(kProgram, address.status());
  }
  options.listen = *address;
  std::optional<SocketAddress> metrics_address;
  if (!metrics_listen.empty()) {
    absl::StatusOr<SocketAddress> parsed =
        metrics::ParseMetricsAddress("--metrics", metrics_listen);
    if (!parsed.ok()) {
      return cli::ReportFailure(kProgram, parsed.status());
    }
    metrics_address = *parsed;
  }
  absl::StatusOr<loop::BackendChoice> choice = loop::ParseBackendChoice(backend);
  if (!choice.ok()) {
    return cli::ReportFailure(kProgram, choice.status());
  }
  options.backend = *choice;
  absl::StatusOr<Linger> parsed_linger = ParseLinger(linger);
  if (!parsed_linger.ok()) {
    return cli::ReportFailure(kProgram, parsed_linger.status());
  }
  options.linger = *parsed_linger;
  absl::StatusOr<std::optional<Keepalive>> parsed_keepalive = ParseKeepalive(keepalive);
  if (!parsed_keepalive.ok()) {
    return cli::ReportFailure(kProgram, parsed_keepalive.status());
  }
  options.keepalive = *parsed_keepalive;
  options.reuse_port = !no_reuseport;
  absl::StatusOr<FaultPlan> plan = ParseFaultPlan(faults, fault_probability, fault_seed);
  if (!plan.ok()) {
    return cli::ReportFailure(kProgram, plan.status());
  }
  options.faults = *plan;
  // Checked and resolved once: the server runs with, and the configuration line shows, these.
  absl::StatusOr<ResolvedOptions> resolved = ValidateAndResolve(options);
  if (!resolved.ok()) {
    return cli::ReportFailure(kProgram, resolved.status());
  }
  for (const std::string& warning : resolved->warnings) {
    std::fprintf(stderr, "%s: warning: %s\n", kProgram, warning.c_str());
  }

  // SIGINT/SIGTERM are taken synchronously by this thread (sigtimedwait); blocked before the
  // workers start so that they inherit the mask and never run a handler.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  absl::StatusOr<std::unique_ptr<EchoServer>> started = EchoServer::Start(*resolved);
  if (!started.ok()) {
    // Bind/listen failures (EADDRINUSE, EACCES on a low port, EADDRNOTAVAIL) are the user's to
    // fix, like a bad flag: exit 2.
    cli::ReportFailure(kProgram, started.status());
    return ErrnoOf(started.status()).has_value() ? 2 : cli::ExitCodeFor(started.status());
  }
  EchoServer& server = **started;
  int64_t start_ns = MonotonicNanos();
  std::string backend_name(loop::BackendName(server.backend()));
  // --metrics: scrapes are answered on the endpoint's own thread from snapshots of the workers'
  // counters (relaxed atomic loads: each counter is read whole, none publishes other data), so
  // a scrape never waits on a loop and a loop never waits on a scrape.
  std::unique_ptr<metrics::HttpEndpoint> metrics_endpoint;
  if (metrics_address.has_value()) {
    MetricsContext context{backend_name, std::string(Version()), server.address().port()};
    absl::StatusOr<std::unique_ptr<metrics::HttpEndpoint>> endpoint = metrics::HttpEndpoint::Start(
        *metrics_address,
        [&server, context] { return ServerMetricsText(server.LoopStats(), context); });
    if (!endpoint.ok()) {
      // Like a listen failure: the user's to fix (another program on the port), exit 2.
      cli::ReportFailure(kProgram, endpoint.status());
      return ErrnoOf(endpoint.status()).has_value() ? 2 : cli::ExitCodeFor(endpoint.status());
    }
    metrics_endpoint = std::move(*endpoint);
  }
  const std::string metrics_text =
      metrics_endpoint ? metrics_endpoint->address().ToString() : std::string();
  MachineInfo machine = ReadMachineInfo();
  if (options.json) {
    // stdout stays JSON lines: one object per line, the listening event with the effective
    // configuration first.
    nlohmann::json listening = {
        {"event", "listening"},
        {"listen", server.address().ToString()},
        {"backend", backend_name},
        {"threads", server.threads()},
        {"metrics", metrics_endpoint ? nlohmann::json(metrics_text) : nlohmann::json(nullptr)},
        {"version", std::string(Version())},
        {"config", ConfigJson(server)},
        {"machine", MachineInfoToJson(machine)}};
    std::printf("%s\n", listening.dump().c_str());
  } else {
    std::printf("listening %s backend=%s threads=%d%s\n", server.address().ToString().c_str(),
                backend_name.c_str(), server.threads(),
                metrics_endpoint ? absl::StrCat(" metrics=", metrics_text).c_str() : "");
  }
  std::fflush(stdout);
  std::fprintf(stderr, "%s: %s\n%s: %s\n", kProgram, ConfigText(server).c_str(), kProgram,
               MachineInfoToText(machine).c_str());

  // Wait for a stop signal, printing stats lines meanwhile.
  int64_t interval_ns = absl::ToInt64Nanoseconds(options.stats_interval);
  int64_t tick_ns = interval_ns > 0 ? interval_ns : 1'000'000'000;
  StatsSnapshot before = server.Stats();
  int64_t before_ns = start_ns;
  int signal_number = 0;
  int64_t next_ns = start_ns + tick_ns;
  while (!server.stopping()) {
    int64_t wait_ns = std::max<int64_t>(next_ns - MonotonicNanos(), 0);
    timespec ts{static_cast<time_t>(wait_ns / 1'000'000'000),
                static_cast<long>(wait_ns % 1'000'000'000)};
    int sig = sigtimedwait(&stop_signals, nullptr, &ts);
    if (sig > 0) {
      signal_number = sig;
      break;
    }
    int64_t now_ns = MonotonicNanos();
    if (now_ns < next_ns) {
      continue;  // EINTR (a debugger, SIGCHLD ...): wait out the rest
    }
    next_ns += tick_ns;
    if (next_ns <= now_ns) {
      next_ns = now_ns + tick_ns;  // stalled for several ticks: skip, do not burst
    }
    if (interval_ns > 0) {
      StatsSnapshot now = server.Stats();
      std::fprintf(stderr, "%s: t=%.1fs %s\n", kProgram, (now_ns - start_ns) / 1e9,
                   IntervalLine(now, before, (now_ns - before_ns) / 1e9).c_str());
      before = std::move(now);
      before_ns = now_ns;
    }
  }
  if (signal_number != 0) {
    std::fprintf(stderr, "%s: %s: draining (up to %s)\n", kProgram,
                 signal_number == SIGINT ? "SIGINT" : "SIGTERM",
                 absl::FormatDuration(options.drain_timeout).c_str());
  }
  server.Shutdown();
  absl::Status run = server.Wait();
  metrics_endpoint.reset();  // no scrape after the summary
  double uptime = (MonotonicNanos() - start_ns) / 1e9;
  StatsSnapshot total = server.Stats();
  std::fprintf(stderr, "%s summary: backend=%s threads=%d uptime %.1fs\n%s", kProgram,
               std::string(loop::BackendName(server.backend())).c_str(), server.threads(), uptime,
               SummaryText(total).c_str());
  if (options.json) {
    nlohmann::json j = SummaryJson(total);
    j["event"] = "summary";
    j["version"] = std::string(Version());
    j["config"] = ConfigJson(server);
    j["machine"] = MachineInfoToJson(machine);
    j["uptime_s"] = uptime;
    std::printf("%s\n", j.dump().c_str());
    std::fflush(stdout);
  }
  if (!run.ok()) {
    return cli::ReportFailure(kProgram, run) == 2 ? 2 : 1;
  }
  return 0;
}

}  // namespace
}  // namespace socklab::server

int main(int argc, char** argv) { return socklab::server::Main(argc, argv); }

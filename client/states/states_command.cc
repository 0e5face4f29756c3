#include "client/states/states_command.h"

#include <cstdio>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "client/states/states_options.h"
#include "client/states/states_runner.h"
#include "core/base/status.h"
#include "core/base/units.h"
#include "core/tcpstat/filter.h"
#include "core/tcpstat/tcp_state.h"

namespace socklab::client {
namespace {

absl::StatusOr<StatesFormat> ParseFormat(absl::string_view text) {
  if (text == "table") {
    return StatesFormat::kTable;
  }
  if (text == "csv") {
    return StatesFormat::kCsv;
  }
  if (text == "json") {
    return StatesFormat::kJson;
  }
  if (text == "prometheus") {
    return StatesFormat::kPrometheus;
  }
  return UsageError(absl::StrCat("unknown format '", text, "'"),
                    "use table, csv, json or prometheus");
}

absl::StatusOr<tcpstat::Source> ParseSource(absl::string_view text) {
  std::optional<tcpstat::Source> source = tcpstat::ParseSourceName(text);
  if (!source.has_value()) {
    return UsageError(absl::StrCat("unknown source '", text, "'"), "use proc or netlink");
  }
  return *source;
}

absl::StatusOr<uint16_t> ParsePortFlag(absl::string_view text) {
  absl::StatusOr<uint64_t> value = ParseCount(text);
  if (!value.ok() || *value == 0 || *value > 65535) {
    return UsageError(absl::StrCat("bad port '", text, "'"), "give a port from 1 to 65535");
  }
  return static_cast<uint16_t>(*value);
}

}  // namespace

cli::Command AddStatesCommand(CLI::App& app) {
  CLI::App* sub = app.add_subcommand(
      "states",
      "Tally TCP connection states (from /proc/net/tcp{,6} or netlink sock_diag): a one-shot "
      "table, a time series, a socket list or a live view");
  auto options = std::make_shared<StatesOptions>();
  StatesOptions* o = options.get();

  cli::AddParsedFlag<uint16_t>(*sub, "-p,--port", "Sockets with this local or remote port", "PORT",
                               ParsePortFlag, [o](uint16_t port) { o->filter.port = port; });
  cli::AddParsedFlag<tcpstat::Endpoint>(
      *sub, "--local", "Local address and/or port: 127.0.0.1, 127.0.0.1:7007, [::1]:7007, *:7007",
      "ADDR[:PORT]", tcpstat::Endpoint::Parse,
      [o](tcpstat::Endpoint endpoint) { o->filter.local = endpoint; });
  cli::AddParsedFlag<tcpstat::Endpoint>(
      *sub, "--remote", "Remote (peer) address and/or port, same forms as --local", "ADDR[:PORT]",
      tcpstat::Endpoint::Parse, [o](tcpstat::Endpoint endpoint) { o->filter.remote = endpoint; });
  cli::AddParsedFlag<tcpstat::TcpStateSet>(
      *sub, "-s,--state",
      "Only these states, comma separated: established,time_wait,close_wait,listen,... or all",
      "NAME[,NAME]", tcpstat::ParseTcpStateSet,
      [o](tcpstat::TcpStateSet states) { o->filter.states = states; });
  CLI::Option* v4 = sub->add_flag_callback(
      "-4,--ipv4", [o] { o->filter.family = AF_INET; }, "IPv4 sockets only");
  CLI::Option* v6 = sub->add_flag_callback(
      "-6,--ipv6", [o] { o->filter.family = AF_INET6; },
      "IPv6 sockets only (including IPv4-mapped ones on dual-stack sockets)");
  v4->excludes(v6);
  cli::AddDurationFlag(*sub, "-i,--interval", &o->interval,
                       "Sample every DURATION (500ms, 1s, 1m) until --count or Ctrl-C");
  cli::AddCountFlag(*sub, "-n,--count", &o->count,
                    "Number of samples (every 1s unless --interval says otherwise)");
  CLI::Option* watch =
      sub->add_flag("-w,--watch", o->watch, "Live full-screen view (a terminal only); q quits");
  CLI::Option* list =
      sub->add_flag("-l,--list", o->list, "One line per socket, like ss -tan, with timers");
  watch->excludes(list);
  CLI::Option* format = cli::AddParsedFlag<StatesFormat>(
      *sub, "-f,--format",
      "Output: table (default), csv, json (JSON lines, one per sample) or prometheus",
      "table|csv|json|prometheus", ParseFormat, [o](StatesFormat f) { o->format = f; });
  CLI::Option* json = sub->add_flag_callback(
      "--json", [o] { o->format = StatesFormat::kJson; }, "Same as --format json");
  json->excludes(format);
  CLI::Option* prometheus = sub->add_flag_callback(
      "--prometheus", [o] { o->format = StatesFormat::kPrometheus; },
      "One scrape of the tally in the Prometheus text format "
      "(socklab_tcp_connection_states{state=...}); same as --format prometheus");
  prometheus->excludes(format);
  prometheus->excludes(json);
  sub->add_flag("-v,--verbose", o->verbose,
                "Print the cost of each sample on stderr (ms, sockets read)");
  cli::AddParsedFlag<tcpstat::Source>(
      *sub, "--source", "Where to read: proc (default, /proc/net/tcp{,6}) or netlink (sock_diag)",
      "proc|netlink", ParseSource, [o](tcpstat::Source s) { o->source = s; });

  return {sub, [options] { return RunStates(*options, stdout, stderr); }};
}

}  // namespace socklab::client

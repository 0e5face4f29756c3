#pragma once

#include <string>

#include "absl/time/time.h"
#include "client/states/states_options.h"
#include "core/tcpstat/reader.h"
#include "core/tcpstat/tally.h"
#include "nlohmann/json.hpp"

namespace socklab::client {

// One sample of the socket tables: when, what matched, the counts.
struct StatesSample {
  absl::Time time;
  tcpstat::TcpSnapshot snapshot;
  tcpstat::StateTally tally;
};

// Renderers for `socklab states`: pure functions from samples to text, so tests can check the
// exact output. Thread affinity: none.

// "2026-11-23T20:01:02.345Z".
std::string FormatTimestamp(absl::Time time);
// A timer's remaining time as people read it: "200ms", "42.5s", "1m02s".
std::string FormatTimerMs(int64_t ms);
// The timer column of --list: "timewait 42.5s", "on 200ms retrans 2", "" for none.
std::string DescribeTimer(const tcpstat::TcpSocket& socket);

// The LISTEN sockets' accept queues: "accept queue 2 of 511 max" for one listener; with several
// (an SO_REUSEPORT group, or IPv4 and IPv6 listeners of one port: each has its own queue and
// maximum) the sums and how many: "accept queues 1 of 8192 max, summed over 2 listeners". The
// maximum is left out when the source had none. "" without listeners.
std::string DescribeAcceptQueues(const tcpstat::StateTally& tally);

// One-shot table: a line naming the filter and source, then STATE / COUNT rows for the states
// present, the listeners' accept queues (DescribeAcceptQueues) and the total.
std::string RenderTallyTable(const StatesSample& sample, const StatesOptions& options);

// Series (-i/--count) in table or CSV form: a header, then one row per sample with every state.
// CSV ends with listeners,listen_queue,listen_backlog: the LISTEN sockets counted and the sums
// of their accept queues and maximums, as in JSON.
std::string RenderSeriesHeader(StatesFormat format);
std::string RenderSeriesRow(const StatesSample& sample, StatesFormat format);

// --prometheus: the tally as one scrape in the Prometheus text format:
// socklab_tcp_connection_states{state="established"} ... (every reported state, node_exporter's
// names), socklab_tcp_sockets (all that matched), and with listeners the accept queues'
// socklab_tcp_listen_queue and socklab_tcp_listen_backlog. The HELP line names the filter.
std::string RenderPrometheus(const StatesSample& sample, const StatesOptions& options);

// --list: the matching sockets, one per line, like `ss -tan` (table) or CSV rows.
std::string RenderSocketList(const StatesSample& sample, StatesFormat format, bool with_header);

// --format json: one object per sample (one line of JSON lines), sockets included with --list;
// "listeners", "listen_queue" and "listen_backlog" as in the CSV series.
nlohmann::json SampleToJson(const StatesSample& sample, const StatesOptions& options);
nlohmann::json SocketToJson(const tcpstat::TcpSocket& socket);

// --verbose: "sample 1.23 ms (read 1.01 ms, parse 0.22 ms), 10004 sockets read, 12 matched,
// 1.4 MiB, source proc".
std::string RenderSamplingCost(const StatesSample& sample, tcpstat::Source source);

}  // namespace socklab::client

#include "client/states/states_output.h"

#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "core/base/units.h"
#include "core/metrics/exposition.h"
#include "core/metrics/standard_metrics.h"

namespace socklab::client {
namespace {

using tcpstat::StateTally;
using tcpstat::TcpSocket;
using tcpstat::TcpState;
using tcpstat::TcpStateName;

// CSV fields here never hold commas or quotes (addresses use [] for IPv6), so no quoting.
std::string CsvSocketRow(const StatesSample& sample, const TcpSocket& socket) {
  return absl::StrCat(FormatTimestamp(sample.time), ",", TcpStateName(socket.state), ",",
                      socket.local.ToString(), ",", socket.remote.ToString(), ",", socket.rx_queue,
                      ",", socket.tx_queue, ",",
                      socket.accept_backlog.has_value() ? absl::StrCat(*socket.accept_backlog) : "",
                      ",", tcpstat::TcpTimerName(socket.timer), ",", socket.timer_ms, ",",
                      socket.retransmits, ",", socket.uid, ",", socket.inode, "\n");
}

std::string PadRight(absl::string_view text, size_t width) {
  std::string out(text);
  if (out.size() < width) {
    out.append(width - out.size(), ' ');
  }
  return out;
}

std::string PadLeft(absl::string_view text, size_t width) {
  std::string out;
  if (text.size() < width) {
    out.append(width - text.size(), ' ');
  }
  absl::StrAppend(&out, text);
  return out;
}

}  // namespace

std::string FormatTimestamp(absl::Time time) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", time, absl::UTCTimeZone());
}

std::string FormatTimerMs(int64_t ms) {
  if (ms < 1000) {
    return absl::StrCat(ms, "ms");
  }
  if (ms < 60'000) {
    return absl::StrFormat("%.1fs", static_cast<double>(ms) / 1000.0);
  }
  int64_t seconds = ms / 1000;
  return absl::StrFormat("%dm%02ds", seconds / 60, seconds % 60);
}

std::string DescribeTimer(const TcpSocket& socket) {
  if (socket.timer == tcpstat::TcpTimer::kNone) {
    return "";
  }
  std::string out =
      absl::StrCat(tcpstat::TcpTimerName(socket.timer), " ", FormatTimerMs(socket.timer_ms));
  if (socket.retransmits != 0) {
    absl::StrAppend(&out, " retrans ", socket.retransmits);
  }
  return out;
}

std::string DescribeAcceptQueues(const StateTally& tally) {
  uint32_t listeners = tally.Count(TcpState::kListen);
  if (listeners == 0) {
    return "";
  }
  std::string out =
      absl::StrCat(listeners == 1 ? "accept queue " : "accept queues ", tally.listen_queue);
  if (tally.listen_backlog != 0) {
    absl::StrAppend(&out, " of ", tally.listen_backlog, " max");
  }
  if (listeners > 1) {
    absl::StrAppend(&out, ", summed over ", listeners, " listeners");
  }
  return out;
}

std::string RenderPrometheus(const StatesSample& sample, const StatesOptions& options) {
  const StateTally& tally = sample.tally;
  const std::string what = absl::StrCat("TCP sockets matching ", options.filter.ToString(),
                                        " (source ", tcpstat::SourceName(options.source), ")");
  metrics::Exposition out;
  metrics::AppendConnectionStates(&out, "socklab_tcp_connection_states",
                                  absl::StrCat(what, ", by state."), tally);
  out.Begin("socklab_tcp_sockets", metrics::MetricType::kGauge, absl::StrCat(what, "."));
  out.Sample(static_cast<uint64_t>(tally.total));
  if (tally.Count(TcpState::kListen) > 0) {
    out.Begin("socklab_tcp_listen_queue", metrics::MetricType::kGauge,
              "Connections waiting in the matching listeners' accept queues (summed).");
    out.Sample(tally.listen_queue);
    out.Begin("socklab_tcp_listen_backlog", metrics::MetricType::kGauge,
              "The matching listeners' accept queue maximums (summed; 0 where the source has "
              "none).");
    out.Sample(tally.listen_backlog);
  }
  return out.text();
}

std::string RenderTallyTable(const StatesSample& sample, const StatesOptions& options) {
  const StateTally& tally = sample.tally;
  std::string out =
      absl::StrCat("TCP sockets: ", options.filter.ToString(), " (source ",
                   tcpstat::SourceName(options.source), ", ", FormatTimestamp(sample.time), ")\n");
  if (tally.total == 0) {
    absl::StrAppend(&out, "no matching sockets\n");
    return out;
  }
  absl::StrAppend(&out, absl::StrFormat("%-12s %8s\n", "STATE", "COUNT"));
  for (TcpState state : tcpstat::kReportedTcpStates) {
    uint32_t count = tally.Count(state);
    if (count == 0) {
      continue;
    }
    absl::StrAppend(&out, absl::StrFormat("%-12s %8u", TcpStateName(state), count));
    if (state == TcpState::kListen) {
      absl::StrAppend(&out, "   ", DescribeAcceptQueues(tally));
    }
    absl::StrAppend(&out, "\n");
  }
  absl::StrAppend(&out, absl::StrFormat("%-12s %8u\n", "total", tally.total));
  return out;
}

std::string RenderSeriesHeader(StatesFormat format) {
  std::string out;
  if (format == StatesFormat::kCsv) {
    out = "time,total";
    for (TcpState state : tcpstat::kReportedTcpStates) {
      absl::StrAppend(&out, ",", TcpStateName(state));
    }
    absl::StrAppend(&out, ",listeners,listen_queue,listen_backlog\n");
    return out;
  }
  out = absl::StrFormat("%-12s %7s", "TIME", "TOTAL");
  for (TcpState state : tcpstat::kReportedTcpStates) {
    absl::StrAppend(&out, " ",
                    PadLeft(TcpStateName(state), std::max<size_t>(TcpStateName(state).size(), 6)));
  }
  absl::StrAppend(&out, "\n");
  return out;
}

std::string RenderSeriesRow(const StatesSample& sample, StatesFormat format) {
  const StateTally& tally = sample.tally;
  std::string out;
  if (format == StatesFormat::kCsv) {
    out = absl::StrCat(FormatTimestamp(sample.time), ",", tally.total);
    for (TcpState state : tcpstat::kReportedTcpStates) {
      absl::StrAppend(&out, ",", tally.Count(state));
    }
    absl::StrAppend(&out, ",", tally.Count(TcpState::kListen), ",", tally.listen_queue, ",",
                    tally.listen_backlog, "\n");
    return out;
  }
  out = absl::StrFormat(
      "%-12s %7u", absl::FormatTime("%H:%M:%E3S", sample.time, absl::UTCTimeZone()), tally.total);
  for (TcpState state : tcpstat::kReportedTcpStates) {
    absl::StrAppend(
        &out, " ",
        PadLeft(absl::StrCat(tally.Count(state)), std::max<size_t>(TcpStateName(state).size(), 6)));
  }
  absl::StrAppend(&out, "\n");
  return out;
}

std::string RenderSocketList(const StatesSample& sample, StatesFormat format, bool with_header) {
  const std::vector<TcpSocket>& sockets = sample.snapshot.sockets;
  std::string out;
  if (format == StatesFormat::kCsv) {
    if (with_header) {
      out = "time,state,local,remote,recv_q,send_q,backlog,timer,timer_ms,retransmits,uid,inode\n";
    }
    for (const TcpSocket& socket : sockets) {
      absl::StrAppend(&out, CsvSocketRow(sample, socket));
    }
    return out;
  }
  // Like `ss -tan`: for LISTEN, Recv-Q is the accept queue and Send-Q its maximum.
  struct Row {
    std::string state, recv_q, send_q, local, remote, timer;
  };
  std::vector<Row> rows;
  rows.reserve(sockets.size() + 1);
  rows.push_back({"State", "Recv-Q", "Send-Q", "Local Address:Port", "Peer Address:Port", "Timer"});
  for (const TcpSocket& socket : sockets) {
    std::string send_q = absl::StrCat(socket.tx_queue);
    if (socket.is_listen()) {
      send_q = socket.accept_backlog.has_value() ? absl::StrCat(*socket.accept_backlog) : "-";
    }
    std::string remote = socket.remote.ToString();
    if (socket.is_listen() && socket.remote.port() == 0) {
      remote = absl::StrCat(socket.remote.is_v6() ? "[" : "", socket.remote.HostString(),
                            socket.remote.is_v6() ? "]" : "", ":*");
    }
    rows.push_back({std::string(TcpStateName(socket.state)), absl::StrCat(socket.rx_queue), send_q,
                    socket.local.ToString(), remote, DescribeTimer(socket)});
  }
  size_t widths[5] = {};
  for (const Row& row : rows) {
    widths[0] = std::max(widths[0], row.state.size());
    widths[1] = std::max(widths[1], row.recv_q.size());
    widths[2] = std::max(widths[2], row.send_q.size());
    widths[3] = std::max(widths[3], row.local.size());
    widths[4] = std::max(widths[4], row.remote.size());
  }
  for (size_t i = with_header ? 0 : 1; i < rows.size(); ++i) {
    const Row& row = rows[i];
    std::string line =
        absl::StrCat(PadRight(row.state, widths[0]), " ", PadLeft(row.recv_q, widths[1]), " ",
                     PadLeft(row.send_q, widths[2]), "  ", PadRight(row.local, widths[3]), "  ",
                     PadRight(row.remote, widths[4]), "  ", row.timer);
    while (!line.empty() && line.back() == ' ') {
      line.pop_back();
    }
    absl::StrAppend(&out, line, "\n");
  }
  return out;
}

nlohmann::json SocketToJson(const TcpSocket& socket) {
  nlohmann::json out = {
      {"state", std::string(TcpStateName(socket.state))},
      {"family", socket.family == AF_INET6 ? "ipv6" : "ipv4"},
      {"local", socket.local.ToString()},
      {"remote", socket.remote.ToString()},
      {"recv_q", socket.rx_queue},
      {"send_q", socket.tx_queue},
      {"timer", std::string(tcpstat::TcpTimerName(socket.timer))},
      {"timer_ms", socket.timer_ms},
      {"retransmits", socket.retransmits},
      {"uid", socket.uid},
      {"inode", socket.inode},
  };
  if (socket.accept_backlog.has_value()) {
    out["backlog"] = *socket.accept_backlog;
  }
  return out;
}

nlohmann::json SampleToJson(const StatesSample& sample, const StatesOptions& options) {
  nlohmann::json out = {
      {"time", FormatTimestamp(sample.time)},
      {"unix_ms", absl::ToUnixMillis(sample.time)},
      {"source", std::string(tcpstat::SourceName(options.source))},
      {"filter", options.filter.ToString()},
      {"states", tcpstat::TallyToJson(sample.tally)},
      {"total", sample.tally.total},
      {"listeners", sample.tally.Count(TcpState::kListen)},
      {"listen_queue", sample.tally.listen_queue},
      {"listen_backlog", sample.tally.listen_backlog},
      {"sample_ms", static_cast<double>(sample.snapshot.total_nanos()) / 1e6},
      {"sockets_read", sample.snapshot.sockets_read},
  };
  if (options.list) {
    nlohmann::json sockets = nlohmann::json::array();
    for (const TcpSocket& socket : sample.snapshot.sockets) {
      sockets.push_back(SocketToJson(socket));
    }
    out["sockets"] = std::move(sockets);
  }
  return out;
}

std::string RenderSamplingCost(const StatesSample& sample, tcpstat::Source source) {
  const tcpstat::TcpSnapshot& snapshot = sample.snapshot;
  std::string out = absl::StrFormat(
      "sample %.3f ms (read %.3f ms, parse %.3f ms), %u sockets read, %u matched, %s, source %s",
      static_cast<double>(snapshot.total_nanos()) / 1e6,
      static_cast<double>(snapshot.read_nanos) / 1e6,
      static_cast<double>(snapshot.parse_nanos) / 1e6, snapshot.sockets_read, snapshot.tally.total,
      FormatBytes(static_cast<double>(snapshot.bytes_read)), tcpstat::SourceName(source));
  if (snapshot.skipped_lines != 0) {
    absl::StrAppend(&out, ", ", snapshot.skipped_lines, " malformed lines skipped");
  }
  return out;
}

}  // namespace socklab::client

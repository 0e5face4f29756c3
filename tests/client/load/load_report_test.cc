#include "client/load/load_report.h"

#include <errno.h>

#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace socklab::client {
namespace {

LoadResult SampleResult() {
  LoadResult r;
  r.config.target = "127.0.0.1:7007";
  r.config.backend = "epoll";
  r.config.backend_requested = "auto";
  r.config.backend_fallback_reason = "io_uring disabled";
  r.config.connections = 4;
  r.config.threads = 2;
  r.config.rate = 1000;
  r.config.close_mode = "fin";
  r.config.size_min = r.config.size_max = 64;
  r.config.duration_s = 2;
  r.elapsed_s = 2;
  r.messages_sent = r.messages_completed = 2000;
  r.bytes_sent = r.bytes_received = 128000;
  for (int i = 1; i <= 2000; ++i) {
    r.rtt.Record(i * 1000);
    r.rtt_uncorrected.Record(i * 500);
  }
  r.start_ns = 1'000'000'000;
  r.errors.RecordErrno(Phase::kRead, ECONNRESET, 1'500'000'000);
  r.hints.push_back("a hint");
  r.kernel_counters_available = true;
  r.kernel.push_back({"Tcp.OutRsts", 3});
  LoadSecond second;
  second.t_s = 1;
  second.messages = 1000;
  second.states = {{"ESTABLISHED", 4}};
  r.series.push_back(second);
  return r;
}

TEST(LoadReportTest, TextStatesConfigurationAndSummary) {
  const LoadResult r = SampleResult();
  const std::string config = LoadConfigToText(r.config);
  EXPECT_NE(config.find("target      127.0.0.1:7007"), std::string::npos) << config;
  EXPECT_NE(config.find("auto fell back: io_uring disabled"), std::string::npos) << config;
  EXPECT_NE(config.find("open loop at 1000 msg/s"), std::string::npos) << config;
  const std::string summary = LoadSummaryToText(r);
  EXPECT_NE(summary.find("2000 completed (1000 msg/s)"), std::string::npos) << summary;
  EXPECT_NE(summary.find("uncorrected"), std::string::npos) << summary;
  EXPECT_NE(summary.find("read     ECONNRESET"), std::string::npos) << summary;
  EXPECT_NE(summary.find("first at 0.500s"), std::string::npos) << summary;
  EXPECT_NE(summary.find("Tcp.OutRsts +3"), std::string::npos) << summary;
}

// --csv: the JSON series' fields, one row per second, the variable columns (error cells, states)
// from every second, an unknown state (a failed sample) empty rather than 0.
TEST(LoadReportTest, CsvHasTheJsonSeriesFieldsPerSecond) {
  LoadResult r = SampleResult();
  r.series[0].bytes_sent = 64000;
  r.series[0].p99_ns = 123456;
  LoadSecond second;
  second.t_s = 2;
  second.messages = 900;
  second.errors = 3;
  second.errors_by_class = {{"read ECONNRESET", 2}, {"connect ECONNREFUSED", 1}};
  second.states_error = "netlink: EPERM";
  r.series.push_back(second);
  const std::string csv = LoadSeriesToCsv(r);
  std::vector<std::string> rows = absl::StrSplit(csv, '\n', absl::SkipEmpty());
  ASSERT_EQ(rows.size(), 3u) << csv;
  const std::vector<std::string> header = absl::StrSplit(rows[0], ',');
  // Every scalar field of the JSON series is a column, under the same name, but the encoded
  // histograms (kilobytes of base64 each, for socklab merge).
  const nlohmann::json series = LoadResultToJson(r)["series"];
  for (const auto& [key, value] : series[0].items()) {
    if (value.is_primitive() && key != "rtt_histogram" && key != "connect_histogram") {
      EXPECT_NE(std::find(header.begin(), header.end(), key), header.end()) << key;
    }
  }
  EXPECT_EQ(header.back(), "states_ESTABLISHED");
  EXPECT_NE(std::find(header.begin(), header.end(), "errors_read_ECONNRESET"), header.end());
  EXPECT_NE(std::find(header.begin(), header.end(), "errors_connect_ECONNREFUSED"), header.end());
  for (size_t i = 1; i < rows.size(); ++i) {
    const std::vector<std::string> cells = absl::StrSplit(rows[i], ',');
    ASSERT_EQ(cells.size(), header.size()) << rows[i];
    auto cell = [&](const std::string& name) {
      return cells[std::find(header.begin(), header.end(), name) - header.begin()];
    };
    EXPECT_EQ(cell("messages"), std::to_string(series[i - 1]["messages"].get<uint64_t>()));
    EXPECT_EQ(cell("p99_ns"), std::to_string(series[i - 1]["p99_ns"].get<int64_t>()));
    EXPECT_EQ(cell("bytes_sent"), std::to_string(series[i - 1]["bytes_sent"].get<uint64_t>()));
  }
  EXPECT_EQ(absl::StrSplit(rows[1], ',').begin()->size(), 5u);  // "1.000"
  const std::vector<std::string> last = absl::StrSplit(rows[2], ',');
  EXPECT_EQ(last.back(), "");  // the failed sample: unknown
  EXPECT_EQ(
      last[std::find(header.begin(), header.end(), "errors_read_ECONNRESET") - header.begin()],
      "2");
}

TEST(LoadReportTest, MinRateRatioIsCheckedInTextAndJson) {
  LoadResult r = SampleResult();
  r.messages_scheduled = 2000;
  r.messages_sent = 1500;  // 75% of the schedule
  r.config.min_rate_ratio = 0.9;
  EXPECT_TRUE(MinRateRatioMissed(r));
  std::string summary = LoadSummaryToText(r);
  EXPECT_NE(summary.find("rate check  FAILED: 75.0% of the schedule sent, below --min-rate-ratio "
                         "0.9 (exit 3)"),
            std::string::npos)
      << summary;
  nlohmann::json j = LoadResultToJson(r);
  EXPECT_EQ(j["open_loop"]["min_rate_ratio"], 0.9);
  EXPECT_EQ(j["config"]["min_rate_ratio"], 0.9);
  EXPECT_EQ(j["open_loop"]["min_rate_ratio_met"], false);
  r.config.min_rate_ratio = 0.75;  // exactly met
  EXPECT_FALSE(MinRateRatioMissed(r));
  summary = LoadSummaryToText(r);
  EXPECT_NE(summary.find("rate check  passed: 75.0%"), std::string::npos) << summary;
  EXPECT_EQ(LoadResultToJson(r)["open_loop"]["min_rate_ratio_met"], true);
  r.config.min_rate_ratio = 0;  // not asked: no line, null in JSON
  EXPECT_EQ(LoadSummaryToText(r).find("rate check"), std::string::npos);
  EXPECT_TRUE(LoadResultToJson(r)["open_loop"]["min_rate_ratio"].is_null());
}

// A churn run's connection rate and connect latency come first, before the messages.
TEST(LoadReportTest, ChurnRunsLeadWithConnectionsPerSecond) {
  LoadResult r = SampleResult();
  r.config.churn = 1;
  r.connections_opened = 500;
  for (int i = 1; i <= 500; ++i) {
    r.connect.Record(i * 100);
  }
  const std::string summary = LoadSummaryToText(r);
  const size_t churn = summary.find(
      "churn       250 connections/s (500 opened in the window, a "
      "new one every 1 messages); connect p50 25us");
  ASSERT_NE(churn, std::string::npos) << summary;
  EXPECT_LT(churn, summary.find("messages    ")) << summary;
  const nlohmann::json j = LoadResultToJson(r);
  EXPECT_EQ(j["churn"]["connections_per_s"], 250);
  EXPECT_EQ(j["churn"]["connect_p50_ns"], r.connect.ValueAtPercentile(50));
  EXPECT_EQ(j["connections"]["opened_per_s"], 250);
  r.config.churn = 0;
  EXPECT_EQ(LoadSummaryToText(r).find("churn       "), std::string::npos);
  EXPECT_TRUE(LoadResultToJson(r)["churn"].is_null());
}

// Rates below 1/s, and connect rates, are shown as given (%.0f once showed -R 0.5 as 0).
TEST(LoadReportTest, FractionalRatesAreShownAsGiven) {
  LoadConfig c = SampleResult().config;
  c.rate = 0.5;
  c.connect_rate = 2.5;
  const std::string config = LoadConfigToText(c);
  EXPECT_NE(config.find("open loop at 0.5 msg/s"), std::string::npos) << config;
  EXPECT_NE(config.find("at most 2.5 connects/s"), std::string::npos) << config;
}

// Thousands of connections per thread, unpaced, start together: the connect line says its
// latency includes the burst's queueing, and what paces it.
TEST(LoadReportTest, ConnectLatencyOfALargeUnpacedStartIsLabelled) {
  LoadResult r = SampleResult();
  r.connect.Record(50'000);
  EXPECT_EQ(LoadSummaryToText(r).find("start together"), std::string::npos);
  r.config.connections = 2000;
  r.config.threads = 1;
  EXPECT_NE(LoadSummaryToText(r).find("(2000 connections per thread start together: their connect "
                                      "latency includes the burst's queueing, in the target's "
                                      "accept queue and in this client's loop; --connect-rate "
                                      "paces it)"),
            std::string::npos)
      << LoadSummaryToText(r);
  r.config.connect_rate = 500;
  EXPECT_EQ(LoadSummaryToText(r).find("start together"), std::string::npos);
}

TEST(LoadReportTest, JsonHasEveryDocumentedField) {
  const nlohmann::json j = LoadResultToJson(SampleResult());
  for (const char* key :
       {"config", "machine", "elapsed_s", "messages", "bytes", "throughput", "connections",
        "latency_ns", "latency_uncorrected_ns", "connect_latency_ns", "errors", "kernel", "series",
        "aborted", "abort_reason"}) {
    EXPECT_TRUE(j.contains(key)) << key;
  }
  EXPECT_EQ(j["config"]["mode"], "open");
  EXPECT_EQ(j["messages"]["completed"], 2000);
  EXPECT_EQ(j["latency_ns"]["p50"],
            Histogram::HighestValueOfBucket(Histogram::BucketIndexOf(1000 * 1000)));
  EXPECT_EQ(j["errors"]["by_class"][0]["errno"], "ECONNRESET");
  EXPECT_DOUBLE_EQ(j["errors"]["by_class"][0]["first_seen_s"].get<double>(), 0.5);
  EXPECT_EQ(j["kernel"]["Tcp.OutRsts"], 3);
  EXPECT_EQ(j["series"][0]["states"]["ESTABLISHED"], 4);
}

// The text names the errno first seen in each cell, as the JSON does: ENFILE is in the no_fds
// class (whose canonical errno is EMFILE) and EPROTO in 'other', but each is shown by its name.
TEST(LoadReportTest, TextNamesTheErrnoSeenNotTheClass) {
  LoadResult r = SampleResult();
  r.errors.RecordErrno(Phase::kSocket, ENFILE, 1'100'000'000);
  r.errors.RecordErrno(Phase::kRead, EPROTO, 1'200'000'000);
  r.errors.RecordErrno(Phase::kConnect, ENETUNREACH, 1'300'000'000);
  const std::string summary = LoadSummaryToText(r);
  EXPECT_NE(summary.find("socket   ENFILE "), std::string::npos) << summary;
  EXPECT_NE(summary.find("read     EPROTO "), std::string::npos) << summary;
  EXPECT_NE(summary.find("connect  ENETUNREACH "), std::string::npos) << summary;
  EXPECT_EQ(summary.find("EMFILE"), std::string::npos) << summary;
  EXPECT_EQ(summary.find("EHOSTUNREACH"), std::string::npos) << summary;
  EXPECT_EQ(summary.find(" other "), std::string::npos) << summary;
  const nlohmann::json j = LoadResultToJson(r);
  std::vector<std::string> names;
  for (const nlohmann::json& cell : j["errors"]["by_class"]) {
    names.push_back(cell["errno"]);
  }
  EXPECT_EQ(names, (std::vector<std::string>{"ENFILE", "ENETUNREACH", "ECONNRESET", "EPROTO"}));
}

TEST(LoadReportTest, DataAndWarmupErrorsAreReported) {
  LoadResult r = SampleResult();
  r.data_errors = 7;
  r.warmup_errors.RecordErrno(Phase::kConnect, ECONNREFUSED, 1'010'000'000);
  const std::string summary = LoadSummaryToText(r);
  EXPECT_NE(summary.find("errors      8\n"), std::string::npos) << summary;  // 1 socket + 7 data
  EXPECT_NE(summary.find("  data     mismatch                7\n"), std::string::npos) << summary;
  EXPECT_NE(summary.find("warmup      1 errors during the warmup (not counted above)\n"
                         "  connect  ECONNREFUSED            1  first at 0.010s\n"),
            std::string::npos)
      << summary;
  // The JSON counts what the text counts: the data mismatches are errors with a cell of their
  // own.
  const nlohmann::json j = LoadResultToJson(r);
  EXPECT_EQ(j["errors"]["total"], 8);
  EXPECT_EQ(j["errors"]["data_errors"], 7);
  ASSERT_EQ(j["errors"]["by_class"].size(), 2u) << j["errors"];
  EXPECT_EQ(j["errors"]["by_class"][1]["phase"], "data");
  EXPECT_EQ(j["errors"]["by_class"][1]["class"], "mismatch");
  EXPECT_EQ(j["errors"]["by_class"][1]["count"], 7);
  EXPECT_EQ(j["errors"]["warmup_total"], 1);
  EXPECT_EQ(j["errors"]["warmup_by_class"][0]["errno"], "ECONNREFUSED");
  EXPECT_EQ(j["messages"]["data_errors"], 7);
}

TEST(LoadReportTest, InFlightAtEndAndWarmupConnectsAreReportedApart) {
  LoadResult r = SampleResult();
  r.messages_sent = 2003;
  r.messages_in_flight_at_end = 3;
  r.warmup_connections_opened = 4;
  r.warmup_connect_attempts = 5;
  r.config.rate = 0;
  const std::string summary = LoadSummaryToText(r);
  EXPECT_NE(summary.find("2003 sent, 0 failed, 0 data errors, in flight at end: 3\n"),
            std::string::npos)
      << summary;
  EXPECT_NE(summary.find("connections 0 opened (0 attempts), peak 0 open; during the warmup 4 "
                         "opened (5 attempts)\n"),
            std::string::npos)
      << summary;
  EXPECT_NE(summary.find("connect       none in the measured window (4 opened during the "
                         "warmup)\n"),
            std::string::npos)
      << summary;
  const nlohmann::json j = LoadResultToJson(r);
  EXPECT_EQ(j["messages"]["in_flight_at_end"], 3);
  EXPECT_EQ(j["connections"]["warmup_opened"], 4);
  EXPECT_EQ(j["connections"]["warmup_attempts"], 5);
}

TEST(LoadReportTest, StatesTableHasEveryStateSeenAndMarksFailedSamples) {
  LoadResult r = SampleResult();
  EXPECT_EQ(LoadStatesToText(LoadResult()), "");
  r.series.clear();
  LoadSecond a;
  a.t_s = 1;
  a.warmup = true;
  a.messages = 500;
  a.states = {{"ESTABLISHED", 6}, {"TIME_WAIT", 0}, {"LISTEN", 1}};
  LoadSecond b;
  b.t_s = 2;
  b.messages = 1000;
  b.errors = 2;
  b.states_error = "open /proc/net/tcp: Permission denied (EACCES)";
  LoadSecond c;
  c.t_s = 2.5;
  c.interval_s = 0.5;
  c.messages = 100;
  c.states = {{"ESTABLISHED", 0}, {"TIME_WAIT", 12}, {"LISTEN", 1}};
  r.series = {a, b, c};
  const std::string table = LoadStatesToText(r);
  EXPECT_NE(table.find("         t      msg/s  errors  ESTABLISHED  LISTEN  TIME_WAIT\n"),
            std::string::npos)
      << table;
  EXPECT_NE(table.find("      1.0s*        500       0            6       1          0\n"),
            std::string::npos)
      << table;
  EXPECT_NE(table.find("      2.0s        1000       2          n/a     n/a        n/a\n"),
            std::string::npos)
      << table;
  EXPECT_NE(table.find("      2.5s         200       0            0       1         12\n"),
            std::string::npos)
      << table;
  EXPECT_NE(table.find("  at the end: TIME_WAIT 12, LISTEN 1\n"), std::string::npos) << table;

  // A failed last sample is unavailable, never "no sockets".
  r.series = {a, b};
  const std::string failed = LoadStatesToText(r);
  EXPECT_NE(failed.find("at the end: unavailable (open /proc/net/tcp"), std::string::npos)
      << failed;
  EXPECT_EQ(failed.find("no sockets"), std::string::npos) << failed;
  EXPECT_NE(LoadProgressLine(b).find("states n/a"), std::string::npos) << LoadProgressLine(b);
  EXPECT_NE(LoadProgressLine(a).find("ESTABLISHED 6 LISTEN 1"), std::string::npos)
      << LoadProgressLine(a);

  const nlohmann::json j = LoadResultToJson(r);
  EXPECT_TRUE(j["series"][1]["states"].is_null());
  EXPECT_EQ(j["series"][1]["states_error"], b.states_error);
  EXPECT_EQ(j["series"][0]["states"]["ESTABLISHED"], 6);
}

TEST(LoadReportTest, FormatLatencyPicksAUnit) {
  EXPECT_EQ(FormatLatency(850), "850ns");
  EXPECT_EQ(FormatLatency(120'000), "120us");
  EXPECT_EQ(FormatLatency(1'250'000), "1.25ms");
  EXPECT_EQ(FormatLatency(2'500'000'000), "2.50s");
}

}  // namespace
}  // namespace socklab::client

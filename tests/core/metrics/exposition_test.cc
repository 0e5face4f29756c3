#include "core/metrics/exposition.h"

#include <cmath>

#include "absl/strings/match.h"
#include "core/metrics/standard_metrics.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/prometheus_text.h"

namespace socklab::metrics {
namespace {

using ::socklab::testing::ParsePrometheusText;
using ::socklab::testing::PromScrape;
using ::socklab::testing::PromtoolComplaint;
using ::socklab::testing::PromtoolInstalled;
using ::testing::HasSubstr;

Exposition Sample() {
  Exposition out;
  out.Begin("demo_requests_total", MetricType::kCounter, "Requests, with a \\ and a\nnewline.");
  out.Sample(uint64_t{18446744073709551615u}, {{"path", "/a \"quoted\" \\ value\n"}});
  out.Sample(uint64_t{0}, {{"path", "/b"}});
  out.Begin("demo_open", MetricType::kGauge, "Open things.");
  out.Sample(int64_t{-3});
  out.Begin("demo_latency_seconds", MetricType::kHistogram, "Latency.");
  out.Histogram({0.0001, 0.001, 0.01}, {1, 5, 9}, 10, 0.123, {{"loop", "0"}});
  out.Histogram({0.0001, 0.001, 0.01}, {0, 0, 0}, 0, 0, {{"loop", "1"}});
  out.Comment("demo_states unavailable: no netlink");
  return out;
}

TEST(ExpositionTest, WritesTheTextFormatStrictly) {
  const std::string text = Sample().text();
  absl::StatusOr<PromScrape> scrape = ParsePrometheusText(text);
  ASSERT_TRUE(scrape.ok()) << scrape.status() << "\n" << text;
  EXPECT_EQ(scrape->types.at("demo_requests_total"), "counter");
  EXPECT_EQ(scrape->types.at("demo_latency_seconds"), "histogram");
  EXPECT_EQ(scrape->help.at("demo_requests_total"), "Requests, with a \\ and a\nnewline.");
  // The label value read back is the one written, escapes undone.
  EXPECT_EQ(scrape->Count("demo_requests_total", {{"path", "/a \"quoted\" \\ value\n"}}), 1);
  // A count is written exactly, not rounded through a double.
  EXPECT_THAT(text, HasSubstr(" 18446744073709551615\n"));
  EXPECT_EQ(scrape->Sum("demo_open"), -3);
  EXPECT_EQ(scrape->Sum("demo_latency_seconds_bucket", {{"le", "+Inf"}, {"loop", "0"}}), 10);
  EXPECT_EQ(scrape->Sum("demo_latency_seconds_bucket", {{"le", "0.001"}, {"loop", "0"}}), 5);
  EXPECT_EQ(scrape->Sum("demo_latency_seconds_count"), 10);
  EXPECT_THAT(text, HasSubstr("\n# demo_states unavailable: no netlink\n"));
}

TEST(ExpositionTest, PromtoolAccepts) {
  if (!PromtoolInstalled()) {
    GTEST_SKIP() << "promtool (Debian's prometheus package) is not installed";
  }
  EXPECT_EQ(PromtoolComplaint(Sample().text()), "");
}

TEST(ExpositionTest, FormatsValuesAsPrometheusReadsThem) {
  EXPECT_EQ(FormatValue(0.001), "0.001");
  EXPECT_EQ(FormatValue(2.5e-05), "2.5e-05");
  EXPECT_EQ(FormatValue(1048576), "1048576");
  EXPECT_EQ(FormatValue(INFINITY), "+Inf");
  EXPECT_EQ(FormatValue(-INFINITY), "-Inf");
  EXPECT_EQ(FormatValue(NAN), "NaN");
  // Round trip: the shortest text that reads back as the same double.
  EXPECT_EQ(std::stod(FormatValue(0.1 + 0.2)), 0.1 + 0.2);
}

TEST(ExpositionTest, ProcessFdsAndStatesParse) {
  Exposition out;
  AppendProcessFds(&out);
  tcpstat::StateTally tally;
  tally.counts[static_cast<int>(tcpstat::TcpState::kEstablished)] = 4;
  AppendConnectionStates(&out, "demo_connection_states", "States.", tally);
  absl::StatusOr<PromScrape> scrape = ParsePrometheusText(out.text());
  ASSERT_TRUE(scrape.ok()) << scrape.status() << "\n" << out.text();
  EXPECT_GT(scrape->Sum("process_open_fds"), 2);  // stdin, stdout, stderr at least
  EXPECT_GT(scrape->Sum("process_max_fds"), scrape->Sum("process_open_fds"));
  EXPECT_EQ(scrape->Sum("demo_connection_states", {{"state", "established"}}), 4);
  EXPECT_EQ(scrape->Sum("demo_connection_states", {{"state", "time_wait"}}), 0);
}

TEST(ExpositionDeathTest, ProgrammerErrorsAbort) {
  EXPECT_DEATH(
      {
        Exposition out;
        out.Begin("demo_requests", MetricType::kCounter, "no _total");
      },
      "_total");
  EXPECT_DEATH(
      {
        Exposition out;
        out.Begin("demo_open", MetricType::kGauge, "x");
        out.Begin("demo_open", MetricType::kGauge, "again");
      },
      "together");
  EXPECT_DEATH(
      {
        Exposition out;
        out.Begin("demo_open", MetricType::kGauge, "x");
        out.Sample(1.0, {{"bad-label", "x"}});
      },
      "bad-label");
}

// The strict reader the suites rely on refuses what the format forbids.
TEST(PrometheusTextTest, RefusesMalformedText) {
  const char* kBad[] = {
      // no final line feed
      "# HELP a_total x\n# TYPE a_total counter\na_total 1",
      // a sample without HELP/TYPE
      "a 1\n",
      // a family's lines apart
      "# HELP a x\n# TYPE a gauge\na{l=\"1\"} 1\n# HELP b x\n# TYPE b gauge\nb 1\na{l=\"2\"} 1\n",
      // a counter without _total, a negative counter
      "# HELP a x\n# TYPE a counter\na 1\n",
      "# HELP a_total x\n# TYPE a_total counter\na_total -1\n",
      // a bad escape, a repeated label, a repeated series
      "# HELP a x\n# TYPE a gauge\na{l=\"\\t\"} 1\n",
      "# HELP a x\n# TYPE a gauge\na{l=\"1\",l=\"2\"} 1\n",
      "# HELP a x\n# TYPE a gauge\na 1\na 2\n",
      // a histogram whose +Inf bucket is not its count, or whose buckets descend
      "# HELP h x\n# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 2\nh_sum 1\n"
      "h_count 3\n",
      "# HELP h x\n# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"2\"} 1\n"
      "h_bucket{le=\"+Inf\"} 2\nh_sum 1\nh_count 2\n",
      // not a number
      "# HELP a x\n# TYPE a gauge\na one\n",
  };
  for (const char* text : kBad) {
    EXPECT_FALSE(ParsePrometheusText(text).ok()) << text;
  }
}

}  // namespace
}  // namespace socklab::metrics

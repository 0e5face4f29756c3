#include "client/report/report_html.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "client/load/load_report.h"
#include "client/load/sweep_summary.h"
#include "gtest/gtest.h"

namespace socklab::client {
namespace {

size_t Occurrences(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) {
    ++n;
  }
  return n;
}

// A small open-loop run of three seconds with errors and states, as the load engine fills it.
LoadResult SampleResult(double rate_scale) {
  LoadResult r;
  r.config.rate = 1000 * rate_scale;
  r.config.target = "127.0.0.1:7007";
  r.config.command_line = "socklab load 127.0.0.1:7007 -R 1000";
  r.elapsed_s = 3;
  r.messages_completed = static_cast<uint64_t>(3000 * rate_scale);
  for (int i = 1; i <= 3000; ++i) {
    r.rtt.Record(i * 1000);
    r.rtt_uncorrected.Record(i * 500);
    r.connect.Record(50'000);
  }
  for (int s = 1; s <= 3; ++s) {
    LoadSecond second;
    second.t_s = s;
    second.messages = static_cast<uint64_t>(1000 * rate_scale);
    second.p50_ns = 100'000 * s;
    second.p99_ns = 200'000 * s;
    second.p99_9_ns = 300'000 * s;
    second.max_ns = 400'000 * s;
    second.open_connections = 10;
    second.errors = 2;
    second.errors_by_class = {{"read ECONNRESET", 2}};
    second.states = {{"ESTABLISHED", 20}, {"TIME_WAIT", s}};
    r.series.push_back(second);
  }
  r.hints = {"a hint <with> markup"};
  return r;
}

// What would make the page reach out when opened: a URL, a script, a fetched resource.
void ExpectSelfContained(const std::string& html) {
  for (const char* fetch :
       {"http://", "https://", "<script", "<link", "<img", "url(", " src=", " href=", "@import"}) {
    EXPECT_EQ(html.find(fetch), std::string::npos) << fetch;
  }
}

TEST(ReportHtmlTest, DrawsEverySeriesOfOneRunAndNeedsNothingFromOutside) {
  const std::string html = RenderReportHtml({{"run.json", LoadResultToJson(SampleResult(1))}});
  ExpectSelfContained(html);
  // throughput 1, latency 4, errors 1, open 1, connect 0 (no per-second connects), states 2,
  // spectrum 2 (corrected and uncorrected).
  EXPECT_EQ(Occurrences(html, "<polyline class=\"series\""), 11u) << html;
  EXPECT_NE(html.find("read ECONNRESET"), std::string::npos);
  EXPECT_NE(html.find("TIME_WAIT"), std::string::npos);
  EXPECT_NE(html.find("99.9%"), std::string::npos);  // the spectrum's percentile ticks
  EXPECT_NE(html.find("a hint &lt;with&gt; markup"), std::string::npos);
  EXPECT_EQ(html.find("ratio to"), std::string::npos);  // one run: nothing to compare
}

TEST(ReportHtmlTest, SeveralRunsAreOverlaidAndComparedWithTheFirst) {
  const std::string html = RenderReportHtml({{"a.json", LoadResultToJson(SampleResult(1))},
                                             {"b.json", LoadResultToJson(SampleResult(2))}});
  ExpectSelfContained(html);
  EXPECT_EQ(Occurrences(html, "<polyline class=\"series\""), 22u);
  EXPECT_NE(html.find("ratio to a.json"), std::string::npos);
  // b's throughput is twice a's.
  EXPECT_NE(html.find("<td>1000</td><td>2000</td><td class=\"ratio\">2.00&times;</td>"),
            std::string::npos)
      << html;
}

// Two --repeat runs: a ratio whose spreads overlap is called noise; one whose spreads are apart
// is not.
TEST(ReportHtmlTest, RepeatedRunsSayWhenTheSpreadIsWiderThanTheDifference) {
  auto with_repeat = [](double median, double min, double max) {
    nlohmann::json j = LoadResultToJson(SampleResult(1));
    j["repeat"] = {
        {"runs", 3},
        {"figures", {{"messages_per_s", {{"median", median}, {"min", min}, {"max", max}}}}}};
    return j;
  };
  const std::string noise = RenderReportHtml(
      {{"a.json", with_repeat(1000, 900, 1100)}, {"b.json", with_repeat(1050, 1000, 1200)}});
  EXPECT_NE(noise.find("1.05&times; <span class=\"warn\">within the spread"), std::string::npos)
      << noise;
  EXPECT_NE(noise.find("<tr><td>msg/s</td>"), std::string::npos) << noise;  // the text's label
  const std::string apart = RenderReportHtml(
      {{"a.json", with_repeat(1000, 900, 1100)}, {"b.json", with_repeat(2000, 1900, 2100)}});
  EXPECT_NE(apart.find("2.00&times;</td>"), std::string::npos);
  EXPECT_EQ(apart.find("within the spread"), std::string::npos);
}

// The knee: the first value missing the rate, or with p99 over 3x the previous value's.
TEST(SweepKneeTest, FirstUnmetRateOrP99GrowthOverThreeTimes) {
  auto point = [](double value, int64_t p99, bool reached) {
    SweepPoint p;
    p.value = value;
    p.p99_ns = p99;
    p.reached = reached;
    return p;
  };
  std::string why;
  EXPECT_EQ(FindKnee({point(1, 100, true), point(10, 300, true), point(100, 900, true)}, &why),
            -1);  // 3x exactly is not more than 3x
  EXPECT_EQ(FindKnee({point(1, 100, true), point(10, 301, true), point(100, 900, true)}, &why), 1);
  EXPECT_NE(why.find("3.0x"), std::string::npos) << why;
  EXPECT_EQ(FindKnee({point(1, 100, true), point(10, 110, false), point(100, 9000, true)}, &why),
            1);
  EXPECT_NE(why.find("not met"), std::string::npos) << why;
  const std::string html = RenderReportHtml([&] {
    nlohmann::json j = LoadResultToJson(SampleResult(1));
    j["sweep"] = SweepToJson("connections", {point(1, 100, true), point(10, 1000, true)});
    return std::vector<ReportRun>{{"sweep.json", j}};
  }());
  EXPECT_NE(html.find("knee: connections=10: p99"), std::string::npos) << html;
}

TEST(ReportHtmlTest, TextFromTheJsonIsEscaped) {
  LoadResult r = SampleResult(1);
  r.config.command_line = "socklab load '<script>alert(1)</script>'";
  const std::string html = RenderReportHtml({{"<b>.json", LoadResultToJson(r)}});
  EXPECT_EQ(html.find("<script>"), std::string::npos);
  EXPECT_EQ(html.find("<b>.json"), std::string::npos);
  EXPECT_NE(html.find("&lt;script&gt;alert(1)&lt;/script&gt;"), std::string::npos);
}

TEST(ReportHtmlTest, AnEmptyRunSaysSoInsteadOfDrawingEmptyAxes) {
  LoadResult r;
  const std::string html = RenderReportHtml({{"empty.json", LoadResultToJson(r)}});
  EXPECT_EQ(Occurrences(html, "<polyline"), 0u);
  EXPECT_NE(html.find("no data in these runs"), std::string::npos);
}

TEST(ReportHtmlTest, CheckLoadJsonNamesWhatIsMissing) {
  EXPECT_FALSE(CheckLoadJson(nlohmann::json::array()).ok());
  const absl::Status missing = CheckLoadJson({{"config", nlohmann::json::object()}});
  EXPECT_FALSE(missing.ok());
  EXPECT_NE(missing.message().find("latency_ns"), absl::string_view::npos) << missing;
  EXPECT_TRUE(CheckLoadJson(LoadResultToJson(SampleResult(1))).ok());
}

}  // namespace
}  // namespace socklab::client

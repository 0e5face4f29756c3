#include "client/merge/merge.h"

#include <random>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "client/load/load_report.h"
#include "client/merge/result_json.h"
#include "core/stats/hdr_codec.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace socklab::client {
namespace {

constexpr int64_t kSecond = 1'000'000'000;
constexpr int64_t kStart = int64_t{1'796'551'200} * kSecond;

// An agent's result as `socklab load --shard index/3` would report it: `values` recorded over
// three seconds, started `offset_ns` after kStart; read back through its JSON as merge reads it.
LoadResult Agent(int index, const std::vector<int64_t>& values, int64_t offset_ns,
                 const std::string& run_id = "r1") {
  LoadResult r;
  r.config.target = "10.0.0.1:7007";
  r.config.backend = "epoll";
  r.config.connections = 2;
  r.config.threads = 1;
  r.config.size_min = r.config.size_max = 64;
  r.config.duration_s = 3;
  r.config.run_id = run_id;
  r.config.shard_index = index;
  r.config.shard_count = 3;
  r.config.total_connections = 6;
  r.start_unix_ns = kStart + offset_ns;
  r.measure_start_unix_ns = r.start_unix_ns;
  r.elapsed_s = 3;
  std::vector<Histogram> seconds(3);
  for (size_t i = 0; i < values.size(); ++i) {
    r.rtt.Record(values[i]);
    seconds[i % 3].Record(values[i]);
  }
  for (int s = 0; s < 3; ++s) {
    LoadSecond second;
    second.t_s = s + 1;
    second.messages = seconds[s].count();
    second.rtt_histogram = EncodeHistogram(seconds[s]);
    r.series.push_back(second);
  }
  r.messages_sent = r.messages_completed = values.size();
  r.errors.RecordErrno(Phase::kRead, ECONNRESET, 2 * kSecond);
  absl::StatusOr<LoadResult> back = LoadResultFromJson(LoadResultToJson(r));
  EXPECT_TRUE(back.ok()) << back.status();
  return *back;
}

std::vector<int64_t> Latencies(std::mt19937_64& random, int n) {
  std::lognormal_distribution<double> spread(12.0, 1.5);  // ~160us median, long tail
  std::vector<int64_t> values;
  for (int i = 0; i < n; ++i) {
    values.push_back(static_cast<int64_t>(spread(random)));
  }
  return values;
}

TEST(MergeTest, HistogramsAddBucketByBucketAndPercentilesComeFromTheSum) {
  std::mt19937_64 random(18);
  Histogram all;
  std::vector<MergeInput> inputs;
  for (int i = 0; i < 3; ++i) {
    // Agents of very different latency: averaging their percentiles would be far off.
    std::vector<int64_t> values = Latencies(random, 1000 + 500 * i);
    for (int64_t& v : values) {
      v *= (i + 1) * (i + 1);
      all.Record(v);
    }
    inputs.push_back({"agent" + std::to_string(i), Agent(i, values, 0)});
  }
  absl::StatusOr<MergedRun> merged = MergeResults(std::move(inputs));
  ASSERT_TRUE(merged.ok()) << merged.status();
  const LoadResult& t = merged->total;
  EXPECT_EQ(t.rtt.count(), all.count());
  EXPECT_EQ(t.rtt.max(), all.max());
  EXPECT_EQ(t.rtt.min(), all.min());
  for (double p : {1.0, 50.0, 90.0, 99.0, 99.9, 99.99, 100.0}) {
    EXPECT_EQ(t.rtt.ValueAtPercentile(p), all.ValueAtPercentile(p)) << p;
  }
  EXPECT_NEAR(t.rtt.mean(), all.mean(), all.mean() * 1e-9);
  EXPECT_EQ(t.messages_completed, all.count());
  EXPECT_EQ(t.errors.count(Phase::kRead, ErrorClass::kReset), 3u);
  EXPECT_EQ(t.config.connections, 6);
  ASSERT_EQ(t.series.size(), 3u);
  uint64_t in_series = 0;
  for (const LoadSecond& s : t.series) {
    in_series += s.messages;
    absl::StatusOr<Histogram> h = DecodeHistogram(s.rtt_histogram);
    ASSERT_TRUE(h.ok());
    EXPECT_EQ(h->count(), s.messages);
  }
  EXPECT_EQ(in_series, all.count());
}

TEST(MergeTest, SeriesAlignByWallClock) {
  std::mt19937_64 random(1);
  std::vector<MergeInput> inputs;
  // Agent 1 started 0.3 s after agent 0, agent 2 one whole second after: agent 2's first second
  // is the others' second.
  const int64_t offsets[] = {0, 300'000'000, kSecond};
  for (int i = 0; i < 3; ++i) {
    inputs.push_back({"agent" + std::to_string(i), Agent(i, Latencies(random, 30), offsets[i])});
  }
  absl::StatusOr<MergedRun> merged = MergeResults(std::move(inputs));
  ASSERT_TRUE(merged.ok()) << merged.status();
  const std::vector<LoadSecond>& series = merged->total.series;
  ASSERT_EQ(series.size(), 4u);
  EXPECT_EQ(series[0].messages, 20u);  // agents 0 and 1
  EXPECT_EQ(series[1].messages, 30u);  // all three
  EXPECT_EQ(series[3].messages, 10u);  // agent 2's last
  EXPECT_DOUBLE_EQ(merged->total.elapsed_s, 4.0);
}

TEST(MergeTest, RefusesOtherRunsConfigurationsAndDuplicateShards) {
  std::mt19937_64 random(2);
  auto refused = [](std::vector<MergeInput> inputs) {
    absl::StatusOr<MergedRun> merged = MergeResults(std::move(inputs));
    return merged.ok() ? std::string() : std::string(merged.status().message());
  };
  EXPECT_TRUE(absl::StrContains(refused({{"a", Agent(0, Latencies(random, 5), 0)},
                                         {"b", Agent(1, Latencies(random, 5), 0, "r2")}}),
                                "b is of run id 'r2', a of 'r1'"));
  LoadResult other_size = Agent(1, Latencies(random, 5), 0);
  other_size.config.size_max = 128;
  EXPECT_TRUE(
      absl::StrContains(refused({{"a", Agent(0, Latencies(random, 5), 0)}, {"b", other_size}}),
                        "b and a differ in size (64-128 vs 64-64)"));
  EXPECT_TRUE(absl::StrContains(
      refused({{"a", Agent(1, Latencies(random, 5), 0)}, {"b", Agent(1, Latencies(random, 5), 0)}}),
      "are both shard 1/3"));
  // Two of three: merged, with a note naming the missing shard.
  absl::StatusOr<MergedRun> partial = MergeResults(
      {{"a", Agent(0, Latencies(random, 5), 0)}, {"c", Agent(2, Latencies(random, 5), 0)}});
  ASSERT_TRUE(partial.ok());
  ASSERT_EQ(partial->notes.size(), 1u);
  EXPECT_TRUE(absl::StartsWith(partial->notes[0], "shards 1 of 3 are missing"))
      << partial->notes[0];
}

}  // namespace
}  // namespace socklab::client

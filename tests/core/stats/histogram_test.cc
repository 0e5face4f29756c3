#include "core/stats/histogram.h"

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "gtest/gtest.h"

namespace socklab {
namespace {

// A percentile as the histogram is asked for it, and the same in hundredths of a percent, so the
// reference rank below is computed without floating point (independently of the histogram's).
struct Percentile {
  double value;
  uint64_t hundredths;
};
constexpr Percentile kPercentiles[] = {{0.0, 0},     {1.0, 100},    {10.0, 1000},  {25.0, 2500},
                                       {50.0, 5000}, {75.0, 7500},  {90.0, 9000},  {99.0, 9900},
                                       {99.9, 9990}, {99.99, 9999}, {100.0, 10000}};

// The value of rank ceil(hundredths / 10000 * n) in sorted data (at least rank 1).
int64_t ExactPercentile(const std::vector<int64_t>& sorted, uint64_t hundredths) {
  uint64_t rank = (hundredths * sorted.size() + 9999) / 10000;
  rank = std::clamp<uint64_t>(rank, 1, sorted.size());
  return sorted[rank - 1];
}

TEST(HistogramTest, BucketsCoverTheRangeContiguously) {
  for (int i = 1; i < Histogram::BucketCount(); ++i) {
    ASSERT_EQ(Histogram::LowestValueOfBucket(i), Histogram::HighestValueOfBucket(i - 1) + 1) << i;
  }
  EXPECT_GE(Histogram::HighestValueOfBucket(Histogram::BucketCount() - 1),
            Histogram::kMaxTrackable - 1);
}

TEST(HistogramTest, EveryBucketIsWithinOnePercent) {
  for (int i = 0; i < Histogram::BucketCount(); ++i) {
    const int64_t lo = Histogram::LowestValueOfBucket(i);
    const int64_t hi = Histogram::HighestValueOfBucket(i);
    ASSERT_EQ(Histogram::BucketIndexOf(lo), i);
    ASSERT_EQ(Histogram::BucketIndexOf(hi), i);
    if (lo > 0) {
      ASSERT_LE(static_cast<double>(hi - lo) / lo, 0.01) << i;
    }
  }
}

TEST(HistogramTest, PercentilesAgreeWithSortedDataWithinOnePercent) {
  std::mt19937_64 rng(42);
  // Log-uniform from 1 us to 60 s: every decade of the stated range gets samples.
  std::uniform_real_distribution<double> exponent(3.0, std::log10(60e9));
  std::vector<int64_t> values;
  Histogram h;
  for (int i = 0; i < 200'000; ++i) {
    const int64_t v = static_cast<int64_t>(std::pow(10.0, exponent(rng)));
    values.push_back(v);
    h.Record(v);
  }
  std::sort(values.begin(), values.end());
  for (const Percentile& p : kPercentiles) {
    const int64_t exact = ExactPercentile(values, p.hundredths);
    const int64_t got = h.ValueAtPercentile(p.value);
    EXPECT_LE(std::abs(static_cast<double>(got - exact)) / exact, 0.01)
        << "p" << p.value << " exact " << exact << " got " << got;
  }
  EXPECT_EQ(h.count(), values.size());
  EXPECT_EQ(h.max(), values.back());
  EXPECT_EQ(h.min(), values.front());
}

// The rank must be exact, not a floating-point ceiling: 99.9 / 100 * 1000 is 999.0000000000001
// in doubles, which would make p99.9 of 1000 values the maximum.
TEST(HistogramTest, PercentileRanksAreExact) {
  for (uint64_t n : {100u, 1000u, 10'000u, 200'000u, 7u}) {
    // n - 1 small values and one outlier: every percentile whose rank is below n is small.
    Histogram h;
    std::vector<int64_t> values(n - 1, 100);
    values.push_back(5'000'000);
    for (int64_t v : values) {
      h.Record(v);
    }
    for (const Percentile& p : kPercentiles) {
      EXPECT_EQ(h.ValueAtPercentile(p.value), ExactPercentile(values, p.hundredths))
          << "p" << p.value << " of " << n;
    }
  }
  // Ranks past 2^64 / 10^8 take the split path.
  Histogram big;
  big.RecordN(100, 999'999'999'999);
  big.RecordN(5'000'000, 1);
  EXPECT_EQ(big.ValueAtPercentile(99.9999), 100);
  EXPECT_EQ(big.ValueAtPercentile(100), 5'000'000);
}

TEST(HistogramTest, MeanAndStdevMatchExact) {
  Histogram h;
  std::vector<int64_t> values = {1000, 2000, 3000, 4000, 5000};
  for (int64_t v : values) {
    h.Record(v);
  }
  EXPECT_DOUBLE_EQ(h.mean(), 3000.0);
  EXPECT_NEAR(h.stdev(), std::sqrt(2e6), 1e-6);
}

TEST(HistogramTest, MergingPerThreadHistogramsEqualsRecordingIntoOne) {
  std::mt19937_64 rng(7);
  std::lognormal_distribution<double> dist(11.0, 1.5);
  Histogram all;
  std::vector<Histogram> parts(4);
  for (int i = 0; i < 100'000; ++i) {
    const int64_t v = static_cast<int64_t>(dist(rng));
    all.Record(v);
    parts[i % parts.size()].Record(v);
  }
  Histogram merged;
  for (const Histogram& part : parts) {
    merged.Merge(part);
  }
  EXPECT_EQ(merged.count(), all.count());
  EXPECT_EQ(merged.min(), all.min());
  EXPECT_EQ(merged.max(), all.max());
  EXPECT_NEAR(merged.mean(), all.mean(), all.mean() * 1e-9);
  for (double p = 0; p <= 100.0; p += 0.5) {
    ASSERT_EQ(merged.ValueAtPercentile(p), all.ValueAtPercentile(p)) << p;
  }
  EXPECT_EQ(merged.PercentileDistribution(), all.PercentileDistribution());
}

TEST(HistogramTest, EmptyAndHugeValues) {
  Histogram h;
  EXPECT_EQ(h.ValueAtPercentile(99), 0);
  EXPECT_EQ(h.mean(), 0);
  h.Record(Histogram::kMaxTrackable * 4);
  h.Record(-5);
  EXPECT_EQ(h.count(), 2u);
  EXPECT_EQ(h.min(), 0);
  EXPECT_EQ(h.max(), Histogram::kMaxTrackable * 4);
  h.Reset();
  EXPECT_EQ(h.count(), 0u);
}

TEST(HistogramTest, HgrmHasHdrHistogramShape) {
  Histogram h;
  for (int i = 1; i <= 1000; ++i) {
    h.Record(int64_t{i} * 1000);  // 1 us .. 1 ms
  }
  const std::string text = h.PercentileDistribution(1e6);
  EXPECT_EQ(text.rfind("       Value     Percentile TotalCount 1/(1-Percentile)\n\n", 0), 0u)
      << text;
  EXPECT_NE(text.find("       0.001 0.000000000000          1           1.00\n"), std::string::npos)
      << text;
  EXPECT_NE(text.find(" 1.000000000000       1000\n"), std::string::npos) << text;
  EXPECT_NE(text.find("#[Mean    =        0.500"), std::string::npos) << text;
  EXPECT_NE(text.find("#[Max     =        1.000, Total count    =         1000]"),
            std::string::npos)
      << text;
  // Percentile levels increase and every data row parses as four (or, last, three) numbers.
  double last_level = -1;
  size_t rows = 0;
  size_t pos = text.find("\n\n") + 2;
  while (pos < text.size() && text[pos] != '#') {
    const size_t end = text.find('\n', pos);
    double value = 0;
    double level = 0;
    unsigned long long total = 0;
    ASSERT_EQ(std::sscanf(text.c_str() + pos, "%lf %lf %llu", &value, &level, &total), 3);
    EXPECT_GE(level, last_level);
    last_level = level;
    ++rows;
    pos = end + 1;
  }
  EXPECT_GT(rows, 20u);
  EXPECT_EQ(last_level, 1.0);
}

}  // namespace
}  // namespace socklab

namespace socklab {
namespace {

// CountAtOrBelow against the sorted values themselves: exact at every bucket's highest value, and
// elsewhere short only by the values sharing value_ns's bucket.
TEST(HistogramCountTest, CountAtOrBelowMatchesTheValuesByBucket) {
  std::mt19937_64 random(7);
  std::vector<int64_t> values;
  Histogram h;
  for (int i = 0; i < 20000; ++i) {
    const int64_t v = static_cast<int64_t>(
        std::exp(std::uniform_real_distribution<double>(0, std::log(5e9))(random)));
    values.push_back(v);
    h.Record(v);
  }
  auto at_most = [&](int64_t bound) {
    return static_cast<uint64_t>(
        std::count_if(values.begin(), values.end(), [bound](int64_t v) { return v <= bound; }));
  };
  for (int64_t bound : {int64_t{0}, int64_t{100}, int64_t{255}, int64_t{100'000},
                        int64_t{1'000'000}, int64_t{25'000'000}, int64_t{1'000'000'000}}) {
    const int index = Histogram::BucketIndexOf(bound);
    const int64_t edge = Histogram::HighestValueOfBucket(index);
    EXPECT_EQ(h.CountAtOrBelow(edge), at_most(edge)) << edge;
    EXPECT_LE(h.CountAtOrBelow(bound), at_most(bound)) << bound;
    EXPECT_EQ(h.CountAtOrBelow(bound),
              edge == bound ? at_most(bound) : at_most(Histogram::LowestValueOfBucket(index) - 1))
        << bound;
  }
  EXPECT_EQ(h.CountAtOrBelow(-1), 0u);
  EXPECT_EQ(h.CountAtOrBelow(Histogram::kMaxTrackable * 2), h.count());
}

}  // namespace
}  // namespace socklab

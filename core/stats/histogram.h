#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

namespace socklab {

// A log-linear latency histogram in the manner of HdrHistogram: values (nanoseconds) below 256
// are counted exactly; above, each power of two is split into 128 linear sub-buckets, so a
// reported value (the highest value its bucket holds) is within 1/128 (0.79%) of any value
// recorded into that bucket. Values from 0 to 2^43 ns (about 2.4 hours) are tracked; larger ones
// are clamped into the top bucket (max() stays exact).
//
// Record() is O(1) and never allocates; the buckets are allocated once by the constructor.
// Thread affinity: none, and not thread-safe: keep one per thread and Merge() them afterwards.
class Histogram {
 public:
  Histogram();

  static constexpr int64_t kMaxTrackable = int64_t{1} << 43;

  void Record(int64_t value_ns) { RecordN(value_ns, 1); }
  // Records `count` occurrences of `value_ns` (negative values count as 0).
  void RecordN(int64_t value_ns, uint64_t count);

  // Adds every count of `other` (same layout by construction).
  void Merge(const Histogram& other);
  void Reset();

  uint64_t count() const { return count_; }
  int64_t min() const { return count_ == 0 ? 0 : min_; }
  int64_t max() const { return max_; }
  double mean() const;
  double stdev() const;

  // The smallest bucket value v such that at least ceil(percentile/100 * count) recorded values
  // are <= v (percentile in [0, 100], resolved to a millionth of a percent; the rank is computed
  // in integers); 0 for an empty histogram. The result is the highest value of its bucket,
  // capped at max().
  int64_t ValueAtPercentile(double percentile) const;

  // How many recorded values are at most `value_ns`, by bucket: a bucket counts when its highest
  // value is <= value_ns, so the answer is exact at bucket edges and otherwise leaves out the
  // bucket holding value_ns (within the 0.79% resolution). For cumulative ("le") buckets.
  uint64_t CountAtOrBelow(int64_t value_ns) const;

  // One row of the percentile distribution: the value at `percentile` (0-100) and the count of
  // values up to it.
  struct SpectrumPoint {
    int64_t value_ns = 0;
    double percentile = 0;
    uint64_t total_count = 0;
  };
  // The rows of PercentileDistribution (HdrHistogram's PercentileIterator: `ticks` per half
  // distance to 100%), ending with the 100% row; empty for an empty histogram. What a percentile
  // spectrum plot on a 1/(1-p) axis draws.
  std::vector<SpectrumPoint> PercentileSpectrum(int ticks_per_half_distance = 5) const;

  // HdrHistogram's percentile-distribution text (the .hgrm format its plotter reads): the
  // "Value Percentile TotalCount 1/(1-Percentile)" table with 5 ticks per half distance and the
  // #[Mean ...] footer. Values are divided by `unit_ns` (1e6: milliseconds, as wrk2 prints).
  std::string PercentileDistribution(double unit_ns = 1e6, int ticks_per_half_distance = 5) const;

  // Bucket access for the HdrHistogram-compatible encoding (core/stats/hdr_codec.h): the count
  // in bucket `index` (0 <= index < BucketCount()).
  uint64_t CountAtBucket(int index) const { return counts_[index]; }
  // Adds `count` values known only by their bucket (a decoded histogram). As HdrHistogram does,
  // they count as the bucket's lowest value for min(), its highest for max() and its middle for
  // mean() and stdev(); RestoreExact() puts back the exact figures when they are known.
  void RecordBucket(int index, uint64_t count);
  // A histogram rebuilt from buckets, with the exact figures its source reported beside them
  // (the JSON's min, max, mean and stdev): percentiles are then capped at the exact max, as in
  // the source. No-op on an empty histogram; `min` and `max` are clamped into the lowest and
  // highest non-empty buckets, so a figure from elsewhere cannot contradict the counts.
  void RestoreExact(int64_t min, int64_t max, double mean, double stdev);

  // Layout facts, for tests and the .hgrm footer.
  static int BucketCount();
  static int64_t LowestValueOfBucket(int index);
  static int64_t HighestValueOfBucket(int index);
  static int BucketIndexOf(int64_t value_ns);

 private:
  std::vector<uint64_t> counts_;
  uint64_t count_ = 0;
  int64_t min_ = 0;
  int64_t max_ = 0;
  // Sums in double: a long run at multi-second latencies overflows int64 nanoseconds.
  double sum_ = 0;
  double sum_squares_ = 0;
};

}  // namespace socklab

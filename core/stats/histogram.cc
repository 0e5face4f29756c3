#include "core/stats/histogram.h"

#include <algorithm>
#include <bit>
#include <cmath>

#include "absl/strings/str_format.h"

namespace socklab {
namespace {

// Values below kExact (2^kSubBits) have one bucket each; every power of two above is split into
// kHalf linear buckets.
constexpr int kSubBits = 8;
constexpr int64_t kExact = int64_t{1} << kSubBits;  // 256
constexpr int kHalf = 1 << (kSubBits - 1);          // 128
constexpr int kMaxBitWidth = 43;
constexpr int kBucketCount = kExact + (kMaxBitWidth - kSubBits) * kHalf;

}  // namespace

int Histogram::BucketCount() { return kBucketCount; }

int Histogram::BucketIndexOf(int64_t value) {
  if (value < kExact) {
    return value < 0 ? 0 : static_cast<int>(value);
  }
  if (value >= kMaxTrackable) {
    return kBucketCount - 1;
  }
  const int shift = std::bit_width(static_cast<uint64_t>(value)) - kSubBits;  // >= 1
  const int sub = static_cast<int>(value >> shift);                           // [128, 256)
  return static_cast<int>(kExact) + (shift - 1) * kHalf + (sub - kHalf);
}

int64_t Histogram::LowestValueOfBucket(int index) {
  if (index < kExact) {
    return index;
  }
  const int shift = (index - static_cast<int>(kExact)) / kHalf + 1;
  const int sub = (index - static_cast<int>(kExact)) % kHalf + kHalf;
  return int64_t{sub} << shift;
}

int64_t Histogram::HighestValueOfBucket(int index) {
  if (index < kExact) {
    return index;
  }
  const int shift = (index - static_cast<int>(kExact)) / kHalf + 1;
  return LowestValueOfBucket(index) + (int64_t{1} << shift) - 1;
}

Histogram::Histogram() : counts_(kBucketCount, 0) {}

uint64_t Histogram::CountAtOrBelow(int64_t value_ns) const {
  if (value_ns < 0) {
    return 0;
  }
  int last = BucketIndexOf(value_ns);
  if (HighestValueOfBucket(last) > value_ns) {
    --last;
  }
  uint64_t count = 0;
  for (int i = 0; i <= last; ++i) {
    count += counts_[i];
  }
  return count;
}

void Histogram::RecordN(int64_t value, uint64_t count) {
  if (count == 0) {
    return;
  }
  value = std::max<int64_t>(value, 0);
  counts_[BucketIndexOf(value)] += count;
  if (count_ == 0 || value < min_) {
    min_ = value;
  }
  max_ = std::max(max_, value);
  count_ += count;
  const double v = static_cast<double>(value);
  sum_ += v * static_cast<double>(count);
  sum_squares_ += v * v * static_cast<double>(count);
}

void Histogram::RecordBucket(int index, uint64_t count) {
  if (count == 0 || index < 0 || index >= kBucketCount) {
    return;
  }
  const int64_t lowest = LowestValueOfBucket(index);
  const int64_t highest = HighestValueOfBucket(index);
  counts_[index] += count;
  if (count_ == 0 || lowest < min_) {
    min_ = lowest;
  }
  max_ = std::max(max_, highest);
  count_ += count;
  const double middle = lowest + (highest - lowest + 1) / 2.0;
  sum_ += middle * static_cast<double>(count);
  sum_squares_ += middle * middle * static_cast<double>(count);
}

void Histogram::RestoreExact(int64_t min, int64_t max, double mean, double stdev) {
  if (count_ == 0) {
    return;
  }
  int first = 0;
  while (counts_[first] == 0) {
    ++first;
  }
  int last = kBucketCount - 1;
  while (counts_[last] == 0) {
    --last;
  }
  min_ = std::clamp(min, LowestValueOfBucket(first), HighestValueOfBucket(first));
  max_ = std::clamp(max, LowestValueOfBucket(last), HighestValueOfBucket(last));
  const double n = static_cast<double>(count_);
  sum_ = mean * n;
  sum_squares_ = (stdev * stdev + mean * mean) * n;
}

void Histogram::Merge(const Histogram& other) {
  if (other.count_ == 0) {
    return;
  }
  for (int i = 0; i < kBucketCount; ++i) {
    counts_[i] += other.counts_[i];
  }
  min_ = count_ == 0 ? other.min_ : std::min(min_, other.min_);
  max_ = std::max(max_, other.max_);
  count_ += other.count_;
  sum_ += other.sum_;
  sum_squares_ += other.sum_squares_;
}

void Histogram::Reset() {
  std::fill(counts_.begin(), counts_.end(), 0);
  count_ = 0;
  min_ = 0;
  max_ = 0;
  sum_ = 0;
  sum_squares_ = 0;
}

double Histogram::mean() const { return count_ == 0 ? 0.0 : sum_ / static_cast<double>(count_); }

double Histogram::stdev() const {
  if (count_ == 0) {
    return 0.0;
  }
  const double m = mean();
  const double variance = sum_squares_ / static_cast<double>(count_) - m * m;
  return variance > 0 ? std::sqrt(variance) : 0.0;
}

int64_t Histogram::ValueAtPercentile(double percentile) const {
  if (count_ == 0) {
    return 0;
  }
  percentile = std::clamp(percentile, 0.0, 100.0);
  // The rank ceil(percentile / 100 * count) in integers: in floating point 99.9 / 100 * 1000 is
  // 999.0000000000001, whose ceiling (1000) would make p99.9 of 1000 values the maximum. The
  // percentile is taken in millionths of a percent (exact for every percentile written with up
  // to six decimals), and count is split so the products stay within 64 bits.
  constexpr uint64_t kScale = 100'000'000;  // 100% in millionths of a percent
  const uint64_t scaled = static_cast<uint64_t>(std::llround(percentile * 1e6));
  const uint64_t whole = count_ / kScale;
  const uint64_t rest = count_ % kScale;  // rest * scaled < 1e16
  uint64_t wanted = whole * scaled + (rest * scaled + kScale - 1) / kScale;
  wanted = std::clamp<uint64_t>(wanted, 1, count_);
  uint64_t seen = 0;
  for (int i = 0; i < kBucketCount; ++i) {
    seen += counts_[i];
    if (seen >= wanted) {
      return std::min(HighestValueOfBucket(i), max_);
    }
  }
  return max_;
}

std::vector<Histogram::SpectrumPoint> Histogram::PercentileSpectrum(
    int ticks_per_half_distance) const {
  // Follows HdrHistogram's AbstractHistogram.outputPercentileDistribution and its
  // PercentileIterator, so HdrHistogram's plotter (and people used to wrk2) read it unchanged.
  std::vector<SpectrumPoint> points;
  if (count_ == 0) {
    return points;
  }
  double level = 0.0;
  uint64_t cumulative = 0;
  for (int i = 0; i < kBucketCount; ++i) {
    if (counts_[i] == 0) {
      continue;
    }
    cumulative += counts_[i];
    const int64_t value = std::min(HighestValueOfBucket(i), max_);
    if (cumulative == count_) {
      // The last bucket: once at the pending level, then at 100% (as HdrHistogram ends).
      points.push_back({value, level, cumulative});
      points.push_back({value, 100.0, cumulative});
      break;
    }
    const double reached = 100.0 * static_cast<double>(cumulative) / count_;
    while (reached >= level) {
      points.push_back({value, level, cumulative});
      const double half_distances = std::floor(std::log2(100.0 / (100.0 - level))) + 1;
      level += 100.0 / (ticks_per_half_distance * std::pow(2.0, half_distances));
    }
  }
  return points;
}

std::string Histogram::PercentileDistribution(double unit_ns, int ticks_per_half_distance) const {
  std::string out = absl::StrFormat("%12s %14s %10s %14s\n\n", "Value", "Percentile", "TotalCount",
                                    "1/(1-Percentile)");
  for (const SpectrumPoint& point : PercentileSpectrum(ticks_per_half_distance)) {
    const double p = point.percentile / 100.0;
    if (point.percentile < 100.0) {
      absl::StrAppendFormat(&out, "%12.3f %2.12f %10d %14.2f\n", point.value_ns / unit_ns, p,
                            point.total_count, 1.0 / (1.0 - p));
    } else {
      absl::StrAppendFormat(&out, "%12.3f %2.12f %10d\n", point.value_ns / unit_ns, p,
                            point.total_count);
    }
  }
  absl::StrAppendFormat(&out, "#[Mean    = %12.3f, StdDeviation   = %12.3f]\n", mean() / unit_ns,
                        stdev() / unit_ns);
  absl::StrAppendFormat(&out, "#[Max     = %12.3f, Total count    = %12d]\n", max_ / unit_ns,
                        count_);
  absl::StrAppendFormat(&out, "#[Buckets = %12d, SubBuckets     = %12d]\n",
                        kMaxBitWidth - kSubBits + 1, kExact);
  return out;
}

}  // namespace socklab

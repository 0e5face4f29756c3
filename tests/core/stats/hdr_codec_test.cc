#include "core/stats/hdr_codec.h"

#include <zlib.h>

#include <bit>
#include <random>
#include <string>

#include "absl/strings/escaping.h"
#include "core/stats/hdr_log.h"
#include "gtest/gtest.h"

namespace socklab {
namespace {

// HdrHistogram's counts index of `value` for lowestDiscernibleValue 1 and 2 significant digits,
// written out from its AbstractHistogram.countsArrayIndex (subBucketHalfCountMagnitude 7, unit
// magnitude 0, leadingZeroCountBase 64 - 0 - 7 - 1 = 56), independently of Histogram's code.
int HdrCountsIndex(int64_t value) {
  const int bucket = 56 - std::countl_zero(static_cast<uint64_t>(value | 255));
  const int64_t sub_bucket = value >> bucket;
  return ((bucket + 1) << 7) + static_cast<int>(sub_bucket) - 128;
}

TEST(HdrCodecTest, BucketsAreHdrHistogramsTwoDigitBuckets) {
  std::mt19937_64 random(43);
  for (int i = 0; i < 200'000; ++i) {
    const int64_t value = static_cast<int64_t>(random() % (Histogram::kMaxTrackable - 1));
    const int64_t small = value >> (random() % 43);  // every magnitude
    ASSERT_EQ(Histogram::BucketIndexOf(small), HdrCountsIndex(small)) << small;
  }
  // (36 buckets + 1) x 128 counts for a highest trackable value of 2^43 - 1.
  EXPECT_EQ(Histogram::BucketCount(), 37 * 128);
  EXPECT_EQ(HdrCountsIndex(Histogram::kMaxTrackable - 1), Histogram::BucketCount() - 1);
}

// The V2 encoding of values 3, 3, 300 written out byte by byte from HdrHistogram's format.
TEST(HdrCodecTest, EncodingIsHdrHistogramsV2Layout) {
  Histogram h;
  h.Record(3);
  h.Record(3);
  h.Record(300);  // counts index 256 + (300 >> 1) - 128 = 278
  ASSERT_EQ(Histogram::BucketIndexOf(300), 278);
  const std::string expected_payload = {
      '\x05',  // three empty buckets: ZigZag(-3) = 5
      '\x04',  // bucket 3: count 2, ZigZag(2) = 4
      '\xe7',  // then 274 empty buckets: ZigZag(-274) = 547 = 0x223 -> LEB128 a3 04
      '\x04',
      '\x02',  // bucket 278: count 1
  };
  std::string expected = {
      '\x1c', '\x84', '\x93', '\x13',  // V2 encoding cookie, ZigZag LEB128 word size
      '\x00', '\x00', '\x00', '\x05',  // payload bytes
      '\x00', '\x00', '\x00', '\x00',  // normalizing index offset
      '\x00', '\x00', '\x00', '\x02',  // significant digits
      '\x00', '\x00', '\x00', '\x00', '\x00', '\x00', '\x00', '\x01',  // lowest discernible
      '\x00', '\x00', '\x07', '\xff', '\xff', '\xff', '\xff', '\xff',  // highest: 2^43 - 1
      '\x3f', '\xf0', '\x00', '\x00', '\x00', '\x00', '\x00', '\x00',  // ratio 1.0
  };
  // 274 = 0x112; ZigZag(-274) = 2 * 274 - 1 = 547 = 0b100_0100011: LEB128 0xa3 0x04.
  std::string payload = expected_payload;
  payload[2] = '\xa3';
  expected += payload;
  EXPECT_EQ(EncodeHistogramV2(h), expected);

  // The compressed form: cookie 0x1c849314, the length, and a zlib stream of the encoding.
  const std::string compressed = CompressEncoding(expected);
  ASSERT_GT(compressed.size(), 8u);
  EXPECT_EQ(compressed.substr(0, 4), std::string("\x1c\x84\x93\x14", 4));
  std::string inflated(expected.size() + 64, '\0');
  uLongf length = inflated.size();
  ASSERT_EQ(
      uncompress(reinterpret_cast<Bytef*>(inflated.data()), &length,
                 reinterpret_cast<const Bytef*>(compressed.data() + 8), compressed.size() - 8),
      Z_OK);
  inflated.resize(length);
  EXPECT_EQ(inflated, expected);
  // In base64, as a log line carries it: HdrHistogram's compressed V2 histograms start "HISTF".
  EXPECT_EQ(EncodeHistogram(h).substr(0, 5), "HISTF");
}

TEST(HdrCodecTest, RoundTripKeepsEveryCount) {
  std::mt19937_64 random(7);
  std::lognormal_distribution<double> spread(11.0, 2.0);
  Histogram h;
  for (int i = 0; i < 100'000; ++i) {
    h.RecordN(static_cast<int64_t>(spread(random)), 1 + random() % 3);
  }
  h.RecordN(5, uint64_t{1} << 60);  // a count that needs all 9 LEB128 bytes
  absl::StatusOr<Histogram> back = DecodeHistogram(EncodeHistogram(h));
  ASSERT_TRUE(back.ok()) << back.status();
  ASSERT_EQ(back->count(), h.count());
  for (int i = 0; i < Histogram::BucketCount(); ++i) {
    ASSERT_EQ(back->CountAtBucket(i), h.CountAtBucket(i)) << i;
  }
  // Bucket-level extremes, as HdrHistogram reports them; RestoreExact puts back the exact ones.
  EXPECT_EQ(back->max(), Histogram::HighestValueOfBucket(Histogram::BucketIndexOf(h.max())));
  back->RestoreExact(h.min(), h.max(), h.mean(), h.stdev());
  for (double p : {0.0, 50.0, 99.0, 99.99, 100.0}) {
    EXPECT_EQ(back->ValueAtPercentile(p), h.ValueAtPercentile(p)) << p;
  }
  EXPECT_EQ(back->max(), h.max());
  EXPECT_DOUBLE_EQ(back->mean(), h.mean());
}

TEST(HdrCodecTest, EmptyHistogramRoundTrips) {
  absl::StatusOr<Histogram> back = DecodeHistogram(EncodeHistogram(Histogram()));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->count(), 0u);
}

TEST(HdrCodecTest, RefusesOtherLayoutsAndDamage) {
  Histogram h;
  h.Record(1000);
  std::string encoding = EncodeHistogramV2(h);
  encoding[15] = 3;  // 3 significant digits: 2048 sub-buckets, another layout
  absl::StatusOr<Histogram> other = DecodeHistogram(absl::Base64Escape(CompressEncoding(encoding)));
  ASSERT_FALSE(other.ok());
  EXPECT_NE(other.status().message().find("3 significant digits"), std::string::npos)
      << other.status();
  EXPECT_FALSE(DecodeHistogram("not base64!").ok());
  std::string cut = CompressEncoding(EncodeHistogramV2(h));
  cut.resize(cut.size() - 3);
  EXPECT_FALSE(DecodeHistogram(absl::Base64Escape(cut)).ok());
}

TEST(HdrLogTest, IntervalLogRoundTrips) {
  HdrLog log;
  log.comments.push_back("socklab test");
  log.start_time_s = 1796551200.25;
  log.base_time_s = log.start_time_s;
  for (int i = 0; i < 3; ++i) {
    HdrLogInterval interval;
    interval.tag = i % 2 == 0 ? "rtt" : "connect";
    interval.start_s = i;
    interval.length_s = 1;
    interval.histogram.RecordN(1000 * (i + 1), 10 + i);
    log.intervals.push_back(std::move(interval));
  }
  const std::string text = FormatHdrLog(log);
  EXPECT_NE(text.find("#[Histogram log format version 1.3]\n"), std::string::npos) << text;
  EXPECT_NE(text.find("#[StartTime: 1796551200.250 (seconds since epoch), "
                      "2026-12-06T10:00:00.250Z]\n"),
            std::string::npos)
      << text;
  // Max in milliseconds (HdrHistogram's unit ratio 1e6 for nanoseconds).
  EXPECT_NE(text.find("\nTag=connect,1.000,1.000,0.002,HISTF"), std::string::npos) << text;
  absl::StatusOr<HdrLog> back = ParseHdrLog(text);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->comments, log.comments);
  EXPECT_DOUBLE_EQ(back->start_time_s, 1796551200.25);
  ASSERT_EQ(back->intervals.size(), 3u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(back->intervals[i].tag, log.intervals[i].tag);
    EXPECT_EQ(back->intervals[i].histogram.count(), log.intervals[i].histogram.count());
    // The bucket's highest value: the log carries buckets, not the exact max.
    EXPECT_EQ(back->intervals[i].histogram.ValueAtPercentile(50),
              Histogram::HighestValueOfBucket(Histogram::BucketIndexOf(1000 * (i + 1))));
  }
  EXPECT_FALSE(ParseHdrLog("Tag=rtt,0.000,1.000\n").ok());
}

}  // namespace
}  // namespace socklab

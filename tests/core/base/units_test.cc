#include "core/base/units.h"

#include "gtest/gtest.h"

namespace socklab {
namespace {

TEST(ParseDuration, AcceptsUnits) {
  EXPECT_EQ(*ParseDuration("500ms"), absl::Milliseconds(500));
  EXPECT_EQ(*ParseDuration("10s"), absl::Seconds(10));
  EXPECT_EQ(*ParseDuration("2m"), absl::Minutes(2));
  EXPECT_EQ(*ParseDuration("1h30m"), absl::Minutes(90));
  EXPECT_EQ(*ParseDuration("0"), absl::ZeroDuration());
}

TEST(ParseDuration, RefusesBareNumbersAndJunk) {
  for (const char* bad : {"5", "", "ms", "-1s", "10 parsecs", "inf"}) {
    absl::StatusOr<absl::Duration> parsed = ParseDuration(bad);
    ASSERT_FALSE(parsed.ok()) << bad;
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(parsed.status().message().find("500ms"), absl::string_view::npos);
  }
}

TEST(ParseCount, DecimalSuffixes) {
  EXPECT_EQ(*ParseCount("1000"), 1000u);
  EXPECT_EQ(*ParseCount("10k"), 10'000u);
  EXPECT_EQ(*ParseCount("1M"), 1'000'000u);
  EXPECT_EQ(*ParseCount("2G"), 2'000'000'000u);
  EXPECT_FALSE(ParseCount("10x").ok());
  EXPECT_FALSE(ParseCount("-3").ok());
  EXPECT_FALSE(ParseCount("99999999999999999999").ok());
  EXPECT_FALSE(ParseCount("18446744073709551G").ok());
}

TEST(ParseRate, DecimalsWithDecimalSuffixes) {
  EXPECT_DOUBLE_EQ(*ParseRate("2000"), 2000.0);
  EXPECT_DOUBLE_EQ(*ParseRate("0.5"), 0.5);
  EXPECT_DOUBLE_EQ(*ParseRate("1.5k"), 1500.0);
  EXPECT_DOUBLE_EQ(*ParseRate("2M"), 2e6);
  EXPECT_DOUBLE_EQ(*ParseRate("0"), 0.0);
  for (const char* bad : {"", "-1", "1e3", "nan", "inf", "1.5x", "k", "0x10"}) {
    absl::StatusOr<double> parsed = ParseRate(bad);
    ASSERT_FALSE(parsed.ok()) << bad;
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_NE(parsed.status().message().find("1.5k"), absl::string_view::npos) << bad;
  }
}

TEST(ParseByteSize, BinarySuffixes) {
  EXPECT_EQ(*ParseByteSize("64"), 64u);
  EXPECT_EQ(*ParseByteSize("4K"), 4096u);
  EXPECT_EQ(*ParseByteSize("4KiB"), 4096u);
  EXPECT_EQ(*ParseByteSize("1M"), 1048576u);
  EXPECT_FALSE(ParseByteSize("1.5M").ok());
}

TEST(FormatElapsed, MillisecondsBelowASecond) {
  EXPECT_EQ(FormatElapsed(0.000012), "0.012 ms");
  EXPECT_EQ(FormatElapsed(0.0123), "12.3 ms");
  EXPECT_EQ(FormatElapsed(3.456), "3.46 s");
}

TEST(FormatSeconds, LongTimesNameMinutesOrHours) {
  EXPECT_EQ(FormatSeconds(127), "127 s");
  EXPECT_EQ(FormatSeconds(924.6), "924.6 s (15.4 min)");
  EXPECT_EQ(FormatSeconds(7200), "7200 s (2.0 h)");
  EXPECT_EQ(FormatSeconds(-1), "unknown");
}

TEST(FormatBytes, PicksUnit) {
  EXPECT_EQ(FormatBytes(200), "200 B");
  EXPECT_EQ(FormatBytes(1536), "1.5 KiB");
  EXPECT_EQ(FormatBytes(3.0 * 1024 * 1024), "3.0 MiB");
}

}  // namespace
}  // namespace socklab

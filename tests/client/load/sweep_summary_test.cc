#include "client/load/sweep_summary.h"

#include <cmath>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace socklab::client {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(SweepSpecTest, ListFormTakesCountsAndRatesAsTheirFlagsDo) {
  absl::StatusOr<SweepSpec> connections = ParseSweep("connections=1,10,1k");
  ASSERT_TRUE(connections.ok()) << connections.status();
  EXPECT_EQ(connections->parameter, "connections");
  EXPECT_THAT(connections->values, ElementsAre(1, 10, 1000));
  absl::StatusOr<SweepSpec> rates = ParseSweep("rate=0.5,1.5k,20000");
  ASSERT_TRUE(rates.ok()) << rates.status();
  EXPECT_THAT(rates->values, ElementsAre(0.5, 1500, 20000));
}

// rate=10k..200k/10: ten values, the ends as given, every step the same ratio (20^(1/9), about
// 1.395) to the rounding of 3 significant digits.
TEST(SweepSpecTest, RangeFormIsGeometric) {
  absl::StatusOr<SweepSpec> spec = ParseSweep("rate=10k..200k/10");
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->parameter, "rate");
  ASSERT_EQ(spec->values.size(), 10u);
  EXPECT_EQ(spec->values.front(), 10000);
  EXPECT_EQ(spec->values.back(), 200000);
  const double step = std::pow(20.0, 1.0 / 9);
  for (size_t i = 1; i < spec->values.size(); ++i) {
    EXPECT_NEAR(spec->values[i] / spec->values[i - 1], step, 0.01 * step) << i;
  }
  // Three significant digits (10000 * 1.395 = 13947.6 reads 13900), as README.md lists them.
  EXPECT_THAT(spec->values,
              ElementsAre(10000, 13900, 19500, 27100, 37900, 52800, 73700, 103000, 143000, 200000));
}

TEST(SweepSpecTest, ConnectionRangesAreWholeAndDistinct) {
  absl::StatusOr<SweepSpec> decades = ParseSweep("connections=1..1000/4");
  ASSERT_TRUE(decades.ok()) << decades.status();
  EXPECT_THAT(decades->values, ElementsAre(1, 10, 100, 1000));
  // More values than whole numbers between the ends: each once.
  absl::StatusOr<SweepSpec> dense = ParseSweep("connections=1..3/6");
  ASSERT_TRUE(dense.ok()) << dense.status();
  EXPECT_THAT(dense->values, ElementsAre(1, 2, 3));
}

TEST(SweepSpecTest, BadSpecsNameTheirFault) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"threads=1..4/2", "sweeps neither connections nor rate"},
      {"rate=10k..200k", "no /COUNT"},
      {"rate=10k..200k/1", "'1' is no count of values from 2 to 100"},
      {"rate=10k..200k/101", "'101' is no count"},
      {"rate=10k..200k/ten", "'ten' is no count"},
      {"rate=200k..10k/10", "does not ascend"},
      {"rate=x..10k/3", "'x' is no rate"},
      {"connections=0..10/3", "'0' is no connections"},
      {"connections=1,x", "'x' is no connections"},
      {"connections=1.5,2", "'1.5' is no connections"},
  };
  for (const auto& [text, names] : cases) {
    absl::StatusOr<SweepSpec> spec = ParseSweep(text);
    ASSERT_FALSE(spec.ok()) << text;
    EXPECT_EQ(spec.status().code(), absl::StatusCode::kInvalidArgument) << text;
    EXPECT_THAT(spec.status().message(), HasSubstr(names)) << text;
    EXPECT_THAT(spec.status().message(), HasSubstr("--sweep rate=10k..200k/10")) << text;
  }
}

}  // namespace
}  // namespace socklab::client

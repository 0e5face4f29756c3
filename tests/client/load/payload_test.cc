#include "client/load/payload.h"

#include <set>

#include "gtest/gtest.h"

namespace socklab::client {
namespace {

TEST(PayloadTest, MessagesDifferAndMatchThemselves) {
  PayloadPattern pattern(4096);
  const std::byte* a = pattern.MessageStart(1, 0);
  const std::byte* b = pattern.MessageStart(1, 1);
  const std::byte* c = pattern.MessageStart(2, 0);
  EXPECT_TRUE(PayloadPattern::Matches(a, 0, a, 4096));
  EXPECT_TRUE(PayloadPattern::Matches(a, 100, a + 100, 50));
  EXPECT_FALSE(PayloadPattern::Matches(a, 0, b, 64));
  EXPECT_FALSE(PayloadPattern::Matches(a, 0, c, 64));
  EXPECT_FALSE(PayloadPattern::Matches(a, 1, a, 64));  // shifted by one byte
}

TEST(PayloadTest, SizesStayInRangeAndSpreadOverIt) {
  std::set<uint32_t> seen;
  for (uint64_t seq = 0; seq < 10000; ++seq) {
    const uint32_t size = PayloadPattern::MessageSize(7, seq, 10, 20);
    ASSERT_GE(size, 10u);
    ASSERT_LE(size, 20u);
    seen.insert(size);
  }
  EXPECT_EQ(seen.size(), 11u);
  EXPECT_EQ(PayloadPattern::MessageSize(7, 3, 64, 64), 64u);
}

}  // namespace
}  // namespace socklab::client

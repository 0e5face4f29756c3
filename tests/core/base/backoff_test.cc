#include "core/base/backoff.h"

#include <algorithm>
#include <cstdint>
#include <set>

#include "gtest/gtest.h"

namespace socklab {
namespace {

constexpr int64_t kMs = 1'000'000;

TEST(Backoff, DoublesUpToTheCapWithoutJitter) {
  Backoff backoff(10 * kMs, 1000 * kMs);
  const int64_t expected[] = {10, 20, 40, 80, 160, 320, 640, 1000, 1000, 1000};
  for (int64_t ms : expected) {
    EXPECT_EQ(backoff.Next(), ms * kMs);
  }
  EXPECT_EQ(backoff.failures(), 10);
}

TEST(Backoff, ResetStartsAgainFromTheInitialDelay) {
  Backoff backoff(10 * kMs, 1000 * kMs);
  backoff.Next();
  backoff.Next();
  backoff.Next();
  backoff.Reset();
  EXPECT_EQ(backoff.failures(), 0);
  EXPECT_EQ(backoff.Next(), 10 * kMs);
  EXPECT_EQ(backoff.Next(), 20 * kMs);
}

TEST(Backoff, NeverOverflowsHoweverLongItFails) {
  Backoff backoff(1, INT64_MAX);
  int64_t last = 0;
  for (int i = 0; i < 200; ++i) {
    const int64_t delay = backoff.Next();
    EXPECT_GE(delay, last);
    last = delay;
  }
  EXPECT_EQ(last, INT64_MAX);
}

TEST(Backoff, JitterStaysInTheUpperHalfOfEachDelay) {
  for (uint64_t seed = 1; seed <= 50; ++seed) {
    Backoff backoff(10 * kMs, 1000 * kMs, seed);
    int64_t base = 10 * kMs;
    for (int i = 0; i < 10; ++i) {
      const int64_t delay = backoff.Next();
      EXPECT_GE(delay, base / 2) << "seed " << seed << " retry " << i;
      EXPECT_LT(delay, base) << "seed " << seed << " retry " << i;
      base = std::min(base * 2, 1000 * kMs);
    }
  }
}

TEST(Backoff, JitterIsDeterministicPerSeedAndSpreadsCallers) {
  Backoff a(10 * kMs, 1000 * kMs, 7);
  Backoff b(10 * kMs, 1000 * kMs, 7);
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(a.Next(), b.Next());
  }
  // Callers with different seeds do not retry in lockstep: 100 of them pick many first delays.
  std::set<int64_t> firsts;
  for (uint64_t seed = 1; seed <= 100; ++seed) {
    firsts.insert(Backoff(10 * kMs, 1000 * kMs, seed).Next());
  }
  EXPECT_GT(firsts.size(), 90u);
}

}  // namespace
}  // namespace socklab

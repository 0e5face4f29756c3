#include "client/load/shard.h"

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "gtest/gtest.h"
#include "tests/client/load/socklab_process.h"

namespace socklab::client {
namespace {

TEST(ShardTest, SharesSumExactlyWithRemaindersOnTheFirstShards) {
  for (uint64_t total : {0, 1, 2, 7, 100, 1001, 999'983}) {
    for (int n : {1, 2, 3, 7, 64}) {
      uint64_t sum = 0;
      uint64_t previous = ~uint64_t{0};
      for (int i = 0; i < n; ++i) {
        const uint64_t share = ShareOf(total, {i, n});
        EXPECT_LE(share, previous);  // never more than an earlier shard
        EXPECT_LE(share, total / n + 1);
        previous = share;
        sum += share;
      }
      EXPECT_EQ(sum, total) << total << "/" << n;
    }
  }
  EXPECT_EQ(ShareOf(7, {0, 3}), 3u);
  EXPECT_EQ(ShareOf(7, {2, 3}), 2u);
  double rate = 0;
  for (int i = 0; i < 3; ++i) {
    rate += RateShareOf(1000, {i, 3});
  }
  EXPECT_EQ(rate, 1000);
  EXPECT_EQ(RateShareOf(1000, {0, 3}), 334);
  EXPECT_DOUBLE_EQ(RateShareOf(0.5, {1, 2}), 0.25);
}

TEST(ShardTest, ParsesShardsAndTimes) {
  absl::StatusOr<Shard> shard = ParseShard("2/5");
  ASSERT_TRUE(shard.ok());
  EXPECT_EQ(shard->index, 2);
  EXPECT_EQ(shard->count, 5);
  for (const char* bad : {"5/5", "-1/3", "1", "1/0", "a/b", "1/3x"}) {
    EXPECT_FALSE(ParseShard(bad).ok()) << bad;
  }
  absl::StatusOr<absl::Time> rfc = ParseStartAt("2026-12-06T11:00:00+01:00");
  ASSERT_TRUE(rfc.ok());
  EXPECT_EQ(absl::ToUnixSeconds(*rfc), 1796551200);
  absl::StatusOr<absl::Time> unix_seconds = ParseStartAt("1796551200.5");
  ASSERT_TRUE(unix_seconds.ok());
  EXPECT_EQ(absl::ToUnixMillis(*unix_seconds), 1796551200500);
  EXPECT_EQ(FormatStartAt(*unix_seconds), "2026-12-06T10:00:00.500Z");
  EXPECT_FALSE(ParseStartAt("tomorrow").ok());
}

// Bad agent flags: exit 2, one line on stderr naming the flag and the value, before any load.
TEST(ShardTest, BadAgentFlagsExitTwoWithOneLine) {
  struct Case {
    std::vector<std::string> args;
    std::string names;
  };
  const std::vector<Case> cases = {
      {{"--shard", "3/3"}, "--shard '3/3' is not I/N"},
      {{"--shard", "3/4", "-c", "3"}, "leaves this agent none of -c 3"},
      {{"--shard", "3/4", "-c", "8", "-n", "3"}, "none of -n 3"},
      {{"--start-at", "1000"}, "--start-at 1000 is in the past"},
      {{"--start-at", "noon"}, "--start-at 'noon' is no time"},
      {{"--run-id", "a b"}, "--run-id 'a b' has a ' '"},
      {{"--shard", "0/2", "--repeat", "2"}, "--shard or --start-at with --repeat"},
  };
  for (const Case& c : cases) {
    std::vector<std::string> args = {"load", "127.0.0.1:9", "-d", "1s"};
    args.insert(args.end(), c.args.begin(), c.args.end());
    testing::SocklabProcess process(args);
    if (!process.available()) {
      GTEST_SKIP() << "SOCKLAB_BIN_DIR/socklab is not built";
    }
    testing::ProcessOutcome outcome = process.Wait(20'000);
    EXPECT_EQ(outcome.exit_code, 2) << c.names << ": " << outcome.err;
    EXPECT_TRUE(absl::StrContains(outcome.err, c.names)) << outcome.err;
    EXPECT_EQ(std::count(outcome.err.begin(), outcome.err.end(), '\n'), 1) << outcome.err;
  }
}

}  // namespace
}  // namespace socklab::client

#include "core/stats/error_counts.h"

#include <errno.h>

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace socklab {
namespace {

TEST(ErrorCountsTest, CountsByPhaseAndClassWithFirstOccurrence) {
  ErrorCounts counts;
  counts.RecordErrno(Phase::kConnect, ECONNREFUSED, 200);
  counts.RecordErrno(Phase::kConnect, ECONNREFUSED, 100);
  counts.RecordClass(Phase::kRead, ErrorClass::kDeadline, 300);
  EXPECT_EQ(counts.count(Phase::kConnect, ErrorClass::kRefused), 2u);
  EXPECT_EQ(counts.count(Phase::kRead, ErrorClass::kDeadline), 1u);
  EXPECT_EQ(counts.Total(), 3u);
  EXPECT_EQ(counts.ToText(), "connect ECONNREFUSED 2, read deadline 1");
  const nlohmann::json json = counts.ToJson();
  ASSERT_EQ(json.size(), 2u);
  EXPECT_EQ(json[0]["first_seen_ns"], 200);
}

TEST(ErrorCountsTest, MergeKeepsTheEarliestFirstOccurrence) {
  ErrorCounts a;
  ErrorCounts b;
  a.RecordErrno(Phase::kRead, ECONNRESET, 500);
  b.RecordErrno(Phase::kRead, ECONNRESET, 100);
  b.RecordErrno(Phase::kSocket, EMFILE, 700);
  a.Merge(b);
  EXPECT_EQ(a.count(Phase::kRead, ErrorClass::kReset), 2u);
  EXPECT_EQ(a.count(Phase::kSocket, ErrorClass::kNoFds), 1u);
  EXPECT_EQ(a.ToJson()[0]["first_seen_ns"], 700);  // socket sorts before read
  EXPECT_EQ(a.ToJson()[1]["first_seen_ns"], 100);
}

}  // namespace
}  // namespace socklab

#include "client/load/issue_policy.h"

#include "gtest/gtest.h"

namespace socklab::client {
namespace {

TEST(MessageBudget, WithoutMessagesNothingRunsOut) {
  MessageBudget budget(/*messages=*/0, /*churn=*/0, /*share=*/0);
  int64_t reserved = 0;
  for (int i = 0; i < 1000; ++i) {
    EXPECT_TRUE(budget.TakeOne(&reserved));
  }
  EXPECT_FALSE(budget.exhausted());
  EXPECT_TRUE(budget.HasMoreAfter(0));
}

TEST(MessageBudget, TheShareIsIssuedExactlyOnceAndUnsentMessagesComeBack) {
  MessageBudget budget(/*messages=*/10, /*churn=*/0, /*share=*/3);
  int64_t reserved = 0;
  EXPECT_TRUE(budget.TakeOne(&reserved));
  EXPECT_TRUE(budget.TakeOne(&reserved));
  EXPECT_TRUE(budget.TakeOne(&reserved));
  EXPECT_FALSE(budget.exhausted());
  EXPECT_FALSE(budget.TakeOne(&reserved));
  EXPECT_TRUE(budget.exhausted());
  // A connection failed before sending one: another connection sends it.
  budget.ReturnUnsent(1);
  EXPECT_FALSE(budget.exhausted());
  EXPECT_TRUE(budget.TakeOne(&reserved));
  EXPECT_EQ(budget.left(), 0);
}

TEST(MessageBudget, ChurnReservesEachIncarnationUpFront) {
  MessageBudget budget(/*messages=*/10, /*churn=*/4, /*share=*/10);
  ASSERT_TRUE(budget.reserves());
  int64_t first = budget.ReserveIncarnation();
  int64_t second = budget.ReserveIncarnation();
  EXPECT_EQ(first, 4);
  EXPECT_EQ(second, 4);
  // The last incarnation gets what is left.
  int64_t third = budget.ReserveIncarnation();
  EXPECT_EQ(third, 2);
  EXPECT_FALSE(budget.exhausted());
  // Messages come from the reservation, not the budget.
  for (int i = 0; i < 2; ++i) {
    EXPECT_TRUE(budget.TakeOne(&third));
  }
  EXPECT_FALSE(budget.TakeOne(&third));
  EXPECT_FALSE(budget.HasMoreAfter(third));
  // Nothing left: a new incarnation gets none, and the budget is exhausted.
  EXPECT_EQ(budget.ReserveIncarnation(), 0);
  EXPECT_TRUE(budget.exhausted());
  // A closed connection's unused reservation comes back for another.
  budget.ReturnReserved(3);
  EXPECT_TRUE(budget.HasMoreAfter(0));
}

TEST(ConnectPacer, SpacesConnectsByTheRate) {
  ConnectPacer unpaced(0);
  EXPECT_FALSE(unpaced.paced());
  ConnectPacer pacer(1000);  // 1 ms apart
  ASSERT_TRUE(pacer.paced());
  pacer.Start(0);
  EXPECT_EQ(pacer.Reserve(0), 0);
  EXPECT_EQ(pacer.Reserve(0), 1'000'000);
  EXPECT_EQ(pacer.Reserve(0), 2'000'000);
  // After a quiet spell the next connect may start at once; the rate allows no catching up.
  EXPECT_EQ(pacer.Reserve(10'000'000), 10'000'000);
  EXPECT_EQ(pacer.Reserve(10'000'000), 11'000'000);
}

TEST(ScheduledTimes, CountsTheScheduleInsideTheWindow) {
  // Every 10 from 5: 5, 15, 25, ... In [0, 100): 10 times.
  EXPECT_EQ(ScheduledTimes(5, 10, 0, 100), 10u);
  // From 15 (inclusive) to 45 (exclusive): 15, 25, 35.
  EXPECT_EQ(ScheduledTimes(5, 10, 15, 45), 3u);
  EXPECT_EQ(ScheduledTimes(5, 10, 16, 45), 2u);
  // A window that ends before the schedule starts, or an empty one.
  EXPECT_EQ(ScheduledTimes(50, 10, 0, 50), 0u);
  EXPECT_EQ(ScheduledTimes(5, 10, 30, 30), 0u);
}

}  // namespace
}  // namespace socklab::client

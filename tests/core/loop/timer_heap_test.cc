#include "core/loop/timer_heap.h"

#include <vector>

#include "gtest/gtest.h"

namespace socklab::loop {
namespace {

TEST(TimerHeapTest, PopsInDeadlineOrderThenAdditionOrder) {
  TimerHeap heap;
  heap.Add(30, 3);
  heap.Add(10, 1);
  heap.Add(20, 2);
  heap.Add(20, 22);  // same deadline as token 2, added later: fires after it
  EXPECT_EQ(heap.NextDeadline(), 10);
  EXPECT_FALSE(heap.PopExpired(9).has_value());
  std::vector<Token> fired;
  while (auto e = heap.PopExpired(100)) {
    fired.push_back(e->token);
  }
  EXPECT_EQ(fired, (std::vector<Token>{1, 2, 22, 3}));
  EXPECT_TRUE(heap.empty());
  EXPECT_FALSE(heap.NextDeadline().has_value());
}

TEST(TimerHeapTest, CancelledTimersNeverFire) {
  TimerHeap heap;
  TimerId a = heap.Add(10, 1);
  TimerId b = heap.Add(20, 2);
  TimerId c = heap.Add(30, 3);
  EXPECT_TRUE(heap.Cancel(a));
  EXPECT_FALSE(heap.Cancel(a));  // twice
  EXPECT_EQ(heap.NextDeadline(), 20);
  EXPECT_EQ(heap.size(), 2u);
  auto first = heap.PopExpired(25);
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->id, b);
  EXPECT_FALSE(heap.Cancel(b));  // already fired
  EXPECT_TRUE(heap.Cancel(c));
  EXPECT_FALSE(heap.PopExpired(1000).has_value());
}

TEST(TimerHeapTest, ReArmingFiresOnlyTheLastTimer) {
  // An idle timeout re-armed on every read: add one, cancel the previous, many times.
  TimerHeap heap;
  TimerId previous = heap.Add(1'000'000, 0);
  for (int i = 1; i < 100'000; ++i) {
    TimerId next = heap.Add(1'000'000 + i, static_cast<Token>(i));
    ASSERT_TRUE(heap.Cancel(previous));
    previous = next;
  }
  EXPECT_EQ(heap.size(), 1u);
  auto e = heap.PopExpired(10'000'000);
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->token, 99'999u);
  EXPECT_TRUE(heap.empty());
}

TEST(TimerHeapTest, IdsAreUniqueAndNonZero) {
  TimerHeap heap;
  TimerId a = heap.Add(5, 0);
  TimerId b = heap.Add(5, 0);
  EXPECT_NE(a, 0u);
  EXPECT_NE(a, b);
}

}  // namespace
}  // namespace socklab::loop

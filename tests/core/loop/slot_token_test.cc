#include "core/loop/slot_token.h"

#include <cstdint>
#include <limits>

#include "gtest/gtest.h"

namespace socklab::loop {
namespace {

constexpr uint32_t kMaxU32 = std::numeric_limits<uint32_t>::max();

TEST(SlotTokenTest, SlotAndGenerationRoundTrip) {
  for (uint32_t slot : {0u, 1u, 7u, 1u << 20, kMaxU32}) {
    for (uint32_t generation : {0u, 1u, 2u, 1u << 31, kMaxU32}) {
      Token token = MakeToken(slot, generation);
      EXPECT_EQ(SlotOf(token), slot);
      EXPECT_EQ(GenerationOf(token), generation);
    }
  }
}

// The layout itself is part of the contract: the generation in the high half, the slot in the
// low half, so a slot number alone is a worker token.
TEST(SlotTokenTest, GenerationIsTheHighHalf) {
  EXPECT_EQ(MakeToken(5, 3), (uint64_t{3} << 32) | 5);
  EXPECT_EQ(WorkerToken(4), Token{4});
}

TEST(SlotTokenTest, AStaleTokenNeverNamesTheSlotsNextTenant) {
  for (uint32_t generation : {kFirstGeneration, 2u, 1u << 31, kMaxU32 - 1, kMaxU32}) {
    uint32_t next = NextGeneration(generation);
    EXPECT_NE(next, generation);
    for (uint32_t slot : {0u, 3u, kMaxU32}) {
      EXPECT_NE(MakeToken(slot, generation), MakeToken(slot, next));
      EXPECT_EQ(SlotOf(MakeToken(slot, next)), slot);
    }
  }
}

TEST(SlotTokenTest, GenerationZeroIsNeverATenants) {
  EXPECT_NE(kFirstGeneration, 0u);
  // Counting up wraps past 0 to the first generation.
  EXPECT_EQ(NextGeneration(kMaxU32), kFirstGeneration);
  EXPECT_EQ(NextGeneration(0), kFirstGeneration);
  uint32_t generation = kMaxU32 - 2;
  for (int i = 0; i < 5; ++i) {
    generation = NextGeneration(generation);
    EXPECT_NE(generation, 0u);
    EXPECT_FALSE(IsWorkerToken(MakeToken(0, generation)));
    EXPECT_NE(MakeToken(0, generation), WorkerToken(0));
  }
}

TEST(SlotTokenTest, WorkerTokensAreTheGenerationZeroOnes) {
  for (uint32_t id : {0u, 1u, 4u, kMaxU32}) {
    EXPECT_TRUE(IsWorkerToken(WorkerToken(id)));
    EXPECT_EQ(WorkerToken(id), MakeToken(id, 0));
  }
  EXPECT_FALSE(IsWorkerToken(MakeToken(0, kFirstGeneration)));
}

// Evaluated by the compiler too: the helpers are usable for constants such as an accept token.
static_assert(SlotOf(MakeToken(9, 2)) == 9 && GenerationOf(MakeToken(9, 2)) == 2);
static_assert(IsWorkerToken(WorkerToken(3)) && !IsWorkerToken(MakeToken(3, kFirstGeneration)));

}  // namespace
}  // namespace socklab::loop

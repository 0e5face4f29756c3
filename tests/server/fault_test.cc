#include "server/fault.h"

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "gtest/gtest.h"

namespace socklab::server {
namespace {

absl::StatusOr<FaultPlan> Parse(std::vector<std::string> specs, double probability = 1.0,
                                uint64_t seed = 0) {
  return ParseFaultPlan(specs, probability, seed);
}

TEST(FaultPlanTest, NoFaultIsNone) {
  absl::StatusOr<FaultPlan> plan = Parse({});
  ASSERT_TRUE(plan.ok());
  EXPECT_FALSE(plan->any());
  EXPECT_EQ(FaultPlanToString(*plan), "none");
}

TEST(FaultPlanTest, TriggersAreBytesOrDurations) {
  absl::StatusOr<FaultPlan> plan = Parse({"reset-after=4k", "close-after=2s"});
  ASSERT_TRUE(plan.ok()) << plan.status();
  ASSERT_TRUE(plan->reset_after.has_value());
  EXPECT_EQ(plan->reset_after->bytes, 4096u);
  EXPECT_FALSE(plan->reset_after->time.has_value());
  ASSERT_TRUE(plan->close_after.has_value());
  EXPECT_EQ(plan->close_after->time, absl::Seconds(2));
  EXPECT_FALSE(plan->close_after->bytes.has_value());
  EXPECT_EQ(FaultPlanToString(*plan), "reset-after=4.0 KiB,close-after=2s probability=1");
}

TEST(FaultPlanTest, ZeroBytesIsAtOnce) {
  absl::StatusOr<FaultPlan> plan = Parse({"reset-after=0"});
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(plan->reset_after->bytes, 0u);
}

TEST(FaultPlanTest, ModesCombine) {
  absl::StatusOr<FaultPlan> plan = Parse({"blackhole", "reset-after=3s"}, 0.5, 7);
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_TRUE(plan->blackhole);
  EXPECT_EQ(FaultPlanToString(*plan), "reset-after=3s,blackhole probability=0.5 seed=7");
  plan = Parse({"half-close-after=100", "stop-reading-after=1s"});
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ(plan->half_close_after->bytes, 100u);
  EXPECT_EQ(plan->stop_reading_after->time, absl::Seconds(1));
  EXPECT_TRUE(plan->per_connection());
  plan = Parse({"delay=200ms:50ms"});
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ(plan->delay, absl::Milliseconds(200));
  EXPECT_EQ(plan->jitter, absl::Milliseconds(50));
  EXPECT_EQ(FaultPlanToString(*plan), "delay=200ms:50ms probability=1");
  plan = Parse({"rate=64k/s", "slice=10:50ms"});
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ(plan->rate, 65536u);
  EXPECT_EQ(plan->slice_bytes, 10u);
  EXPECT_EQ(plan->slice_gap, absl::Milliseconds(50));
  EXPECT_TRUE(plan->paced());
  EXPECT_EQ(FaultPlanToString(*plan), "rate=64.0 KiB/s,slice=10:50ms probability=1");
  plan = Parse({"no-accept"});
  ASSERT_TRUE(plan.ok());
  EXPECT_TRUE(plan->no_accept);
  EXPECT_FALSE(plan->per_connection());
  plan = Parse({"refuse-after=10"});
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(plan->refuse_after, 10u);
}

TEST(FaultPlanTest, BadValuesNameTheProblemAndTheFix) {
  struct Case {
    std::vector<std::string> specs;
    double probability;
    const char* problem;
  };
  for (const Case& c : std::vector<Case>{
           {{"explode"}, 1.0, "unknown --fault 'explode'"},
           {{"reset-after"}, 1.0, "--fault reset-after needs a value"},
           {{"reset-after=soon"}, 1.0, "bad --fault value 'reset-after=soon'"},
           {{"close-after=-2s"}, 1.0, "bad --fault value 'close-after=-2s'"},
           {{"refuse-after=x"}, 1.0, "bad --fault value 'refuse-after=x'"},
           {{"refuse-after"}, 1.0, "bad --fault value 'refuse-after'"},
           {{"blackhole=1"}, 1.0, "unknown --fault 'blackhole=1'"},
           {{"delay=5"}, 1.0, "bad --fault value 'delay=5'"},
           {{"rate=0"}, 1.0, "bad --fault value 'rate=0'"},
           {{"slice=0"}, 1.0, "bad --fault value 'slice=0'"},
           {{"slice=10:x"}, 1.0, "bad --fault value 'slice=10:x'"},
           {{"delay=1s:x"}, 1.0, "bad --fault value 'delay=1s:x'"},
           {{"blackhole", "blackhole"}, 1.0, "--fault blackhole given twice"},
           {{"blackhole"}, 1.5, "--fault-probability 1.5 is out of range"},
           {{"blackhole"}, -0.1, "--fault-probability -0.1 is out of range"},
           {{"no-accept"}, 0.5, "--fault-probability without a per-connection fault"},
           {{"no-accept", "refuse-after=1"}, 1.0, "--fault no-accept and refuse-after together"},
       }) {
    absl::StatusOr<FaultPlan> plan = Parse(c.specs, c.probability);
    ASSERT_FALSE(plan.ok()) << c.problem;
    EXPECT_EQ(plan.status().code(), absl::StatusCode::kInvalidArgument);
    std::string message(plan.status().message());
    EXPECT_EQ(message.rfind(c.problem, 0), 0u) << message;
    EXPECT_NE(message.find("; "), std::string::npos) << "no fix named: " << message;
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
  }
}

TEST(FaultDiceTest, TheShareFollowsTheProbabilityAndTheSeedRepeatsIt) {
  absl::StatusOr<FaultPlan> plan = Parse({"blackhole"}, 0.25, 42);
  ASSERT_TRUE(plan.ok());
  FaultDice a(*plan, 0);
  FaultDice b(*plan, 0);
  FaultDice other_worker(*plan, 1);
  int hits = 0;
  int differ = 0;
  for (int i = 0; i < 4000; ++i) {
    bool hit = a.Roll();
    EXPECT_EQ(hit, b.Roll());
    differ += hit != other_worker.Roll() ? 1 : 0;
    hits += hit ? 1 : 0;
  }
  // Binomial(4000, 0.25): mean 1000, sd 27; 8 sd either way.
  EXPECT_GT(hits, 780);
  EXPECT_LT(hits, 1220);
  EXPECT_GT(differ, 0);  // each worker draws its own sequence
}

TEST(FaultDiceTest, AllOrNothingNeedNoDraw) {
  FaultPlan plan;
  plan.probability = 1.0;
  FaultDice always(plan, 0);
  plan.probability = 0.0;
  FaultDice never(plan, 0);
  for (int i = 0; i < 100; ++i) {
    EXPECT_TRUE(always.Roll());
    EXPECT_FALSE(never.Roll());
  }
}

}  // namespace
}  // namespace socklab::server

#include "client/load/shortage_gate.h"

#include <optional>
#include <vector>

#include "gtest/gtest.h"

namespace socklab::client {
namespace {

constexpr int64_t kMs = 1'000'000;

TEST(ShortageGate, StartsFreelyUntilAShortage) {
  ShortageGate gate;
  for (uint32_t slot = 0; slot < 10; ++slot) {
    EXPECT_TRUE(gate.MayStart(slot));
  }
  EXPECT_FALSE(gate.in_shortage());
  EXPECT_TRUE(gate.OnThrough(3, 0).empty());  // nothing waits
}

TEST(ShortageGate, OneProbeAtATimeBacksOffWhileTheShortageLasts) {
  ShortageGate gate;
  // Slot 0 fails: the shortage begins, the first probe is due after 10 ms.
  ASSERT_EQ(gate.OnShortage(0, 0), std::optional<int64_t>(10 * kMs));
  // Every other start now waits, without trying.
  for (uint32_t slot = 1; slot < 5; ++slot) {
    EXPECT_FALSE(gate.MayStart(slot));
    gate.Park(slot);
  }
  // Each probe that fails doubles the wait, up to 1 s; one slot at a time may try.
  int64_t now = 10 * kMs;
  int64_t wait = 20 * kMs;
  for (int i = 0; i < 10; ++i) {
    const std::optional<uint32_t> probe = gate.OnProbeTime(now);
    ASSERT_TRUE(probe.has_value());
    EXPECT_EQ(*probe, 0u) << "the first that failed tries first";
    EXPECT_TRUE(gate.MayStart(*probe));
    EXPECT_FALSE(gate.MayStart(1));
    EXPECT_EQ(gate.OnProbeTime(now), std::nullopt) << "one probe at a time";
    ASSERT_EQ(gate.OnShortage(*probe, now), std::optional<int64_t>(now + wait));
    now += wait;
    wait = std::min<int64_t>(wait * 2, 1000 * kMs);
  }
  EXPECT_EQ(gate.shortage_failures(), 11u);
  EXPECT_EQ(gate.waiting(), 5u);
}

TEST(ShortageGate, AttemptsFromBeforeTheShortageDoNotEndIt) {
  ShortageGate gate;
  ASSERT_TRUE(gate.OnShortage(0, 0).has_value());
  gate.Park(1);
  // Slot 7 got its fd before the shortage began: its success says nothing about now.
  EXPECT_TRUE(gate.OnThrough(7, kMs).empty());
  EXPECT_TRUE(gate.in_shortage());
  // Slot 8, also from before, fails: it waits, and no second timer is asked for.
  EXPECT_EQ(gate.OnShortage(8, kMs), std::nullopt);
  EXPECT_EQ(gate.waiting(), 3u);
}

TEST(ShortageGate, AProbeThatGetsThroughReleasesTwoPerSuccessAndResetsTheBackOff) {
  ShortageGate gate;
  ASSERT_TRUE(gate.OnShortage(0, 0).has_value());
  for (uint32_t slot = 1; slot < 6; ++slot) {
    gate.Park(slot);
  }
  const std::optional<uint32_t> probe = gate.OnProbeTime(10 * kMs);
  ASSERT_EQ(probe, std::optional<uint32_t>(0));
  EXPECT_EQ(gate.OnThrough(0, 15 * kMs), (std::vector<uint32_t>{1, 2}));
  EXPECT_FALSE(gate.in_shortage());
  EXPECT_EQ(gate.shortage_ns(100 * kMs), 15 * kMs);
  EXPECT_EQ(gate.OnThrough(1, 16 * kMs), (std::vector<uint32_t>{3, 4}));
  EXPECT_EQ(gate.OnThrough(2, 16 * kMs), (std::vector<uint32_t>{5}));
  EXPECT_EQ(gate.waiting(), 0u);
  // The back-off starts again from 10 ms.
  EXPECT_EQ(gate.OnShortage(3, 20 * kMs), std::optional<int64_t>(30 * kMs));
}

TEST(ShortageGate, TheShortageEndsWhenNothingWaits) {
  ShortageGate gate;
  ASSERT_TRUE(gate.OnShortage(0, 0).has_value());
  const std::optional<uint32_t> probe = gate.OnProbeTime(10 * kMs);
  ASSERT_TRUE(probe.has_value());
  // The probe gives up (-n used up): the next probe is due at once, and with nothing waiting the
  // shortage is over.
  EXPECT_EQ(gate.OnAbandoned(*probe, 12 * kMs), std::optional<int64_t>(12 * kMs));
  EXPECT_EQ(gate.OnProbeTime(12 * kMs), std::nullopt);
  EXPECT_FALSE(gate.in_shortage());
  EXPECT_TRUE(gate.MayStart(5));
}

TEST(ShortageGate, ClearForgetsTheWaitingOnes) {
  ShortageGate gate;
  ASSERT_TRUE(gate.OnShortage(0, 0).has_value());
  gate.Park(1);
  gate.Clear(5 * kMs);
  EXPECT_EQ(gate.waiting(), 0u);
  EXPECT_FALSE(gate.in_shortage());
  EXPECT_EQ(gate.OnProbeTime(10 * kMs), std::nullopt);
  EXPECT_EQ(gate.shortage_ns(10 * kMs), 5 * kMs);
}

}  // namespace
}  // namespace socklab::client

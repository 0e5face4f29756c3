#include "server/server_stats.h"

#include <errno.h>

#include <string>

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace socklab::server {
namespace {

TEST(IntervalLineTest, EveryCountIsForTheIntervalButOpen) {
  WorkerStats stats;
  stats.AddAccepted();
  stats.AddAccepted();
  stats.RecordErrno(Phase::kRead, ECONNRESET, 1);
  stats.RecordErrno(Phase::kAccept, EMFILE, 2);
  StatsSnapshot before = stats.Snapshot();
  stats.AddAccepted();
  stats.AddClosed();
  stats.RecordErrno(Phase::kRead, ECONNRESET, 3);
  stats.RecordErrno(Phase::kRead, ECONNRESET, 4);
  StatsSnapshot now = stats.Snapshot();
  std::string line = IntervalLine(now, before, 1.0);
  EXPECT_NE(line.find("open=2 accepted=+1 closed=+1"), std::string::npos) << line;
  // Two resets in this interval; the earlier reset and the EMFILE belong to the last one.
  EXPECT_NE(line.find("errors=+2 (read ECONNRESET +2)"), std::string::npos) << line;
  EXPECT_EQ(line.find("EMFILE"), std::string::npos) << line;

  std::string quiet = IntervalLine(now, now, 1.0);
  EXPECT_NE(quiet.find("errors=+0"), std::string::npos) << quiet;
  EXPECT_EQ(quiet.find("("), std::string::npos) << quiet;
}

TEST(SummaryTest, TotalsStayCumulative) {
  WorkerStats stats;
  stats.RecordErrno(Phase::kRead, ECONNRESET, 1);
  stats.RecordErrno(Phase::kRead, ECONNRESET, 2);
  EXPECT_NE(SummaryText(stats.Snapshot()).find("read ECONNRESET 2"), std::string::npos);
}

TEST(IntervalLineTest, TimeoutsShowOnlyWhenSomeHappened) {
  WorkerStats stats;
  StatsSnapshot before = stats.Snapshot();
  EXPECT_EQ(IntervalLine(before, before, 1.0).find("timeouts"), std::string::npos);
  stats.AddIdleTimeout();
  stats.AddWriteTimeout();
  std::string line = IntervalLine(stats.Snapshot(), before, 1.0);
  EXPECT_NE(line.find("timeouts=+2"), std::string::npos) << line;
  EXPECT_NE(line.find("errors=+0"), std::string::npos) << "a timeout is not an error: " << line;
}

TEST(SummaryTest, DrainCutsAndUnechoedBytesInTextAndJson) {
  WorkerStats stats;
  stats.AddDrainCut(1000);
  stats.AddDrainCut(24);
  StatsSnapshot s = stats.Snapshot();
  std::string text = SummaryText(s);
  EXPECT_NE(text.find("drain: 2 connections cut at the deadline, 1.0 KiB (1024) unechoed"),
            std::string::npos)
      << text;
  nlohmann::json j = SummaryJson(s);
  EXPECT_EQ(j["drain"]["cut"], 2);
  EXPECT_EQ(j["drain"]["unechoed_bytes"], 1024);
}

TEST(IntervalLineTest, FaultsShowByModeOnlyWhenSomeWereApplied) {
  WorkerStats stats;
  StatsSnapshot before = stats.Snapshot();
  EXPECT_EQ(IntervalLine(before, before, 1.0).find("faults"), std::string::npos);
  stats.AddFaultReset();
  stats.AddFaultReset();
  stats.AddFaultListenerClose();
  std::string line = IntervalLine(stats.Snapshot(), before, 1.0);
  EXPECT_NE(line.find("faults=+3 (reset +2, listener_closed +1)"), std::string::npos) << line;
  EXPECT_NE(line.find("errors=+0"), std::string::npos) << "a fault is not an error: " << line;
}

TEST(SummaryTest, FaultsByModeInTextAndJson) {
  WorkerStats stats;
  stats.AddFaultClose();
  stats.AddFaultBlackhole();
  stats.AddFaultBlackhole();
  stats.AddFaultRefusedLate();
  StatsSnapshot s = stats.Snapshot();
  std::string text = SummaryText(s);
  EXPECT_NE(
      text.find("faults: reset 0, close 1, half close 0, stop reading 0, blackhole 2, paced 0, "
                "listener closed 0, "
                "refused late 1"),
      std::string::npos)
      << text;
  nlohmann::json j = SummaryJson(s);
  EXPECT_EQ(j["faults"]["close"], 1);
  EXPECT_EQ(j["faults"]["blackhole"], 2);
  EXPECT_EQ(j["faults"]["refused_late"], 1);
  StatsSnapshot sum;
  sum.Add(s);
  sum.Add(s);
  EXPECT_EQ(sum.faults(), 8u);
}

}  // namespace
}  // namespace socklab::server

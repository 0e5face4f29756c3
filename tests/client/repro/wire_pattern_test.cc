#include "client/repro/wire_pattern.h"

#include <vector>

#include "client/repro/registry.h"
#include "gtest/gtest.h"

namespace socklab::repro {
namespace {

WireSegmentLine Line(int connection, bool from_client, const std::string& flags) {
  WireSegmentLine s;
  s.connection = connection;
  s.from_client = from_client;
  s.flags = flags;
  return s;
}

TEST(WirePatternTest, EveryScenarioDeclaresAPatternInTheNotation) {
  for (const Scenario& s : AllScenarios()) {
    EXPECT_TRUE(ValidateWirePattern(s.info.wire).ok())
        << s.info.name << ": '" << s.info.wire << "' " << ValidateWirePattern(s.info.wire);
  }
}

TEST(WirePatternTest, MalformedPatternsAreNamed) {
  EXPECT_FALSE(ValidateWirePattern("").ok());
  EXPECT_FALSE(ValidateWirePattern("SYN, < RST/ACK").ok());
  EXPECT_FALSE(ValidateWirePattern("> SYN,< RST").ok());
  EXPECT_FALSE(ValidateWirePattern("nothing back").ok());
  EXPECT_FALSE(ValidateWirePattern("> SYN, nothing back, > SYN").ok());
  EXPECT_FALSE(ValidateWirePattern("no packet, > SYN").ok());
  EXPECT_TRUE(ValidateWirePattern("> SYN, > SYN, nothing back").ok());
}

TEST(WirePatternTest, ItemsMatchInOrderOnOneConnectionWithOthersBetween) {
  std::vector<WireSegmentLine> refused = {Line(1, true, "SYN"), Line(1, false, "RST/ACK")};
  EXPECT_TRUE(MatchWirePattern("> SYN, < RST/ACK", refused).ok);
  EXPECT_EQ(MatchWirePattern("> SYN, < RST/ACK", refused).observed, "> SYN, < RST/ACK");
  EXPECT_FALSE(MatchWirePattern("< RST/ACK, > SYN", refused).ok);
  EXPECT_FALSE(MatchWirePattern("> SYN, < RST", refused).ok);  // the ACK flag counts
  std::vector<WireSegmentLine> with_ack = {Line(1, true, "SYN"),  Line(1, false, "SYN/ACK"),
                                           Line(1, true, "ACK"),  Line(1, true, "PSH/ACK"),
                                           Line(1, false, "ACK"), Line(1, false, "RST/ACK")};
  EXPECT_TRUE(MatchWirePattern("> SYN, < SYN/ACK, > ACK, > PSH/ACK, < RST/ACK", with_ack).ok);
}

TEST(WirePatternTest, ItemsSpreadOverTwoConnectionsDoNotMatch) {
  std::vector<WireSegmentLine> two = {Line(1, true, "SYN"), Line(2, false, "RST/ACK")};
  WireMatch m = MatchWirePattern("> SYN, < RST/ACK", two);
  EXPECT_FALSE(m.ok);
  EXPECT_EQ(m.observed, "connection 1 of 2: > SYN");
}

TEST(WirePatternTest, NothingBackAndNoPacket) {
  std::vector<WireSegmentLine> unanswered = {Line(1, true, "SYN"), Line(1, true, "SYN")};
  EXPECT_TRUE(MatchWirePattern("> SYN, > SYN, nothing back", unanswered).ok);
  EXPECT_EQ(MatchWirePattern("> SYN, > SYN, nothing back", unanswered).observed,
            "> SYN, > SYN, nothing back");
  unanswered.push_back(Line(1, false, "RST/ACK"));
  EXPECT_FALSE(MatchWirePattern("> SYN, > SYN, nothing back", unanswered).ok);
  EXPECT_TRUE(MatchWirePattern("no packet", {}).ok);
  EXPECT_FALSE(MatchWirePattern("no packet", unanswered).ok);
  EXPECT_EQ(MatchWirePattern("no packet", unanswered).observed, "3 segments on 1 connection");
  EXPECT_FALSE(MatchWirePattern("> SYN", {}).ok);
}

}  // namespace
}  // namespace socklab::repro

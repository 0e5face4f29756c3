#include "client/repro/report.h"

#include "absl/strings/str_cat.h"
#include "client/repro/registry.h"
#include "client/repro/runner.h"
#include "core/limits/derivations.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace socklab::repro {
namespace {

ScenarioResult Sample() {
  ScenarioResult r;
  r.name = "refused";
  r.outcome = Outcome::kReproduced;
  r.seconds = 0.0123;
  Check c;
  c.call = "connect";
  c.phase = Phase::kConnect;
  c.expected = "ECONNREFUSED";
  c.observed = "ECONNREFUSED";
  c.observed_errno = ECONNREFUSED;
  c.error_class = "refused";
  c.seconds = 0.0001;
  c.ok = true;
  r.checks.push_back(c);
  r.steps.push_back({0.001, "client: connect(fd 4, 127.0.0.1:40000) = -1 ECONNREFUSED"});
  r.states.push_back({"after", 0.002, {{"client", "127.0.0.1:1", "-", "CLOSE", "", "unread 5 B"}}});
  r.counters.push_back({"Tcp.OutRsts", 1});
  r.counters_scope = "host namespace";
  r.notes.push_back("a note");
  r.kernel_lines.push_back("net.x = 1 here: advice");
  r.wire.expected = "> SYN, < RST/ACK";
  r.wire.observed = "> SYN, < RST/ACK";
  r.wire.ok = true;
  r.wire.pcap_path = "/tmp/refused.pcap";
  WireSegmentLine syn;
  syn.at_seconds = 0.001;
  syn.flags = "SYN";
  syn.window = 65495;
  syn.options = "mss 65495, sackOK, ts, wscale 7";
  syn.cause = "client: connect(fd 4, 127.0.0.1:40000)";
  WireSegmentLine rst;
  rst.at_seconds = 0.0011;
  rst.from_client = false;
  rst.flags = "RST/ACK";
  rst.ttl = 64;
  rst.ip_id = 0;
  rst.ack = 1;
  rst.window = 1u << 20;  // a scaled window beyond 16 bits survives the trip
  r.wire.segments = {syn, rst};
  r.wire.events = {{0.00105, "tcp_send_reset", "127.0.0.1:40000", "127.0.0.1:41000",
                    "RST sent (reason NO_SOCKET, state no socket)", ""}};
  return r;
}

TEST(Report, JsonRoundTrips) {
  ScenarioResult r = Sample();
  absl::StatusOr<ScenarioResult> back = ResultFromJson(ResultToJson(r));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(ResultToJson(*back), ResultToJson(r));
  EXPECT_EQ(back->checks[0].phase, Phase::kConnect);
  EXPECT_EQ(back->counters[0].delta, 1);
  ASSERT_EQ(back->wire.segments.size(), 2u);
  EXPECT_FALSE(back->wire.segments[1].from_client);
  EXPECT_EQ(back->wire.segments[1].window, 1u << 20);
  ASSERT_EQ(back->wire.events.size(), 1u);
  EXPECT_EQ(back->wire.events[0].name, "tcp_send_reset");
}

TEST(Report, TextShowsEverySegmentWithItsCause) {
  std::string text = RenderScenarioText(FindScenario("refused")->info, Sample());
  EXPECT_NE(text.find("wire       expected > SYN, < RST/ACK"), std::string::npos) << text;
  EXPECT_NE(text.find("client -> server  SYN     seq 0 ack 0 win 65495 len 0  mss 65495, "
                      "sackOK, ts, wscale 7  <- client: connect(fd 4, 127.0.0.1:40000)"),
            std::string::npos)
      << text;
  // A reset shows who built it in its IP header.
  EXPECT_NE(text.find("server -> client  RST/ACK seq 0 ack 1 win 1048576 len 0  ttl 64 id 0\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("tshark -r /tmp/refused.pcap"), std::string::npos) << text;
  // The kernel's event sits between the segments, where its time puts it.
  const size_t syn = text.find("client -> server  SYN");
  const size_t event = text.find("kernel 127.0.0.1:40000: RST sent (reason NO_SOCKET");
  const size_t rst = text.find("server -> client  RST/ACK");
  ASSERT_NE(event, std::string::npos) << text;
  EXPECT_LT(syn, event);
  EXPECT_LT(event, rst);
}

TEST(Report, TableListsThePatternsAndAMissingCaptureOnce) {
  std::string table = RenderTable({Sample(), Sample()});
  EXPECT_NE(table.find("on the wire"), std::string::npos) << table;
  EXPECT_EQ(table.find("no packet capture"), std::string::npos) << table;
  ScenarioResult blind = Sample();
  blind.wire = {};
  blind.wire.missing = "capturing packets on lo needs root or CAP_NET_RAW";
  table = RenderTable({blind, blind});
  size_t first = table.find("no packet capture: capturing packets on lo needs root");
  ASSERT_NE(first, std::string::npos) << table;
  EXPECT_EQ(table.find("no packet capture", first + 1), std::string::npos) << table;
}

TEST(Report, RejectsGarbage) {
  EXPECT_FALSE(ResultFromJson(nlohmann::json::array()).ok());
  nlohmann::json bad = ResultToJson(Sample());
  bad["outcome"] = "maybe";
  EXPECT_FALSE(ResultFromJson(bad).ok());
}

TEST(Report, TextNamesErrnoJavaCauseAndVerdict) {
  const Scenario* s = FindScenario("refused");
  ASSERT_NE(s, nullptr);
  std::string text = RenderScenarioText(s->info, Sample());
  EXPECT_NE(text.find("Connection refused (ECONNREFUSED)"), std::string::npos) << text;
  EXPECT_NE(text.find("java.net.ConnectException: Connection refused"), std::string::npos);
  EXPECT_NE(text.find("Tcp.OutRsts +1"), std::string::npos);
  EXPECT_NE(text.find("verdict    ok"), std::string::npos);
}

TEST(Report, TableHasOneRowPerResultAndSkipsSayWhy) {
  ScenarioResult skipped;
  skipped.name = "permission";
  skipped.outcome = Outcome::kSkipped;
  skipped.reason = "needs root";
  std::string table = RenderTable({Sample(), skipped});
  EXPECT_NE(table.find("refused"), std::string::npos);
  EXPECT_NE(table.find("skipped: needs root"), std::string::npos);
  EXPECT_EQ(ExitCodeForResults({Sample()}), 0);
  EXPECT_EQ(ExitCodeForResults({Sample(), skipped}), 3);
  ScenarioResult failed = Sample();
  failed.outcome = Outcome::kNotReproduced;
  EXPECT_EQ(ExitCodeForResults({failed, skipped}), 1);
}

TEST(Options, UnknownNamesAreUsageErrorsListingTheNames) {
  ReproOptions options;
  options.names = {"refused", "nope"};
  absl::Status s = options.Validate();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("unknown scenario 'nope'"), std::string::npos);
  EXPECT_NE(s.message().find("time-wait"), std::string::npos);
  EXPECT_FALSE(ReproOptions{}.Validate().ok());
  ReproOptions all;
  all.all = true;
  EXPECT_TRUE(all.Validate().ok());
  EXPECT_EQ(all.Selected().size(), AllScenarios().size());
}

TEST(Options, PcapNeedsADirectoryForSeveralScenariosAndAPlaceThatExists) {
  ReproOptions one;
  one.names = {"refused"};
  one.pcap = "/tmp/refused.pcap";
  EXPECT_TRUE(one.Validate().ok());
  EXPECT_EQ(one.PcapPathFor("refused"), "/tmp/refused.pcap");
  one.pcap = "/nonexistent-dir/refused.pcap";
  absl::Status missing = one.Validate();
  EXPECT_EQ(missing.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(missing.message().find("no directory /nonexistent-dir"), std::string::npos) << missing;
  ReproOptions all;
  all.all = true;
  all.pcap = "/tmp/all.pcap";
  absl::Status several = all.Validate();
  EXPECT_EQ(several.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(several.message().find("--pcap DIR/"), std::string::npos) << several;
  all.pcap = "/tmp";
  EXPECT_TRUE(all.Validate().ok());
  EXPECT_EQ(all.PcapPathFor("reset"), "/tmp/reset.pcap");
  all.pcap = "/tmp/";
  EXPECT_EQ(all.PcapPathFor("reset"), "/tmp/reset.pcap");
  EXPECT_EQ(ReproOptions{}.PcapPathFor("reset"), "");
}

TEST(Registry, NamesAreUniqueAndEveryScenarioIsExplained) {
  std::set<std::string> names;
  for (const Scenario& s : AllScenarios()) {
    EXPECT_TRUE(names.insert(s.info.name).second) << s.info.name;
    EXPECT_FALSE(s.info.java.empty()) << s.info.name;
    EXPECT_FALSE(s.info.cause.empty()) << s.info.name;
    EXPECT_FALSE(s.info.fix_code.empty()) << s.info.name;
    EXPECT_NE(s.body, nullptr);
  }
  EXPECT_GE(names.size(), 21u);
}

// A knob whose advised value is already in force on the host: no command that sets it again.
// The tutorial's texts that Linux never produces: --list says where each comes from and which
// Linux scenario is the same failure.
TEST(Registry, ListSaysWhereTheTextsLinuxNeverProducesComeFrom) {
  const std::string list = RenderList();
  for (const auto& [text, scenario] : std::vector<std::pair<std::string, std::string>>{
           {"java.net.BindException: Address already in use: connect", "port-exhaustion"},
           {"java.net.SocketException: Connection closed by remote host", "broken-pipe"}}) {
    EXPECT_NE(list.find(absl::StrCat("\"", text, "\"")), std::string::npos) << text;
    EXPECT_NE(list.find(absl::StrCat("[scenario ", scenario, ":")), std::string::npos) << text;
    EXPECT_NE(FindScenario(scenario), nullptr) << scenario;
  }
  const nlohmann::json json = RenderListJson();
  ASSERT_EQ(json["not_from_linux"].size(), 2u);
  EXPECT_EQ(json["not_from_linux"][0]["linux_scenario"], "port-exhaustion");
}

TEST(KnobLine, NeverOffersTheValueAlreadyInForce) {
  const Scenario* scenario = FindScenario("no-buffer-space");
  ASSERT_NE(scenario, nullptr);
  const KernelKnob* wmem_max = nullptr;
  for (const KernelKnob& knob : scenario->info.kernel) {
    wmem_max = knob.sysctl == "net.core.wmem_max" ? &knob : wmem_max;
  }
  ASSERT_NE(wmem_max, nullptr);
  std::string same = KnobLine(*wmem_max, std::string("4194304"));
  EXPECT_EQ(same.find("sysctl -w"), std::string::npos) << same;
  EXPECT_NE(same.find("already"), std::string::npos) << same;
  std::string lower = KnobLine(*wmem_max, std::string("212992"));
  EXPECT_NE(lower.find("sysctl -w net.core.wmem_max=4194304"), std::string::npos) << lower;
  // A range, written with a tab by the kernel, quoted in the advice.
  KernelKnob range{"net.ipv4.ip_local_port_range",
                   "widen: sysctl -w net.ipv4.ip_local_port_range=\"1024 65535\""};
  EXPECT_EQ(KnobLine(range, std::string("1024\t65535")).find("sysctl -w"), std::string::npos);
  EXPECT_NE(KnobLine(range, std::string("32768\t60999")).find("sysctl -w"), std::string::npos);
}

// Every scenario's knob lines and the limit line recommend one port range.
TEST(KnobLine, PortExhaustionRecommendsOneRange) {
  const Scenario* scenario = FindScenario("port-exhaustion");
  ASSERT_NE(scenario, nullptr);
  for (const KernelKnob& knob : scenario->info.kernel) {
    if (knob.sysctl == "net.ipv4.ip_local_port_range") {
      EXPECT_NE(knob.advice.find(RecommendedPortRange(5000).Command()), std::string::npos)
          << knob.advice;
    }
  }
}

}  // namespace
}  // namespace socklab::repro

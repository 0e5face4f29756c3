// The pure parts of `socklab tune --try`: which parameters can be tried, what the plan's
// suggestions become, and the verdict line built from two summaries.
#include "client/tune/try_compare.h"

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "client/tune/try_settings.h"
#include "gtest/gtest.h"

namespace socklab::client {
namespace {

TEST(TrySetting, PerNamespaceSysctlsAndNofileAreAccepted) {
  absl::StatusOr<TrySetting> range = ParseTrySetting("net.ipv4.ip_local_port_range=1024\t65535");
  ASSERT_TRUE(range.ok()) << range.status();
  EXPECT_EQ(range->kind, TrySetting::Kind::kNetnsSysctl);
  EXPECT_EQ(range->proposed, "1024 65535");
  EXPECT_EQ(range->ShortForm(), "ip_local_port_range=1024 65535");
  absl::StatusOr<TrySetting> nofile = ParseTrySetting("nofile=65536");
  ASSERT_TRUE(nofile.ok()) << nofile.status();
  EXPECT_EQ(nofile->kind, TrySetting::Kind::kNofile);
}

TEST(TrySetting, SystemWideParametersAreRefusedWithTheReason) {
  for (const char* text : {"fs.file-max=100", "fs.nr_open=100", "net.ipv4.tcp_mem=1 2 3",
                           "net.core.rmem_max=1", "kernel.pid_max=100", "vm.swappiness=1"}) {
    absl::StatusOr<TrySetting> setting = ParseTrySetting(text);
    ASSERT_FALSE(setting.ok()) << text;
    EXPECT_EQ(setting.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_TRUE(absl::StrContains(setting.status().message(), "not per network namespace"))
        << setting.status();
  }
  for (const char* text : {"net.ipv4.tcp_tw_reuse", "=1", "nofile=lots", "foo.bar=1"}) {
    EXPECT_EQ(ParseTrySetting(text).status().code(), absl::StatusCode::kInvalidArgument) << text;
  }
}

TEST(TrySetting, PlanSuggestionsBecomeTryArgumentsAndSystemWideOnesAreSkipped) {
  Plan plan;
  PlanCheck ports;
  ports.status = CheckStatus::kBreaks;
  ports.sysctl_lines = {"net.ipv4.ip_local_port_range = 7008 65535", "net.ipv4.tcp_tw_reuse = 1"};
  PlanCheck files;
  files.status = CheckStatus::kBreaks;
  files.sysctl_lines = {"fs.file-max = 2000000"};
  files.shell_lines = {"ulimit -Hn 300000 && ulimit -n 300000"};
  plan.checks = {ports, files};
  std::vector<std::string> skipped;
  std::vector<std::string> arguments = TryArgumentsFromPlan(plan, &skipped);
  EXPECT_EQ(arguments, (std::vector<std::string>{"net.ipv4.ip_local_port_range=7008 65535",
                                                 "net.ipv4.tcp_tw_reuse=1", "nofile=300000"}));
  ASSERT_EQ(skipped.size(), 1u);
  EXPECT_TRUE(absl::StrContains(skipped[0], "fs.file-max")) << skipped[0];
}

TrySetting Reuse() { return *ParseTrySetting("net.ipv4.tcp_tw_reuse=1"); }

TEST(TryVerdict, ComparesMeasuredErrorsAndRates) {
  SideSummary a;
  a.connections_per_s = 100;
  a.messages_per_s = 100;
  a.p99_ms = 1;
  a.errors = {{"connect EADDRNOTAVAIL", 4112}};
  SideSummary b = a;
  b.errors.clear();
  b.connections_per_s = 190;
  b.messages_per_s = 190;
  EXPECT_EQ(Verdict({Reuse()}, a, b),
            "with tcp_tw_reuse=1: 0 connect EADDRNOTAVAIL instead of 4,112; connections/s 1.9x; "
            "messages/s 1.9x");
}

TEST(TryVerdict, KernelTroubleCountersCountButOtherCountersDoNot) {
  SideSummary a;
  a.messages_per_s = 1000;
  a.p99_ms = 2;
  a.kernel = {{"TcpExt.ListenOverflows", 37}, {"Tcp.ActiveOpens", 300}};
  SideSummary b = a;
  b.kernel = {{"Tcp.ActiveOpens", 600}};
  EXPECT_EQ(Verdict({Reuse()}, a, b),
            "with tcp_tw_reuse=1: 0 TcpExt.ListenOverflows instead of 37");
}

TEST(TryVerdict, NoDifferenceSaysSoWithTheNumbers) {
  SideSummary a;
  a.messages_per_s = 1000;
  a.p99_ms = 0.2;
  SideSummary b = a;
  b.messages_per_s = 1050;  // within the noise of one run
  b.p99_ms = 0.25;
  std::string verdict = Verdict({Reuse()}, a, b);
  EXPECT_TRUE(absl::StartsWith(verdict,
                               "with tcp_tw_reuse=1: no difference beyond run-to-run "
                               "noise: messages/s 1.05x"))
      << verdict;
}

TEST(TryVerdict, GroupsThousands) {
  EXPECT_EQ(GroupThousands(0), "0");
  EXPECT_EQ(GroupThousands(999), "999");
  EXPECT_EQ(GroupThousands(4112), "4,112");
  EXPECT_EQ(GroupThousands(1234567), "1,234,567");
}

}  // namespace
}  // namespace socklab::client

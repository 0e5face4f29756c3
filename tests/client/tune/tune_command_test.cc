// Runs the built `socklab tune` binary: flags, exit codes, text, JSON and the sysctl.d file.
#include <sys/utsname.h>
#include <sys/wait.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/client/tune/run_socklab.h"
#include "tests/core/limits/limits_fixture.h"
#include "tests/testing/shell.h"

namespace socklab {
namespace {

using testing_fixture::LimitsTree;
using testing_tune::RunResult;
using testing_tune::RunSocklab;

int Lines(const std::string& text) {
  return static_cast<int>(std::count(text.begin(), text.end(), '\n'));
}

class TuneCommand : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!std::filesystem::exists(testing_tune::SocklabPath())) {
      GTEST_SKIP() << testing_tune::SocklabPath() << " is not built";
    }
  }
};

TEST_F(TuneCommand, BadFlagsExitTwoWithOneLine) {
  const std::vector<std::vector<std::string>> bad = {
      {"tune", "--connections", "10"},                                // plan flag without --plan
      {"tune", "--sysctl-file", "x.conf"},                            // file without --plan
      {"tune", "--plan", "--connections", "10"},                      // no target
      {"tune", "--plan", "--target", "127.0.0.1:7007"},               // nothing to plan
      {"tune", "--plan", "-c", "10", "--target", "not-an-address"},   // bad target
      {"tune", "--plan", "-c", "10", "--target", "127.0.0.1"},        // no port
      {"tune", "--plan", "-c", "ten", "--target", "127.0.0.1:7007"},  // bad count
      {"tune", "--plan", "-c", "10", "--target", "127.0.0.1:7007", "--source-ips", "0"},
      {"tune", "--bogus"},
      {"tune", "--root", "/nonexistent/socklab-fixture"},
  };
  for (const auto& args : bad) {
    RunResult run = RunSocklab(args);
    std::string joined = absl::StrJoin(args, " ");
    EXPECT_EQ(run.exit_code, 2) << joined << "\n" << run.err;
    EXPECT_EQ(Lines(run.err), 1) << joined << "\n" << run.err;
    EXPECT_TRUE(absl::StartsWith(run.err, "socklab")) << run.err;
    EXPECT_EQ(run.out, "") << joined;
  }
}

TEST_F(TuneCommand, SysctlFileNeverWritesIntoProc) {
  std::string before;
  {
    std::ifstream in("/proc/sys/net/core/somaxconn");
    std::getline(in, before);
  }
  RunResult run = RunSocklab({"tune", "--plan", "-c", "10", "--target", "127.0.0.1:7007",
                              "--sysctl-file", "/proc/sys/net/core/somaxconn"});
  EXPECT_EQ(run.exit_code, 2) << run.err;
  EXPECT_TRUE(absl::StrContains(run.err, "/proc")) << run.err;
  std::string after;
  {
    std::ifstream in("/proc/sys/net/core/somaxconn");
    std::getline(in, after);
  }
  EXPECT_EQ(before, after);
}

// The element of a JSON array whose `field` is `value`, or nullptr: callers ASSERT on it, so a
// key that disappears fails the test instead of skipping its checks.
const nlohmann::json* FindIn(const nlohmann::json& array, const std::string& field,
                             const std::string& value) {
  if (!array.is_array()) {
    return nullptr;
  }
  for (const auto& element : array) {
    if (element.contains(field) && element[field] == value) {
      return &element;
    }
  }
  return nullptr;
}

TEST_F(TuneCommand, FixtureTreeJsonCarriesValuesAndFormulas) {
  LimitsTree tree("tune_command_fixture");
  tree.SetSysctl("net.core.somaxconn", "512");
  RunResult run = RunSocklab({"tune", "--root", tree.root(), "--json"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  nlohmann::json json = nlohmann::json::parse(run.out, nullptr, /*allow_exceptions=*/false);
  ASSERT_FALSE(json.is_discarded()) << run.out;
  const nlohmann::json* somaxconn = FindIn(json["parameters"], "name", "net.core.somaxconn");
  ASSERT_NE(somaxconn, nullptr) << run.out;
  EXPECT_EQ((*somaxconn)["value"], "512");
  EXPECT_EQ((*somaxconn)["status"], "low");
  const nlohmann::json* connect = FindIn(json["derivations"], "key", "connect_timeout");
  ASSERT_NE(connect, nullptr) << run.out;
  EXPECT_EQ((*connect)["value"], 127.0);  // 6 retries, no tcp_syn_linear_timeouts (< 6.5)
  const nlohmann::json* ports = FindIn(json["derivations"], "key", "ephemeral_ports");
  ASSERT_NE(ports, nullptr) << run.out;
  EXPECT_EQ((*ports)["value"], 28232.0);
  // Plain tune, one source address: what another one adds is still shown.
  const nlohmann::json* per_source = FindIn(json["derivations"], "key", "per_extra_source_address");
  ASSERT_NE(per_source, nullptr) << run.out;
  EXPECT_EQ((*per_source)["text"], "+28232 ports held, +470/s");
  // tcp_tw_reuse=2 (the fixture's): what 1 would give to a remote destination.
  ASSERT_NE(FindIn(json["derivations"], "key", "new_connections_per_second_tw_reuse"), nullptr);
  // Rows of sysctls the fixture's kernel lacks are left out, not shown as unreadable.
  EXPECT_EQ(FindIn(json["parameters"], "name", "net.ipv4.tcp_syn_linear_timeouts"), nullptr);
  EXPECT_FALSE(json.contains("plan"));

  // The same tree on a 6.5+ kernel: the linear timeouts row and 131 s.
  tree.SetSysctl("net.ipv4.tcp_syn_linear_timeouts", "4");
  RunResult linear = RunSocklab({"tune", "--root", tree.root(), "--json"});
  ASSERT_EQ(linear.exit_code, 0) << linear.err;
  json = nlohmann::json::parse(linear.out, nullptr, false);
  ASSERT_FALSE(json.is_discarded()) << linear.out;
  const nlohmann::json* row =
      FindIn(json["parameters"], "name", "net.ipv4.tcp_syn_linear_timeouts");
  ASSERT_NE(row, nullptr) << linear.out;
  EXPECT_EQ((*row)["value"], "4");
  connect = FindIn(json["derivations"], "key", "connect_timeout");
  ASSERT_NE(connect, nullptr);
  EXPECT_EQ((*connect)["value"], 131.0);
}

TEST_F(TuneCommand, PlanBeyondPortRangeNamesEaddrnotavailAndWritesTheFix) {
  LimitsTree tree("tune_command_plan");
  tree.SetSysctl("net.ipv4.tcp_tw_reuse", "0");
  tree.Write("proc/self/limits", "Max open files 100000 100000 files\n");
  std::filesystem::path file = std::filesystem::path(::testing::TempDir()) /
                               ("tune_plan_" + std::to_string(getpid()) + ".conf");
  std::filesystem::remove(file);
  // 1000 open + 1000/s * 60 s = 61000 ports needed of 28232.
  std::vector<std::string> args = {"tune",          "--root",      tree.root(),     "--plan",
                                   "--connections", "1000",        "--conn-rate",   "1k",
                                   "--target",      "10.9.8.7:80", "--sysctl-file", file.string()};
  RunResult text = RunSocklab(args);
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_TRUE(absl::StrContains(text.out, "verdict: net.ipv4.ip_local_port_range breaks first"))
      << text.out;
  EXPECT_TRUE(absl::StrContains(text.out, "connect EADDRNOTAVAIL")) << text.out;
  EXPECT_TRUE(absl::StrContains(text.out, "ip_local_port_range=\"1024 65535\"")) << text.out;
  std::string snippet = testing_tune::Slurp(file);
  EXPECT_TRUE(absl::StrContains(snippet, "\nnet.ipv4.ip_local_port_range = 1024 65535\n"))
      << snippet;

  args.push_back("--json");
  RunResult json_run = RunSocklab(args);
  ASSERT_EQ(json_run.exit_code, 0) << json_run.err;
  nlohmann::json json = nlohmann::json::parse(json_run.out, nullptr, false);
  ASSERT_FALSE(json.is_discarded());
  EXPECT_EQ(json["plan"]["breaks_first"], "ephemeral_ports");
  EXPECT_EQ(json["plan"]["error"], "connect EADDRNOTAVAIL");
  const nlohmann::json* ports = FindIn(json["plan"]["checks"], "key", "ephemeral_ports");
  ASSERT_NE(ports, nullptr) << json_run.out;
  EXPECT_EQ((*ports)["need"], 61000.0);
  EXPECT_EQ((*ports)["have"], 28232.0);
  std::filesystem::remove(file);
}

using ::socklab::testing::ShellOutput;

// `sysctl -n NAME` with its fields joined by single spaces (sysctl prints tabs, the report
// spaces); nullopt when sysctl cannot read NAME.
std::optional<std::string> SysctlFields(const std::string& name) {
  std::optional<std::string> text = ShellOutput("sysctl -n " + name + " 2>/dev/null");
  if (!text.has_value()) {
    return std::nullopt;
  }
  std::vector<std::string> fields =
      absl::StrSplit(*text, absl::ByAnyChar(" \t"), absl::SkipEmpty());
  return absl::StrJoin(fields, " ");
}

// Every row is checked against sysctl(8): a value must agree, and "unreadable" is allowed only
// when sysctl cannot read the name either, so a misspelled name fails here.
TEST_F(TuneCommand, RealMachineAgreesWithSysctlAndUlimit) {
  if (!ShellOutput("sysctl -n net.core.somaxconn 2>/dev/null").has_value()) {
    GTEST_SKIP() << "no sysctl(8) on this machine";
  }
  RunResult run = RunSocklab({"tune", "--json"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  nlohmann::json json = nlohmann::json::parse(run.out, nullptr, false);
  ASSERT_FALSE(json.is_discarded());
  ASSERT_TRUE(json["parameters"].is_array());
  int compared = 0;
  for (const auto& row : json["parameters"]) {
    std::string name = row["name"];
    std::string value = row["value"];
    if (name == "RLIMIT_NOFILE") {
      // The child inherits our limits, as the shell does.
      EXPECT_EQ(value, ShellOutput("ulimit -n").value_or("?") + " " +
                           ShellOutput("ulimit -Hn").value_or("?"));
      ++compared;
      continue;
    }
    ASSERT_TRUE(absl::StrContains(name, ".")) << "row '" << name << "' is neither a sysctl nor "
                                              << "RLIMIT_NOFILE: teach this test about it";
    // "net.ipv4.tcp_keepalive_time/intvl/probes": one value per name, each suffix replacing
    // the first name's last "_word".
    std::vector<std::string> parts = absl::StrSplit(name, '/');
    std::vector<std::string> names = {parts[0]};
    std::string stem = parts[0].substr(0, parts[0].rfind('_') + 1);
    for (size_t i = 1; i < parts.size(); ++i) {
      names.push_back(stem + parts[i]);
    }
    std::vector<std::string> values = absl::StrSplit(value, ' ', absl::SkipEmpty());
    if (names.size() > 1) {
      ASSERT_EQ(values.size(), names.size()) << name << " = " << value;
    } else {
      values = {value};
    }
    for (size_t i = 0; i < names.size(); ++i) {
      std::optional<std::string> theirs = SysctlFields(names[i]);
      if (values[i] == "unreadable") {
        EXPECT_FALSE(theirs.has_value())
            << names[i] << ": tune says unreadable but sysctl -n reads '" << theirs.value_or("")
            << "' (misspelled name?)";
        continue;
      }
      ASSERT_TRUE(theirs.has_value()) << names[i] << " = " << values[i] << " but sysctl fails";
      EXPECT_EQ(values[i] == "(none)" ? "" : values[i], *theirs) << names[i];
      ++compared;
    }
  }
  EXPECT_GE(compared, 25);
}

// A tree from another machine, missing somaxconn: the header shows the tree's values and "?",
// never this host's kernel release, CPU count or rlimits.
TEST_F(TuneCommand, ARootTreesHeaderHoldsOnlyTheTreesValues) {
  LimitsTree tree("tune_partial_root");
  tree.RemoveSysctl("net.core.somaxconn");
  tree.SetSysctl("kernel.osrelease", "5.10.0-fixture");
  tree.Write("proc/self/limits", "Max open files 777 888 files\n");
  RunResult run = RunSocklab({"tune", "--root", tree.root()});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  std::string header = run.out.substr(0, run.out.find('\n'));
  utsname host{};
  ASSERT_EQ(uname(&host), 0);
  EXPECT_TRUE(absl::StrContains(header, "kernel 5.10.0-fixture")) << header;
  EXPECT_FALSE(absl::StrContains(header, host.release)) << header;
  EXPECT_TRUE(absl::StrContains(header, "cpus ?")) << header;
  EXPECT_TRUE(absl::StrContains(header, "nofile 777/888")) << header;
  EXPECT_TRUE(absl::StrContains(header, "somaxconn ?")) << header;
  EXPECT_TRUE(absl::StrContains(header, tree.root())) << header;
}

// A remote target: its accept queue is the server's, said as such, not judged by our somaxconn.
TEST_F(TuneCommand, ARemoteTargetsBacklogIsLeftToTheServer) {
  LimitsTree tree("tune_remote_backlog");
  tree.SetSysctl("net.core.somaxconn", "128");
  tree.Write("proc/self/limits", "Max open files 100000 100000 files\n");
  RunResult run = RunSocklab(
      {"tune", "--root", tree.root(), "--plan", "-c", "5000", "--target", "10.9.8.7:7007"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_TRUE(absl::StrContains(run.out, "check on the server: net.core.somaxconn")) << run.out;
  EXPECT_FALSE(absl::StrContains(run.out, "sysctl -w net.core.somaxconn")) << run.out;
  // This machine's somaxconn describes its own listeners (the derived rows), not the plan's.
  const std::string plan = run.out.substr(run.out.find("\nplan: "));
  EXPECT_FALSE(absl::StrContains(plan, "somaxconn 128")) << plan;
}

// On a terminal (here: COLUMNS) every line fits; piped without COLUMNS, rows stay whole.
TEST_F(TuneCommand, TextFitsTheTerminalWidth) {
  LimitsTree tree("tune_width");
  std::vector<std::string> args = {"tune",     "--root",       tree.root(),   "--plan",
                                   "-c",       "30000",        "--conn-rate", "2k",
                                   "--target", "10.9.8.7:7007"};
  setenv("COLUMNS", "100", 1);
  RunResult narrow = RunSocklab(args);
  unsetenv("COLUMNS");
  ASSERT_EQ(narrow.exit_code, 0) << narrow.err;
  for (absl::string_view line : absl::StrSplit(narrow.out, '\n')) {
    EXPECT_LE(line.size(), 100u) << line;
  }
  RunResult piped = RunSocklab(args);
  ASSERT_EQ(piped.exit_code, 0) << piped.err;
  size_t longest = 0;
  for (absl::string_view line : absl::StrSplit(piped.out, '\n')) {
    longest = std::max(longest, line.size());
  }
  EXPECT_GT(longest, 200u);
}

// An IPv6 target: every source-address hint names IPv6 addresses, never 127/8.
TEST_F(TuneCommand, AnIpv6PlanNeverSuggestsIpv4Sources) {
  LimitsTree tree("tune_ipv6");
  tree.SetSysctl("net.ipv4.tcp_tw_reuse", "0");
  tree.Write("proc/self/limits", "Max open files 1000000 1000000 files\n");
  RunResult run = RunSocklab(
      {"tune", "--root", tree.root(), "--plan", "--conn-rate", "40k", "--target", "[::1]:7007"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_FALSE(absl::StrContains(run.out, "127/8")) << run.out;
  EXPECT_FALSE(absl::StrContains(run.out, "127.0.0.")) << run.out;
  EXPECT_TRUE(absl::StrContains(run.out, "ip -6 addr add")) << run.out;
}

}  // namespace
}  // namespace socklab

// Runs the built `socklab tune` binary: flags, exit codes, text, JSON and the sysctl.d file.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/client/tune/run_socklab.h"
#include "tests/core/sysinfo/limits_fixture.h"

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

TEST_F(TuneCommand, FixtureTreeJsonCarriesValuesAndFormulas) {
  LimitsTree tree("tune_command_fixture");
  tree.SetSysctl("net.core.somaxconn", "512");
  RunResult run = RunSocklab({"tune", "--root", tree.root(), "--json"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  nlohmann::json json = nlohmann::json::parse(run.out, nullptr, /*allow_exceptions=*/false);
  ASSERT_FALSE(json.is_discarded()) << run.out;
  bool found = false;
  for (const auto& row : json["parameters"]) {
    if (row["name"] == "net.core.somaxconn") {
      EXPECT_EQ(row["value"], "512");
      EXPECT_EQ(row["status"], "low");
      found = true;
    }
  }
  EXPECT_TRUE(found);
  for (const auto& d : json["derivations"]) {
    if (d["key"] == "connect_timeout") {
      EXPECT_EQ(d["value"], 127.0);
    }
    if (d["key"] == "ephemeral_ports") {
      EXPECT_EQ(d["value"], 28232.0);
    }
  }
  EXPECT_FALSE(json.contains("plan"));
}

TEST_F(TuneCommand, PlanBeyondPortRangeNamesEaddrnotavailAndWritesTheFix) {
  LimitsTree tree("tune_command_plan");
  tree.SetSysctl("net.ipv4.tcp_tw_reuse", "0");
  tree.Write("proc/self/limits", "Max open files 100000 100000 files\n");
  std::filesystem::path file = std::filesystem::path(::testing::TempDir()) / "tune_plan.conf";
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
  EXPECT_EQ(json["plan"]["checks"][0]["need"], 61000.0);
  std::filesystem::remove(file);
}

std::string Shell(const std::string& command) {
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) {
    return "";
  }
  std::string out;
  char buffer[256];
  while (fgets(buffer, sizeof(buffer), pipe) != nullptr) {
    out += buffer;
  }
  pclose(pipe);
  return std::string(absl::StripAsciiWhitespace(out));
}

TEST_F(TuneCommand, RealMachineAgreesWithSysctlAndUlimit) {
  RunResult run = RunSocklab({"tune", "--json"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  nlohmann::json json = nlohmann::json::parse(run.out, nullptr, false);
  ASSERT_FALSE(json.is_discarded());
  int compared = 0;
  for (const auto& row : json["parameters"]) {
    std::string name = row["name"];
    std::string value = row["value"];
    if (name == "RLIMIT_NOFILE") {
      // The child inherits our limits, as the shell does.
      EXPECT_EQ(value, Shell("ulimit -n") + " " + Shell("ulimit -Hn"));
      ++compared;
      continue;
    }
    if (name.find('/') != std::string::npos || !absl::StrContains(name, ".") ||
        value == "unreadable" || value == "(none)") {
      continue;
    }
    // sysctl -n prints tabs between fields; the report prints spaces.
    std::vector<std::string> fields = absl::StrSplit(Shell("sysctl -n " + name + " 2>/dev/null"),
                                                     absl::ByAnyChar(" \t"), absl::SkipEmpty());
    EXPECT_EQ(value, absl::StrJoin(fields, " ")) << name;
    ++compared;
  }
  EXPECT_GE(compared, 20);
}

}  // namespace
}  // namespace socklab

#include "client/load/load_flags.h"

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <tuple>
#include <variant>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "client/load/load_report.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/client/load/server_process.h"
#include "tests/client/load/socklab_process.h"

namespace socklab::client {
namespace {

// A valid LoadOptions with every table flag at a value of its own, none its default.
LoadOptions DistinctValues() {
  LoadOptions o;
  o.target = *SocketAddress::Parse("127.0.0.1:7007");
  o.connections = 37;
  o.threads = 23;
  o.pipeline = 4;
  o.rate = 250.5;
  o.churn = 61;
  o.connect_rate = 71;
  o.duration = absl::Milliseconds(8500);
  o.messages = 123457;
  o.warmup = absl::Milliseconds(1500);
  o.connect_timeout = absl::Seconds(3);
  o.read_timeout = absl::Seconds(7);
  o.max_errors = 90;
  o.min_rate_ratio = 0.25;
  return o;
}

TEST(LoadFlagsTest, NamesAndKeysAreUniqueAndKindsMatchFields) {
  std::set<std::string> names;
  std::set<std::string> keys;
  for (const LoadFlag& flag : LoadFlagTable()) {
    for (absl::string_view name : absl::StrSplit(flag.names, ',')) {
      EXPECT_TRUE(names.insert(std::string(name)).second) << name;
    }
    EXPECT_TRUE(keys.insert(flag.json_key).second) << flag.json_key;
    EXPECT_EQ(flag.LongName().substr(0, 2), "--") << flag.names;
    EXPECT_EQ(*flag.text_label == '\0', flag.line == ConfigLine::kProse) << flag.names;
    // The parser writes the field's type.
    switch (flag.kind) {
      case ValueKind::kCount:
        EXPECT_TRUE(std::holds_alternative<uint64_t LoadOptions::*>(flag.option)) << flag.names;
        break;
      case ValueKind::kRate:
      case ValueKind::kShare:
        EXPECT_TRUE(std::holds_alternative<double LoadOptions::*>(flag.option)) << flag.names;
        break;
      case ValueKind::kDuration:
        EXPECT_TRUE(std::holds_alternative<absl::Duration LoadOptions::*>(flag.option))
            << flag.names;
        EXPECT_TRUE(std::holds_alternative<double LoadConfig::*>(flag.config)) << flag.names;
        break;
    }
  }
}

TEST(LoadFlagsTest, DistinctValuesAreValid) {
  const LoadOptions o = DistinctValues();
  EXPECT_TRUE(o.Validate().ok()) << o.Validate();
  for (const LoadFlag& flag : LoadFlagTable()) {
    EXPECT_NE(flag.OptionValue(o), flag.OptionValue(LoadOptions())) << flag.names;
  }
}

// Each value reaches the report's JSON "config" under its key, and its text: "<label> <value>"
// on its line for labelled entries, the value somewhere in the block's own words for the others.
TEST(LoadFlagsTest, EveryFlagIsStatedInTheJsonAndTextConfiguration) {
  const LoadOptions o = DistinctValues();
  LoadResult r;
  for (const LoadFlag& flag : LoadFlagTable()) {
    flag.CopyToConfig(o, &r.config);
  }
  const nlohmann::json config = LoadResultToJson(r)["config"];
  const std::string text = LoadConfigToText(r.config);
  for (const LoadFlag& flag : LoadFlagTable()) {
    SCOPED_TRACE(flag.names);
    ASSERT_TRUE(config.contains(flag.json_key)) << config;
    EXPECT_DOUBLE_EQ(config[flag.json_key].get<double>(), flag.OptionValue(o));
    EXPECT_DOUBLE_EQ(flag.ConfigValue(r.config), flag.OptionValue(o));
    if (flag.line != ConfigLine::kProse) {
      EXPECT_NE(text.find(absl::StrCat(", ", flag.text_label, " ", flag.ConfigText(r.config))),
                std::string::npos)
          << text;
    } else {
      EXPECT_NE(text.find(flag.ConfigText(r.config)), std::string::npos) << text;
    }
  }
}

// The lines README.md shows stay as they were.
TEST(LoadFlagsTest, TextConfigurationKeepsItsWording) {
  LoadOptions o;
  o.connections = 30;
  o.threads = 3;
  o.rate = 6000;
  o.duration = absl::Seconds(4);
  o.warmup = absl::Seconds(1);
  LoadConfig c;
  for (const LoadFlag& flag : LoadFlagTable()) {
    flag.CopyToConfig(o, &c);
  }
  c.size_min = c.size_max = 64;
  const std::string text = LoadConfigToText(c);
  EXPECT_NE(text.find("\nload        30 connections on 3 threads, open loop at 6000 msg/s, "
                      "pipeline 1, size 64 B\n"
                      "run         4s, warmup 1s, connect timeout 2s, read timeout 5s\n"),
            std::string::npos)
      << text;
  c.max_errors = 5;
  c.min_rate_ratio = 0.9;
  EXPECT_NE(LoadConfigToText(c).find("read timeout 5s, max errors 5, min rate ratio 0.9\n"),
            std::string::npos)
      << LoadConfigToText(c);
}

testing::ProcessOutcome RunSocklab(std::vector<std::string> args) {
  testing::SocklabProcess socklab(std::move(args));
  if (!socklab.available()) {
    return {};
  }
  return socklab.Wait(60'000);
}

TEST(LoadFlagsTest, EveryFlagIsInTheHelp) {
  const testing::ProcessOutcome help = RunSocklab({"load", "--help"});
  if (help.exit_code == -1 && help.out.empty()) {
    GTEST_SKIP() << "socklab not built (SOCKLAB_BIN_DIR)";
  }
  ASSERT_EQ(help.exit_code, 0) << help.err;
  for (const LoadFlag& flag : LoadFlagTable()) {
    EXPECT_NE(help.out.find(flag.names), std::string::npos) << flag.names;
    EXPECT_NE(help.out.find(std::string(flag.help).substr(0, 30)), std::string::npos) << flag.help;
  }
}

// A value out of a flag's range: the declared one-line message on stderr and exit 2, before any
// connection is tried (the target has no server).
TEST(LoadFlagsTest, OutOfRangeValuesGiveTheDeclaredMessageAndExitTwo) {
  int checked = 0;
  for (const LoadFlag& flag : LoadFlagTable()) {
    if (*flag.range_fix == '\0' || std::isinf(flag.max)) {
      continue;  // no range, or one only a negative number (which no parser accepts) leaves
    }
    std::vector<double> outside = {flag.max + 1};
    if (flag.min >= 1) {
      outside.push_back(flag.min - 1);
    }
    for (double value : outside) {
      std::vector<std::string> args = {"load", "127.0.0.1:9", std::string(flag.LongName()),
                                       absl::StrFormat("%.10g", value)};
      if (flag.LongName() == "--min-rate-ratio") {
        args.insert(args.end(), {"-R", "100"});
      }
      const std::string expected =
          absl::StrCat("socklab load: ", flag.LongName(), " ", absl::StrFormat("%.10g", value),
                       " is out of range; ", flag.range_fix, "\n");
      const testing::ProcessOutcome outcome = RunSocklab(args);
      if (outcome.exit_code == -1 && outcome.err.empty()) {
        GTEST_SKIP() << "socklab not built (SOCKLAB_BIN_DIR)";
      }
      EXPECT_EQ(outcome.exit_code, 2) << absl::StrJoin(args, " ");
      EXPECT_EQ(outcome.err, expected);
      ++checked;
    }
  }
  EXPECT_GE(checked, 5);
}

// The message names the value as typed, however far out of range (the front end once clamped
// -t to 100000 and --pipeline to 1M before the check, and named the clamped value).
TEST(LoadFlagsTest, OutOfRangeMessageNamesTheValueTyped) {
  for (const auto& [flag, value, fix] : {std::tuple<std::string, std::string, std::string>{
                                             "--threads", "200000", "use 0 (one per CPU) to 1024"},
                                         {"--pipeline", "2000000", "use 1 to 65536"},
                                         {"--connections", "5000000000", "use 1 to 1000000"}}) {
    const testing::ProcessOutcome outcome = RunSocklab({"load", "127.0.0.1:9", flag, value});
    if (outcome.exit_code == -1 && outcome.err.empty()) {
      GTEST_SKIP() << "socklab not built (SOCKLAB_BIN_DIR)";
    }
    EXPECT_EQ(outcome.exit_code, 2) << flag;
    EXPECT_EQ(outcome.err,
              absl::StrCat("socklab load: ", flag, " ", value, " is out of range; ", fix, "\n"));
  }
}

// A 0 where 0 means nothing: "<--name> 0 <problem>; <fix>", exit 2.
TEST(LoadFlagsTest, MeaninglessZerosGiveTheDeclaredMessageAndExitTwo) {
  for (const LoadFlag& flag : LoadFlagTable()) {
    if (*flag.zero_problem == '\0') {
      continue;
    }
    const testing::ProcessOutcome outcome =
        RunSocklab({"load", "127.0.0.1:9", std::string(flag.LongName()), "0"});
    if (outcome.exit_code == -1 && outcome.err.empty()) {
      GTEST_SKIP() << "socklab not built (SOCKLAB_BIN_DIR)";
    }
    EXPECT_EQ(outcome.exit_code, 2) << flag.names;
    EXPECT_EQ(outcome.err, absl::StrCat("socklab load: ", flag.LongName(), " 0 ", flag.zero_problem,
                                        "; ", flag.zero_fix, "\n"));
  }
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// A short real run against a real socklab-server: the JSON config holds what each flag was given,
// as the command line wrote it. Every table flag has a case here.
TEST(LoadFlagsTest, JsonConfigOfARealRunMatchesTheFlagsGiven) {
  testing::ServerProcess server({"--backend", "epoll"});
  if (!server.ok()) {
    GTEST_SKIP() << "socklab-server not built (SOCKLAB_BIN_DIR)";
  }
  struct Given {
    std::string text;  // as typed
    double value;      // in the JSON config (durations in seconds)
  };
  // -d bounds the run (-n is far beyond what 300 msg/s send in it); churn and the connect-rate
  // cap leave the rate reachable, so --min-rate-ratio 0.01 passes.
  const std::map<std::string, Given> given = {
      {"--connections", {"3", 3}},
      {"--threads", {"2", 2}},
      {"--pipeline", {"2", 2}},
      {"--rate", {"0.3k", 300}},
      {"--churn", {"40", 40}},
      {"--connect-rate", {"1k", 1000}},
      {"--duration", {"1500ms", 1.5}},
      {"--messages", {"1M", 1e6}},
      {"--warmup", {"200ms", 0.2}},
      {"--connect-timeout", {"3s", 3}},
      {"--read-timeout", {"4s", 4}},
      {"--max-errors", {"10k", 10000}},
      {"--min-rate-ratio", {"0.01", 0.01}},
  };
  const std::string json_path =
      absl::StrCat(::testing::TempDir(), "/socklab_load_flags_", getpid(), ".json");
  std::vector<std::string> args = {
      "load", server.address().ToString(), "--backend", "epoll", "--json", json_path};
  for (const LoadFlag& flag : LoadFlagTable()) {
    auto it = given.find(std::string(flag.LongName()));
    ASSERT_NE(it, given.end()) << flag.names << " has no case in this test";
    args.push_back(std::string(flag.LongName()));
    args.push_back(it->second.text);
  }
  const testing::ProcessOutcome outcome = RunSocklab(args);
  ASSERT_EQ(outcome.exit_code, 0) << outcome.err;
  const nlohmann::json config = nlohmann::json::parse(ReadAll(json_path))["config"];
  std::remove(json_path.c_str());
  for (const LoadFlag& flag : LoadFlagTable()) {
    const Given& g = given.at(std::string(flag.LongName()));
    EXPECT_DOUBLE_EQ(config[flag.json_key].get<double>(), g.value) << flag.names;
  }
}

}  // namespace
}  // namespace socklab::client

#include "server/server_flags.h"

#include <signal.h>

#include <map>
#include <set>
#include <string>
#include <variant>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/server/kernel_view.h"
#include "tests/server/server_process.h"

namespace socklab::server {
namespace {

using testing::ServerProcess;
using testing::ServerSocketsOnPort;

TEST(ServerFlagsTest, NamesAndKeysAreUniqueAndKindsMatchFields) {
  std::set<std::string> names;
  std::set<std::string> keys;
  for (const ServerFlag& flag : ServerFlagTable()) {
    for (absl::string_view name : absl::StrSplit(flag.names, ',')) {
      EXPECT_TRUE(names.insert(std::string(name)).second) << name;
    }
    EXPECT_TRUE(keys.insert(flag.json_key).second) << flag.json_key;
    EXPECT_TRUE(keys.insert(flag.text_key).second || flag.text_key == std::string(flag.json_key))
        << flag.text_key;
    EXPECT_EQ(flag.kind == ServerValueKind::kDuration,
              std::holds_alternative<absl::Duration ServerOptions::*>(flag.option))
        << flag.names;
    // Only counts and byte sizes have ranges of their own.
    EXPECT_TRUE(*flag.range_fix == '\0' || flag.kind != ServerValueKind::kDuration) << flag.names;
  }
}

TEST(ServerFlagsTest, EveryFlagIsInTheHelp) {
  ServerProcess server({"--help"});
  ASSERT_TRUE(server.Exited(20000));
  ASSERT_EQ(server.exit_code(), 0) << server.err();
  for (const ServerFlag& flag : ServerFlagTable()) {
    EXPECT_NE(server.out().find(flag.names), std::string::npos) << flag.names;
    EXPECT_NE(server.out().find(std::string(flag.help).substr(0, 30)), std::string::npos)
        << flag.help;
  }
}

// A value out of a flag's range: the declared one-line message on stderr and exit 2.
TEST(ServerFlagsTest, OutOfRangeValuesGiveTheDeclaredMessageAndExitTwo) {
  int checked = 0;
  for (const ServerFlag& flag : ServerFlagTable()) {
    if (*flag.range_fix == '\0') {
      continue;
    }
    std::vector<uint64_t> outside = {static_cast<uint64_t>(flag.max) + 1};
    if (flag.min >= 1) {
      outside.push_back(static_cast<uint64_t>(flag.min) - 1);
    }
    for (uint64_t value : outside) {
      ServerProcess server(
          {"--listen", "127.0.0.1:0", std::string(flag.LongName()), absl::StrCat(value)});
      ASSERT_TRUE(server.Exited(20000)) << flag.names;
      EXPECT_EQ(server.exit_code(), 2) << flag.names;
      EXPECT_EQ(server.err(), absl::StrCat("socklab-server: ", flag.LongName(), " ", value,
                                           " is out of range; ", flag.range_fix, "\n"));
      ++checked;
    }
  }
  EXPECT_GE(checked, 6);
}

// A real server given every table flag: the "config" JSON holds each value as given, the
// configuration line states each one, and the kernel agrees where it can see it (the listeners'
// count, one per thread with SO_REUSEPORT).
TEST(ServerFlagsTest, ConfigOfARealServerMatchesTheFlagsGiven) {
  struct Given {
    std::string text;  // as typed
    double json;       // in the "config" JSON (durations in seconds)
    std::string line;  // on the configuration line
  };
  const std::map<std::string, Given> given = {
      {"--threads", {"2", 2, "2"}},
      {"--backlog", {"77", 77, "77"}},
      {"--rcvbuf", {"128k", 131072, "128.0 KiB"}},
      {"--sndbuf", {"64k", 65536, "64.0 KiB"}},
      {"--idle-timeout", {"90s", 90, "1m30s"}},
      {"--write-timeout", {"45s", 45, "45s"}},
      {"--max-connections", {"1k", 1000, "1000"}},
      {"--max-pending", {"512k", 524288, "512.0 KiB"}},
      {"--drain-timeout", {"0s", 0, "0"}},
      {"--stats-interval", {"1m", 60, "1m"}},
  };
  std::vector<std::string> args = {"--listen", "127.0.0.1:0", "--backend", "epoll", "--json"};
  for (const ServerFlag& flag : ServerFlagTable()) {
    auto it = given.find(std::string(flag.LongName()));
    ASSERT_NE(it, given.end()) << flag.names << " has no case in this test";
    args.push_back(std::string(flag.LongName()));
    args.push_back(it->second.text);
  }
  ServerProcess server(args);
  const SocketAddress address = server.Address();
  ASSERT_NE(address.port(), 0) << server.err();
  EXPECT_EQ(ServerSocketsOnPort(address.port()).size(), 2u) << "one listener per thread";
  ASSERT_EQ(kill(server.pid(), SIGTERM), 0);
  ASSERT_TRUE(server.Exited(20000));
  const std::vector<nlohmann::json> lines = server.JsonLines();
  ASSERT_FALSE(lines.empty()) << server.out();
  const nlohmann::json& config = lines[0]["config"];
  for (const ServerFlag& flag : ServerFlagTable()) {
    const Given& g = given.at(std::string(flag.LongName()));
    EXPECT_DOUBLE_EQ(config[flag.json_key].get<double>(), g.json) << flag.names;
    EXPECT_NE(server.err().find(absl::StrCat(" ", flag.text_key, "=", g.line, " ")),
              std::string::npos)
        << flag.names << ": " << server.err();
  }
}

}  // namespace
}  // namespace socklab::server

#include "client/load/load_command.h"

#include <netinet/in.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/net/socket.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/client/load/echo_fixture.h"

namespace socklab::client {
namespace {

// Runs `socklab load ARGS...` in-process, as client/main.cc does, and returns the exit code.
int RunLoadCommand(std::vector<std::string> args) {
  CLI::App app("socklab", "socklab");
  app.require_subcommand(1);
  cli::Command command = AddLoadCommand(app);
  args.insert(args.begin(), {"socklab", "load"});
  std::vector<char*> argv;
  for (std::string& arg : args) {
    argv.push_back(arg.data());
  }
  if (int code = cli::ParseOrExit(app, static_cast<int>(argv.size()), argv.data()); code >= 0) {
    return code;
  }
  return command.run();
}

std::string TempPath(const char* name) {
  return absl::StrCat(::testing::TempDir(), "/socklab_load_", getpid(), "_", name);
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

TEST(LoadCommandTest, BadUsageExitsTwo) {
  EXPECT_EQ(RunLoadCommand({}), 2);
  EXPECT_EQ(RunLoadCommand({"127.0.0.1"}), 2);  // no port
  EXPECT_EQ(RunLoadCommand({"127.0.0.1:7", "-c", "0"}), 2);
  EXPECT_EQ(RunLoadCommand({"127.0.0.1:7", "-c", "lots"}), 2);
  EXPECT_EQ(RunLoadCommand({"127.0.0.1:7", "-d", "5"}), 2);  // unitless duration
  EXPECT_EQ(RunLoadCommand({"127.0.0.1:7", "--close", "slam"}), 2);
  EXPECT_EQ(RunLoadCommand({"127.0.0.1:7", "--backend", "kqueue"}), 2);
  EXPECT_EQ(RunLoadCommand({"127.0.0.1:7", "-s", "10-5"}), 2);
  EXPECT_EQ(RunLoadCommand({"127.0.0.1:7", "-6"}), 2);
  EXPECT_EQ(RunLoadCommand({"127.0.0.1:7", "--source-ips", "127.0.0.5-127.0.0.1"}), 2);
  EXPECT_EQ(RunLoadCommand({"127.0.0.1:7", "-d", "1s", "--warmup", "2s"}), 2);
  EXPECT_EQ(RunLoadCommand({"127.0.0.1:7", "--bogus"}), 2);
}

TEST(LoadCommandTest, UnreachableTargetExitsOne) {
  absl::StatusOr<UniqueFd> fd = CreateTcpSocket(AF_INET, Blocking::kBlocking);
  ASSERT_TRUE(fd.ok());
  ASSERT_TRUE(Bind(fd->get(), SocketAddress::Loopback(AF_INET, 0)).ok());
  const std::string target = LocalAddressOf(fd->get())->ToString();
  EXPECT_EQ(RunLoadCommand({target, "-d", "20s", "--backend", "epoll"}), 1);
}

TEST(LoadCommandTest, JsonAndHgrmHaveEveryDocumentedField) {
  testing::EchoFixture server;
  const std::string json_path = TempPath("out.json");
  const std::string hgrm_path = TempPath("out.hgrm");
  ASSERT_EQ(RunLoadCommand({server.address().ToString(), "-c", "3", "-t", "1", "-R", "300", "-d",
                            "1500ms", "--warmup", "200ms", "--backend", "epoll", "--states",
                            "--json", json_path, "--hgrm", hgrm_path}),
            0);
  const nlohmann::json j = nlohmann::json::parse(ReadAll(json_path));
  for (const char* key :
       {"config", "machine", "elapsed_s", "messages", "bytes", "throughput", "connections",
        "latency_ns", "latency_uncorrected_ns", "connect_latency_ns", "errors", "kernel", "series",
        "aborted", "abort_reason"}) {
    EXPECT_TRUE(j.contains(key)) << key;
  }
  for (const char* key : {"target",
                          "backend",
                          "backend_requested",
                          "backend_fallback_reason",
                          "connections",
                          "threads",
                          "pipeline",
                          "rate",
                          "mode",
                          "churn",
                          "connect_rate",
                          "close",
                          "size_min",
                          "size_max",
                          "duration_s",
                          "messages",
                          "warmup_s",
                          "connect_timeout_s",
                          "read_timeout_s",
                          "bind",
                          "source_ips",
                          "max_errors"}) {
    EXPECT_TRUE(j["config"].contains(key)) << key;
  }
  for (const char* key :
       {"count", "min", "mean", "stdev", "p50", "p90", "p99", "p99_9", "p99_99", "max"}) {
    EXPECT_TRUE(j["latency_ns"].contains(key)) << key;
  }
  EXPECT_EQ(j["config"]["backend"], "epoll");
  EXPECT_EQ(j["config"]["mode"], "open");
  EXPECT_EQ(j["messages"]["data_errors"], 0);
  EXPECT_EQ(j["messages"]["sent"], j["messages"]["completed"]);
  EXPECT_EQ(j["bytes"]["sent"], j["bytes"]["received"]);
  EXPECT_EQ(j["errors"]["total"], 0);
  ASSERT_FALSE(j["series"].empty());
  for (const char* key :
       {"t_s", "interval_s", "warmup", "messages", "bytes_sent", "bytes_received", "errors",
        "connects", "open_connections", "p50_ns", "p99_ns", "max_ns", "states"}) {
    EXPECT_TRUE(j["series"][0].contains(key)) << key;
  }
  EXPECT_TRUE(j["series"][0]["states"].contains("ESTABLISHED"));
  const std::string hgrm = ReadAll(hgrm_path);
  EXPECT_EQ(hgrm.rfind("       Value     Percentile TotalCount 1/(1-Percentile)", 0), 0u);
  EXPECT_NE(hgrm.find("#[Mean"), std::string::npos);
  std::remove(json_path.c_str());
  std::remove(hgrm_path.c_str());
}

}  // namespace
}  // namespace socklab::client

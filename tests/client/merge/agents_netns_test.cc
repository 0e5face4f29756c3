// Three `socklab load` agents, each a separate process in a network namespace of its own with its
// own address, drive one socklab-server in a fourth namespace through veth pairs; `socklab merge`
// adds their results. The merged message count must equal the sum of the agents' and what the
// server itself echoed (its own byte count), and the merged p50, p99 and max must match those of
// every raw latency the agents recorded (the test-only SOCKLAB_TEST_RAW_LATENCIES mode), within
// the histogram's bucket width (1/128).
//
// Topology (every link is created directly inside the namespaces, by pid, so nothing is added to
// the host's; each namespace, and with it its veth ends, dies with its process, even when the
// test fails or is killed: the processes have PR_SET_PDEATHSIG SIGKILL):
//
//   server ns: lo 10.18.255.1/32, veth sl18s<i> 10.18.<i>.1/24   (socklab-server on 0.0.0.0)
//   agent i:   veth eth0 10.18.<i>.2/24, route 10.18.255.1 via 10.18.<i>.1
//
// Skips only when namespaces cannot be created by a non-root user; as root they must work.
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "core/base/unique_fd.h"
#include "core/net/netns.h"
#include "core/process/run_tool.h"
#include "core/stats/hdr_log.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/client/load/socklab_process.h"

namespace socklab {
namespace {

constexpr int kAgents = 3;
constexpr int kConnections = 7;  // 3 + 2 + 2: the remainder goes to shard 0
constexpr int kMessages = 3001;  // 1001 + 1000 + 1000
constexpr int kSize = 64;
constexpr char kServerAddress[] = "10.18.255.1";

std::string BinDir() {
  const char* dir = std::getenv("SOCKLAB_BIN_DIR");
  return dir == nullptr ? "" : dir;
}

// A forked child that enters a new network namespace, brings lo up, waits for a byte on a pipe
// (the parent's "the links are ready") and then execs `args`, its stdout and stderr to files.
// The namespace lives as long as the child.
struct NamespacedProcess {
  ChildProcess child;
  UniqueFd go;  // write one byte to start it
  bool in_own_namespace = false;

  static NamespacedProcess Start(std::vector<std::string> args, const std::string& out_path,
                                 const std::string& err_path,
                                 const std::vector<std::string>& env = {}) {
    int go[2];
    int ready[2];
    if (pipe2(go, O_CLOEXEC) != 0 || pipe2(ready, O_CLOEXEC) != 0) {
      return {};
    }
    std::vector<char*> argv;
    for (std::string& arg : args) {
      argv.push_back(arg.data());
    }
    argv.push_back(nullptr);
    std::vector<std::string> env_strings = env;
    std::vector<char*> envp;
    for (char** e = environ; *e != nullptr; ++e) {
      envp.push_back(*e);
    }
    for (std::string& e : env_strings) {
      envp.push_back(e.data());
    }
    envp.push_back(nullptr);
    const pid_t pid = fork();
    if (pid == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      close(go[1]);
      close(ready[0]);
      if (unshare(CLONE_NEWNET) != 0 || !BringLoopbackUp().ok()) {
        _exit(125);
      }
      char byte = 'r';
      (void)!write(ready[1], &byte, 1);
      close(ready[1]);
      if (read(go[0], &byte, 1) != 1) {
        _exit(124);  // the parent gave up
      }
      const int out = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      const int err = open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      dup2(out, STDOUT_FILENO);
      dup2(err, STDERR_FILENO);
      alarm(100);  // never outlive the suite's TIMEOUT
      execve(argv[0], argv.data(), envp.data());
      _exit(127);
    }
    close(go[0]);
    close(ready[1]);
    NamespacedProcess process;
    process.child = ChildProcess(pid);
    process.go = UniqueFd(go[1]);
    // Links may be made only once the child is in its own namespace: before, its pid names the
    // caller's.
    pollfd wait_ready = {ready[0], POLLIN, 0};
    char byte = 0;
    process.in_own_namespace =
        poll(&wait_ready, 1, 20'000) == 1 && read(ready[0], &byte, 1) == 1 && byte == 'r';
    close(ready[0]);
    return process;
  }

  void Go() {
    const char byte = 'g';
    (void)!write(go.get(), &byte, 1);
    go.Reset();
  }
};

absl::Status InNamespace(pid_t pid, std::vector<std::string> ip_args) {
  std::vector<std::string> args = {"nsenter", "-t", std::to_string(pid), "-n", "ip"};
  args.insert(args.end(), ip_args.begin(), ip_args.end());
  absl::StatusOr<std::string> out = RunTool(args);
  return out.ok() ? absl::OkStatus() : out.status();
}

// Links agent namespace `agent` to the server's as described at the top.
absl::Status Link(pid_t server, pid_t agent, int i) {
  const std::string server_end = absl::StrCat("sl18s", i);
  absl::StatusOr<std::string> made =
      RunTool({"ip", "link", "add", server_end, "netns", std::to_string(server), "type", "veth",
               "peer", "name", "eth0", "netns", std::to_string(agent)});
  if (!made.ok()) {
    return made.status();
  }
  const std::string net = absl::StrCat("10.18.", i, ".");
  for (const auto& [pid, args] : std::vector<std::pair<pid_t, std::vector<std::string>>>{
           {server, {"addr", "add", net + "1/24", "dev", server_end}},
           {server, {"link", "set", server_end, "up"}},
           {agent, {"addr", "add", net + "2/24", "dev", "eth0"}},
           {agent, {"link", "set", "eth0", "up"}},
           {agent, {"route", "add", std::string(kServerAddress) + "/32", "via", net + "1"}}}) {
    if (absl::Status status = InNamespace(pid, args); !status.ok()) {
      return status;
    }
  }
  return absl::OkStatus();
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// The JSON line of the server's event `name` ("listening", "summary") in its stdout file,
// waiting up to `seconds` for it; a discarded value when it never came.
nlohmann::json WaitForEvent(const std::string& path, const std::string& name, int seconds) {
  for (int i = 0; i < seconds * 50; ++i) {
    for (absl::string_view line : absl::StrSplit(ReadFile(path), '\n')) {
      nlohmann::json event = nlohmann::json::parse(line, nullptr, false);
      if (event.is_object() && event.value("event", "") == name) {
        return event;
      }
    }
    usleep(20'000);
  }
  return nlohmann::json(nlohmann::json::value_t::discarded);
}

// The value of rank ceil(p/100 * n) of sorted data (rank at least 1), computed in integers from
// hundredths of a percent.
int64_t RankValue(const std::vector<int64_t>& sorted, uint64_t hundredths) {
  uint64_t rank = (hundredths * sorted.size() + 9999) / 10000;
  rank = std::clamp<uint64_t>(rank, 1, sorted.size());
  return sorted[rank - 1];
}

class AgentsInNamespaces : public ::testing::Test {
 protected:
  void SetUp() override {
    if (BinDir().empty() || !std::filesystem::exists(BinDir() + "/socklab")) {
      GTEST_SKIP() << "SOCKLAB_BIN_DIR/socklab is not built";
    }
    if (absl::Status available = CheckNetnsAvailable(); !available.ok()) {
      if (geteuid() == 0) {
        FAIL() << "running as root, yet no network namespace: " << available;
      }
      GTEST_SKIP() << available;
    }
    dir_ = std::filesystem::path(::testing::TempDir()) / absl::StrCat("agents_netns_", getpid());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override {
    if (!dir_.empty()) {
      std::filesystem::remove_all(dir_);
    }
  }
  std::string Path(const std::string& name) const { return (dir_ / name).string(); }

  std::filesystem::path dir_;
};

TEST_F(AgentsInNamespaces, MergedCountsAndPercentilesAreThoseOfAllAgentsAndTheServer) {
  NamespacedProcess server = NamespacedProcess::Start(
      {BinDir() + "/socklab-server", "-l", "0.0.0.0:0", "-t", "1", "--json", "--backend", "epoll"},
      Path("server.out"), Path("server.err"));
  ASSERT_TRUE(server.in_own_namespace);
  // The server namespace's own address, then the server.
  ASSERT_TRUE(InNamespace(server.child.pid(),
                          {"addr", "add", std::string(kServerAddress) + "/32", "dev", "lo"})
                  .ok());
  server.Go();
  const nlohmann::json listening = WaitForEvent(Path("server.out"), "listening", 20);
  ASSERT_FALSE(listening.is_discarded()) << ReadFile(Path("server.err"));
  const std::string listen = listening["listen"];
  const std::string port = listen.substr(listen.rfind(':') + 1);

  // Each agent's run starts at the same wall-clock second, a few seconds from now (process
  // start-up on a busy machine included).
  const std::string start_at = absl::StrCat(absl::ToUnixSeconds(absl::Now()) + 4);
  std::vector<NamespacedProcess> agents;
  for (int i = 0; i < kAgents; ++i) {
    agents.push_back(NamespacedProcess::Start(
        {BinDir() + "/socklab",
         "load",
         absl::StrCat(kServerAddress, ":", port),
         "-c",
         absl::StrCat(kConnections),
         "-n",
         absl::StrCat(kMessages),
         "-d",
         "20s",
         "-s",
         absl::StrCat(kSize),
         "-t",
         "1",
         "--shard",
         absl::StrCat(i, "/", kAgents),
         "--run-id",
         "netns-test",
         "--start-at",
         start_at,
         "--json",
         Path(absl::StrCat("agent", i, ".json")),
         "--hlog",
         Path(absl::StrCat("agent", i, ".hlog"))},
        Path(absl::StrCat("agent", i, ".out")), Path(absl::StrCat("agent", i, ".err")),
        {absl::StrCat("SOCKLAB_TEST_RAW_LATENCIES=", Path(absl::StrCat("agent", i, ".raw")))}));
    ASSERT_TRUE(agents.back().in_own_namespace);
    absl::Status linked = Link(server.child.pid(), agents.back().child.pid(), i);
    ASSERT_TRUE(linked.ok()) << linked;
  }
  for (NamespacedProcess& agent : agents) {
    agent.Go();
  }
  for (int i = 0; i < kAgents; ++i) {
    const ChildProcess::Exit exit = agents[i].child.Wait(absl::Seconds(60));
    ASSERT_EQ(exit.exit_code, 0) << ReadFile(Path(absl::StrCat("agent", i, ".err")));
  }
  // The server's own count: SIGTERM, then its summary line.
  kill(server.child.pid(), SIGTERM);
  ASSERT_EQ(server.child.Wait(absl::Seconds(30)).exit_code, 0) << ReadFile(Path("server.err"));
  const nlohmann::json summary = WaitForEvent(Path("server.out"), "summary", 1);
  ASSERT_FALSE(summary.is_discarded()) << ReadFile(Path("server.out"));

  // Every agent ran its own share from its own address.
  std::vector<int64_t> raw;
  uint64_t agents_completed = 0;
  std::vector<std::string> merge_args = {"merge"};
  for (int i = 0; i < kAgents; ++i) {
    const std::string json_path = Path(absl::StrCat("agent", i, ".json"));
    nlohmann::json agent = nlohmann::json::parse(ReadFile(json_path));
    EXPECT_EQ(agent["run_id"], "netns-test");
    EXPECT_EQ(agent["config"]["connections"], i == 0 ? 3 : 2);
    EXPECT_EQ(agent["messages"]["completed"], i == 0 ? 1001 : 1000);
    agents_completed += agent["messages"]["completed"].get<uint64_t>();
    // Its interval log (--hlog) adds up to its own histogram: the same count, and the same
    // percentiles within a bucket (the log's max is its bucket's highest value).
    absl::StatusOr<HdrLog> hlog = ParseHdrLog(ReadFile(Path(absl::StrCat("agent", i, ".hlog"))));
    ASSERT_TRUE(hlog.ok()) << hlog.status();
    Histogram logged;
    for (const HdrLogInterval& interval : hlog->intervals) {
      if (interval.tag == "rtt") {
        logged.Merge(interval.histogram);
      }
    }
    EXPECT_EQ(logged.count(), agent["latency_ns"]["count"].get<uint64_t>());
    for (const auto& [key, percentile] :
         std::vector<std::pair<std::string, double>>{{"p50", 50}, {"p99", 99}, {"max", 100}}) {
      const int64_t reported = agent["latency_ns"][key].get<int64_t>();
      EXPECT_GE(logged.ValueAtPercentile(percentile), reported) << key;
      EXPECT_LE(logged.ValueAtPercentile(percentile), reported + reported / 128 + 1) << key;
    }
    merge_args.push_back(json_path);
    for (absl::string_view line : absl::StrSplit(ReadFile(Path(absl::StrCat("agent", i, ".raw"))),
                                                 '\n', absl::SkipEmpty())) {
      int64_t ns = 0;
      ASSERT_TRUE(absl::SimpleAtoi(line, &ns)) << line;
      raw.push_back(ns);
    }
  }
  EXPECT_EQ(agents_completed, static_cast<uint64_t>(kMessages));
  // The server saw 7 connections and echoed exactly the agents' messages.
  EXPECT_EQ(summary["accepted"], kConnections);
  EXPECT_EQ(summary["bytes_out"].get<uint64_t>(), static_cast<uint64_t>(kMessages) * kSize);

  merge_args.insert(merge_args.end(), {"-o", Path("merged.json")});
  testing::SocklabProcess merge(merge_args);
  ASSERT_TRUE(merge.available());
  testing::ProcessOutcome merged_run = merge.Wait(30'000);
  ASSERT_EQ(merged_run.exit_code, 0) << merged_run.err;
  RecordProperty("merge_output", merged_run.out);
  nlohmann::json merged = nlohmann::json::parse(ReadFile(Path("merged.json")));
  EXPECT_EQ(merged["messages"]["completed"].get<uint64_t>(), agents_completed);
  EXPECT_EQ(merged["messages"]["completed"].get<uint64_t>() * kSize,
            summary["bytes_out"].get<uint64_t>());
  EXPECT_EQ(merged["connections"]["opened"], summary["accepted"]);
  uint64_t series_messages = 0;
  for (const nlohmann::json& second : merged["series"]) {
    series_messages += second["messages"].get<uint64_t>();
  }
  EXPECT_EQ(series_messages, agents_completed);
  // Each agent's kernel counted only its own namespace's connections: their sum is the run's.
  EXPECT_EQ(merged["kernel"].value("Tcp.ActiveOpens", int64_t{0}), kConnections);

  // Percentiles of the merged histogram against the raw latencies of all agents.
  ASSERT_EQ(raw.size(), agents_completed);
  std::sort(raw.begin(), raw.end());
  const nlohmann::json& latency = merged["latency_ns"];
  EXPECT_EQ(latency["count"].get<uint64_t>(), raw.size());
  EXPECT_EQ(latency["max"].get<int64_t>(), raw.back());
  EXPECT_EQ(latency["min"].get<int64_t>(), raw.front());
  for (const auto& [key, hundredths] :
       std::vector<std::pair<std::string, uint64_t>>{{"p50", 5000}, {"p99", 9900}}) {
    const int64_t exact = RankValue(raw, hundredths);
    const int64_t reported = latency[key].get<int64_t>();
    // The bucket's highest value: never below the exact value, at most one bucket (1/128) above.
    EXPECT_GE(reported, exact) << key;
    EXPECT_LE(reported, exact + exact / 128 + 1) << key;
  }
  std::printf("%s", merged_run.out.c_str());

  // The same shard twice, or a file that is not a result: one line, exit 2, nothing merged.
  for (const auto& [args, names] : std::vector<std::pair<std::vector<std::string>, std::string>>{
           {{"merge", merge_args[1], merge_args[1]}, "are both shard 0/3"},
           {{"merge", merge_args[1], Path("server.out")}, "server.out"}}) {
    testing::SocklabProcess refused(args);
    testing::ProcessOutcome outcome = refused.Wait(30'000);
    EXPECT_EQ(outcome.exit_code, 2) << outcome.err;
    EXPECT_NE(outcome.err.find(names), std::string::npos) << outcome.err;
    EXPECT_EQ(std::count(outcome.err.begin(), outcome.err.end(), '\n'), 1) << outcome.err;
    EXPECT_TRUE(outcome.out.empty()) << outcome.out;
  }
}

}  // namespace
}  // namespace socklab

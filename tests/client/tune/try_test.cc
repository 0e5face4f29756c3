// `socklab tune --try` end to end, on real network namespaces: the built socklab runs the built
// socklab-server and socklab load in two namespaces it creates, and the kernel's own numbers
// from those runs (Tcp.ActiveOpens, TcpExt.ListenOverflows, the port range the load read from
// /proc) must show the two settings in force. "This host" is a namespace the test creates and
// narrows, so the host's own sysctls are never touched.
//
// Skips only when namespaces cannot be created by a non-root user; as root they must work.
#include <dirent.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "core/net/netns.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/client/tune/run_socklab.h"

namespace socklab {
namespace {

using testing_tune::RunResult;
using testing_tune::RunSocklab;

int Lines(const std::string& text) {
  return static_cast<int>(std::count(text.begin(), text.end(), '\n'));
}

// The sysctls of the "host" the tune run sees: the namespace this test's child creates.
struct HostSysctl {
  std::string name;
  std::string value;
};

// Runs `socklab args...` in a fresh namespace with `host` written there first (the stand-in for
// this host's current values). The namespace dies with the child.
absl::StatusOr<RunResult> RunSocklabOnHost(const std::vector<HostSysctl>& host,
                                           const std::vector<std::string>& args,
                                           absl::Duration timeout) {
  absl::StatusOr<ChildOutput> out =
      RunInChild({.new_netns = true, .timeout = timeout}, [&]() -> std::string {
        for (const HostSysctl& sysctl : host) {
          if (absl::Status written = WriteNetnsSysctl(sysctl.name, sysctl.value); !written.ok()) {
            return nlohmann::json{{"setup", std::string(written.message())}}.dump();
          }
        }
        RunResult run = RunSocklab(args, static_cast<int>(absl::ToInt64Seconds(timeout)) - 5);
        return nlohmann::json{{"exit", run.exit_code}, {"out", run.out}, {"err", run.err}}.dump();
      });
  if (!out.ok()) {
    return out.status();
  }
  nlohmann::json report = nlohmann::json::parse(out->output, nullptr, false);
  if (report.is_discarded() || report.contains("setup")) {
    return absl::InternalError(report.is_discarded() ? "the child died"
                                                     : report["setup"].get<std::string>());
  }
  return RunResult{report["exit"].get<int>(), report["out"].get<std::string>(),
                   report["err"].get<std::string>()};
}

// The runs of one side from the --json comparison.
std::vector<nlohmann::json> Runs(const nlohmann::json& comparison, const std::string& side) {
  std::vector<nlohmann::json> runs;
  for (const nlohmann::json& run : comparison["runs"]) {
    if (run["side"] == side) {
      runs.push_back(run["load"]);
    }
  }
  return runs;
}

// The count printed right after `prefix` in `text` ("1,027" -> 1027); -1 when absent.
int64_t CountAfter(const std::string& text, const std::string& prefix) {
  size_t at = text.find(prefix);
  if (at == std::string::npos) {
    return -1;
  }
  std::string digits;
  for (size_t i = at + prefix.size();
       i < text.size() && (absl::ascii_isdigit(text[i]) || text[i] == ','); ++i) {
    if (text[i] != ',') {
      digits.push_back(text[i]);
    }
  }
  int64_t count = -1;
  return absl::SimpleAtoi(digits, &count) ? count : -1;
}

int64_t Kernel(const nlohmann::json& load, const std::string& counter) {
  return load["kernel"].value(counter, int64_t{0});
}

class TuneTry : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!std::filesystem::exists(testing_tune::SocklabPath())) {
      GTEST_SKIP() << testing_tune::SocklabPath() << " is not built";
    }
    if (absl::Status available = CheckNetnsAvailable(); !available.ok()) {
      if (geteuid() == 0) {
        FAIL() << "running as root, yet no network namespace: " << available;
      }
      GTEST_SKIP() << available;
    }
  }
};

// The plan's port-exhaustion scenario: 100 ports, no TIME_WAIT reuse, 300 connects/s (the range
// allows 100 / 60 s = 1.7/s). Widening the range ends the EADDRNOTAVAIL.
TEST_F(TuneTry, WiderPortRangeEndsThePortExhaustionOfTheNarrowOne) {
  absl::StatusOr<RunResult> run = RunSocklabOnHost(
      {{"net.ipv4.ip_local_port_range", "40000 40099"}, {"net.ipv4.tcp_tw_reuse", "0"}},
      {"tune", "--json", "--try", "net.ipv4.ip_local_port_range=1024 65535", "--", "load", "-c",
       "1", "--churn", "1", "--connect-rate", "300", "-d", "2s"},
      absl::Seconds(90));
  ASSERT_TRUE(run.ok()) << run.status();
  ASSERT_EQ(run->exit_code, 0) << run->err;
  nlohmann::json comparison = nlohmann::json::parse(run->out);
  ASSERT_EQ(comparison["settings"].size(), 1u);
  EXPECT_EQ(comparison["settings"][0]["a"], "40000 40099");  // this "host"'s value
  std::vector<nlohmann::json> a = Runs(comparison, "A");
  std::vector<nlohmann::json> b = Runs(comparison, "B");
  ASSERT_EQ(a.size(), 1u);
  ASSERT_EQ(b.size(), 1u);
  // What the load read from the namespace's /proc: each side ran with its own range.
  EXPECT_EQ(a[0]["machine"]["ip_local_port_range"], nlohmann::json({40000, 40099}));
  EXPECT_EQ(b[0]["machine"]["ip_local_port_range"], nlohmann::json({1024, 65535}));
  // The kernel opened exactly the narrow range's worth of connections in A, and more in B.
  EXPECT_EQ(Kernel(a[0], "Tcp.ActiveOpens"), 100);
  EXPECT_GT(Kernel(b[0], "Tcp.ActiveOpens"), 100);

  const uint64_t a_errors = comparison["a"]["errors"].value("connect EADDRNOTAVAIL", uint64_t{0});
  EXPECT_GT(a_errors, 0u);
  EXPECT_EQ(comparison["b"]["errors_total"], 0);
  EXPECT_GE(comparison["a"]["peak_states"].value("TIME_WAIT", 0), 100);
  // The verdict states the measured difference, with the count A saw.
  std::string verdict = comparison["verdict"];
  EXPECT_TRUE(absl::StartsWith(
      verdict, absl::StrCat("with ip_local_port_range=1024 65535: 0 connect EADDRNOTAVAIL "
                            "instead of ")))
      << verdict;
  EXPECT_EQ(CountAfter(verdict, "EADDRNOTAVAIL instead of "), static_cast<int64_t>(a_errors))
      << verdict;
}

// Same narrow range: TIME_WAIT reuse (after 1 s) lets 50 connects/s through 100 ports, which
// without it run out after the first 100. Two runs a side, interleaved, in text. Only tw_reuse is
// named, so the narrow range reaches both namespaces as part of this "host"'s baseline (a new
// namespace's own default, 32768-60999, would not run out).
TEST_F(TuneTry, TimeWaitReuseEndsThePortExhaustionInText) {
  absl::StatusOr<RunResult> run = RunSocklabOnHost(
      {{"net.ipv4.ip_local_port_range", "40000 40099"}, {"net.ipv4.tcp_tw_reuse", "0"}},
      {"tune", "--try", "net.ipv4.tcp_tw_reuse=1", "--repeat", "2", "--", "load", "-c", "1",
       "--churn", "1", "--connect-rate", "50", "-d", "3s"},
      absl::Seconds(120));
  ASSERT_TRUE(run.ok()) << run.status();
  ASSERT_EQ(run->exit_code, 0) << run->err;
  EXPECT_TRUE(absl::StrContains(run->out, "runs A B A B")) << run->out;
  // "with tcp_tw_reuse=1: 0 connect EADDRNOTAVAIL instead of N; ...", N from two runs of A.
  EXPECT_GT(
      CountAfter(run->out, "verdict  with tcp_tw_reuse=1: 0 connect EADDRNOTAVAIL instead of "), 0)
      << run->out;
}

// A burst of 300 connects against an accept queue of somaxconn=4 overflows it (the kernel counts
// TcpExt.ListenOverflows); with 4096 it holds them all.
TEST_F(TuneTry, LargerSomaxconnEndsListenOverflows) {
  absl::StatusOr<RunResult> run =
      RunSocklabOnHost({{"net.core.somaxconn", "4"}, {"net.ipv4.tcp_fin_timeout", "17"}},
                       {"tune", "--json", "--try", "net.core.somaxconn=4096", "--", "load", "-c",
                        "300", "-d", "2s", "--connect-timeout", "1s"},
                       absl::Seconds(90));
  ASSERT_TRUE(run.ok()) << run.status();
  ASSERT_EQ(run->exit_code, 0) << run->err;
  nlohmann::json comparison = nlohmann::json::parse(run->out);
  std::vector<nlohmann::json> a = Runs(comparison, "A");
  std::vector<nlohmann::json> b = Runs(comparison, "B");
  ASSERT_EQ(a.size(), 1u);
  ASSERT_EQ(b.size(), 1u);
  EXPECT_EQ(a[0]["machine"]["somaxconn"], 4);
  EXPECT_EQ(b[0]["machine"]["somaxconn"], 4096);
  EXPECT_GT(Kernel(a[0], "TcpExt.ListenOverflows"), 0);
  EXPECT_EQ(Kernel(b[0], "TcpExt.ListenOverflows"), 0);
  std::string verdict = comparison["verdict"];
  EXPECT_EQ(CountAfter(verdict, "0 TcpExt.ListenOverflows instead of "),
            Kernel(a[0], "TcpExt.ListenOverflows"))
      << verdict;
  // Both namespaces started from the "host" values of what was not tried.
  EXPECT_EQ(comparison["baseline"]["net.ipv4.tcp_fin_timeout"], "17") << comparison["baseline"];
}

// --from-plan takes what the plan suggests for the workload: on the narrow range, the widened
// range the plan writes (7008-65535 for a target on port 7007, which is where the server listens).
TEST_F(TuneTry, FromPlanTriesThePlansSuggestions) {
  absl::StatusOr<RunResult> run = RunSocklabOnHost(
      {{"net.ipv4.ip_local_port_range", "40000 40099"}, {"net.ipv4.tcp_tw_reuse", "0"}},
      {"tune", "--json", "--from-plan", "-c", "1", "--conn-rate", "300", "--target",
       "127.0.0.1:7007", "--", "load", "-c", "1", "--churn", "1", "--connect-rate", "300", "-d",
       "2s"},
      absl::Seconds(90));
  ASSERT_TRUE(run.ok()) << run.status();
  ASSERT_EQ(run->exit_code, 0) << run->err;
  nlohmann::json comparison = nlohmann::json::parse(run->out);
  bool widened = false;
  for (const nlohmann::json& setting : comparison["settings"]) {
    if (setting["name"] == "net.ipv4.ip_local_port_range") {
      widened = setting["b"] == "7008 65535" && setting["a"] == "40000 40099";
    }
  }
  EXPECT_TRUE(widened) << comparison["settings"];
  std::vector<nlohmann::json> b = Runs(comparison, "B");
  ASSERT_EQ(b.size(), 1u);
  EXPECT_EQ(b[0]["machine"]["ip_local_port_range"], nlohmann::json({7008, 65535}));
  EXPECT_GT(comparison["a"]["errors"].value("connect EADDRNOTAVAIL", 0), 0);
  EXPECT_EQ(comparison["b"]["errors_total"], 0);
}

// nofile=N is the RLIMIT_NOFILE of the server and load started, not of anything else: the load
// in B reads 64 from the kernel and runs out of descriptors; A keeps this process's limit.
TEST_F(TuneTry, NofileAppliesOnlyToTheProcessesStarted) {
  RunResult run =
      RunSocklab({"tune", "--json", "--try", "nofile=64", "--", "load", "-c", "100", "-d", "1s"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  nlohmann::json comparison = nlohmann::json::parse(run.out);
  std::vector<nlohmann::json> a = Runs(comparison, "A");
  std::vector<nlohmann::json> b = Runs(comparison, "B");
  ASSERT_EQ(a.size(), 1u);
  ASSERT_EQ(b.size(), 1u);
  rlimit own{};
  getrlimit(RLIMIT_NOFILE, &own);
  EXPECT_EQ(a[0]["machine"]["nofile_soft"].get<uint64_t>(), own.rlim_cur);
  EXPECT_EQ(b[0]["machine"]["nofile_soft"], 64);
  EXPECT_EQ(comparison["a"]["errors"].value("socket EMFILE", 0), 0);
  EXPECT_GT(comparison["b"]["errors"].value("socket EMFILE", 0), 0);
}

// Parameters with one value for the whole system are refused before anything runs: by name
// (fs.*, tcp_mem), by what a new namespace has (net.core.dev_weight has no copy there), and a
// descriptor limit above the system-wide fs.nr_open; so is a value the kernel rejects.
TEST_F(TuneTry, RefusesWhatIsNotPerNamespaceWithOneLine) {
  const std::vector<std::string> refused = {"fs.file-max=100000",         "net.ipv4.tcp_mem=1 2 3",
                                            "net.core.rmem_max=16777216", "net.core.dev_weight=128",
                                            "nofile=99999999999",         "net.ipv4.tcp_tw_reuse=7",
                                            "kernel.pid_max=100000"};
  for (const std::string& setting : refused) {
    RunResult run = RunSocklab({"tune", "--try", setting, "--", "load", "-d", "1s"});
    EXPECT_EQ(run.exit_code, 2) << setting << "\n" << run.err;
    EXPECT_EQ(Lines(run.err), 1) << setting << "\n" << run.err;
    std::string name = setting.substr(0, setting.find('='));
    EXPECT_TRUE(absl::StrContains(run.err, name)) << run.err;
    EXPECT_EQ(run.out, "") << setting;
  }
  // The kernel's own answer for the bad value, and the reason for the system-wide ones.
  RunResult bad_value = RunSocklab({"tune", "--try", "net.ipv4.tcp_tw_reuse=7", "--", "load"});
  EXPECT_TRUE(absl::StrContains(bad_value.err, "EINVAL")) << bad_value.err;
  RunResult file_max = RunSocklab({"tune", "--try", "fs.file-max=100000", "--", "load"});
  EXPECT_TRUE(absl::StrContains(file_max.err, "not per network namespace")) << file_max.err;
  EXPECT_TRUE(absl::StrContains(file_max.err, "nofile")) << file_max.err;
}

TEST_F(TuneTry, BadUsageExitsTwoWithOneLine) {
  const std::vector<std::vector<std::string>> bad = {
      {"tune", "--try", "net.ipv4.tcp_tw_reuse=1"},                 // no command
      {"tune", "--try", "net.ipv4.tcp_tw_reuse=1", "--", "repro"},  // not load
      {"tune", "--try", "net.ipv4.tcp_tw_reuse", "--", "load"},     // no value
      {"tune", "--try", "x=1", "--", "load"},                       // unknown name
      {"tune", "--", "load", "-d", "1s"},                           // command, no --try
      {"tune", "--try", "net.core.somaxconn=8", "--repeat", "0", "--", "load"},
      {"tune", "--try", "net.core.somaxconn=8", "--", "load", "--bogus"},  // load refuses it
      {"tune", "--try", "net.core.somaxconn=8", "--try", "net.core.somaxconn=9", "--", "load"},
      {"tune", "--try", "net.core.somaxconn=8", "--", "load", "127.0.0.1:7007"},  // a target
      {"tune", "--from-plan", "--", "load"},  // plan has no target
  };
  for (const auto& args : bad) {
    RunResult run = RunSocklab(args, 60);
    std::string joined = absl::StrJoin(args, " ");
    EXPECT_EQ(run.exit_code, 2) << joined << "\n" << run.err;
    EXPECT_EQ(Lines(run.err), 1) << joined << "\n" << run.err;
  }
}

// The net namespace inode of `pid`, 0 when it is gone.
ino_t NetnsOf(pid_t pid) {
  struct stat ns {};
  return stat(absl::StrCat("/proc/", pid, "/ns/net").c_str(), &ns) == 0 ? ns.st_ino : 0;
}

// Every live process's parent, from /proc/PID/stat.
std::vector<std::pair<pid_t, pid_t>> ProcessParents() {
  std::vector<std::pair<pid_t, pid_t>> parents;
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    pid_t pid = 0;
    if (!absl::SimpleAtoi(entry.path().filename().string(), &pid)) {
      continue;
    }
    std::string stat = testing_tune::Slurp(entry.path() / "stat");
    size_t close = stat.rfind(')');
    if (close == std::string::npos) {
      continue;
    }
    std::vector<std::string> fields = absl::StrSplit(stat.substr(close + 2), ' ');
    pid_t parent = 0;
    if (fields.size() > 1 && absl::SimpleAtoi(fields[1], &parent)) {
      parents.push_back({pid, parent});
    }
  }
  return parents;
}

// Processes below `root` and the network namespaces they are in (other than ours).
void CollectDescendants(pid_t root, std::set<pid_t>* pids, std::set<ino_t>* namespaces) {
  std::set<pid_t> tree = {root};
  bool grew = true;
  std::vector<std::pair<pid_t, pid_t>> parents = ProcessParents();
  while (grew) {
    grew = false;
    for (const auto& [pid, parent] : parents) {
      if (tree.count(parent) > 0 && tree.insert(pid).second) {
        grew = true;
      }
    }
  }
  const ino_t own = NetnsOf(getpid());
  for (pid_t pid : tree) {
    pids->insert(pid);
    if (ino_t ns = NetnsOf(pid); ns != 0 && ns != own) {
      namespaces->insert(ns);
    }
  }
}

// Ctrl-C (SIGINT to the process group) in the middle of a run: socklab, its server and load
// end, and no process is left in either namespace, so the kernel has freed them.
TEST_F(TuneTry, InterruptLeavesNoNamespaceOrProcessBehind) {
  const pid_t parent = getpid();
  pid_t pid = fork();
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) {
      _exit(126);
    }
    setpgid(0, 0);
    // As a shell's foreground job gets it, whatever this test inherited (a background job of a
    // non-interactive shell starts with SIGINT ignored, and exec keeps that).
    signal(SIGINT, SIG_DFL);
    int null = open("/dev/null", O_WRONLY);
    dup2(null, 1);
    dup2(null, 2);
    std::string socklab = testing_tune::SocklabPath();
    execl(socklab.c_str(), socklab.c_str(), "tune", "--try", "net.core.somaxconn=128", "--", "load",
          "-c", "2", "-d", "30s", static_cast<char*>(nullptr));
    _exit(127);
  }
  ASSERT_GT(pid, 0);
  setpgid(pid, pid);  // also here, so the group exists before the signal whoever runs first
  std::set<pid_t> pids;
  std::set<ino_t> namespaces;
  // Until the load runs (a grandchild in a namespace that runs `load`), at most 30 s.
  bool load_running = false;
  for (int i = 0; i < 600 && !load_running; ++i) {
    CollectDescendants(pid, &pids, &namespaces);
    for (pid_t p : pids) {
      std::string cmdline = testing_tune::Slurp(absl::StrCat("/proc/", p, "/cmdline"));
      std::replace(cmdline.begin(), cmdline.end(), '\0', ' ');
      if (absl::StrContains(cmdline, "socklab load ")) {
        load_running = true;
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_TRUE(load_running) << "the load never started";
  // Run A's, and maybe the throwaway ones socklab tune checks the settings in first.
  EXPECT_GE(namespaces.size(), 1u);
  kill(-pid, SIGINT);
  int status = 0;
  bool ended = false;
  for (int i = 0; i < 1000 && !ended; ++i) {
    ended = waitpid(pid, &status, WNOHANG) == pid;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (!ended) {
    kill(-pid, SIGKILL);
    waitpid(pid, &status, 0);
  }
  ASSERT_TRUE(ended) << "socklab tune did not end on SIGINT";
  // The children die with their parents (SIGKILL on parent death): give them a moment, bounded.
  bool clean = false;
  for (int i = 0; i < 500 && !clean; ++i) {
    clean = true;
    for (const auto& [p, unused] : ProcessParents()) {
      if (namespaces.count(NetnsOf(p)) > 0 || (p != pid && pids.count(p) > 0)) {
        clean = false;
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_TRUE(clean) << "a process is still in one of the namespaces socklab tune created";
  RunResult netns = testing_tune::RunProgram({"ip", "netns", "list"}, 10);
  EXPECT_EQ(netns.out, "") << "socklab tune never names (mounts) a namespace";
}

}  // namespace
}  // namespace socklab

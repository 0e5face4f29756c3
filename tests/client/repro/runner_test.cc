// Runs every scenario once, for real, and asserts the errno (or state) each syscall returned.
// Afterwards nothing may be left behind: no namespace, no nftables rule, no child process, no
// changed host sysctl.
#include "client/repro/runner.h"

#include <dirent.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "client/repro/registry.h"
#include "core/net/netns.h"
#include "core/sysinfo/proc_fs.h"
#include "gtest/gtest.h"

namespace socklab::repro {
namespace {

// What the kernel must say, check by check, in order: independent of the scenarios' own
// "expected" text so a scenario cannot agree with itself.
const std::map<std::string, std::vector<std::string>>& ExpectedObservations() {
  static const auto* const kExpected = new std::map<std::string, std::vector<std::string>>{
      {"refused", {"ECONNREFUSED"}},
      {"reset", {"ECONNRESET"}},
      {"reset-unread", {"ECONNRESET"}},
      {"broken-pipe", {"OK", "EPIPE", "killed by SIGPIPE"}},
      {"too-many-files", {"EMFILE", "EMFILE", "OK"}},
      {"bind-in-use", {"EADDRINUSE", "OK", "EADDRINUSE"}},
      {"client-port-in-use", {"EADDRINUSE", "EADDRINUSE", "OK", "OK"}},
      {"port-exhaustion", {"EADDRNOTAVAIL", "EADDRNOTAVAIL", "OK"}},
      {"connect-timeout", {"deadline", "ETIMEDOUT"}},
      {"read-timeout", {"EAGAIN"}},
      {"peer-vanished", {"OK", "ETIMEDOUT", "ETIMEDOUT"}},
      {"permission", {"EACCES", "OK"}},
      {"eof", {"EOF"}},
      {"socket-closed", {"EBADF"}},
      {"unreachable", {"ENETUNREACH", "EHOSTUNREACH"}},
      {"no-buffer-space", {"EAGAIN", "ENOBUFS"}},
      {"time-wait", {"TIME_WAIT", "EADDRINUSE"}},
      {"close-wait-leak", {"CLOSE_WAIT"}},
      {"fin-wait-2", {"FIN_WAIT2", "CLOSE_WAIT"}},
      {"simultaneous-close", {"CLOSING", "CLOSE"}},
      {"simultaneous-open", {"SYN_SENT -> SYN_RECV -> ESTABLISHED", "ESTABLISHED/ESTABLISHED"}},
  };
  return *kExpected;
}

std::string ReadOr(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Everything a scenario could leave behind on the host.
struct HostState {
  std::map<std::string, std::string> sysctls;
  std::string lo_mtu;
  std::string netns_list;
  std::string nft_ruleset;
  bool operator==(const HostState&) const = default;
};

HostState ReadHostState() {
  HostState s;
  ProcFs proc;
  for (const char* name :
       {"net.ipv4.ip_local_port_range", "net.ipv4.tcp_tw_reuse", "net.ipv4.tcp_tw_reuse_delay",
        "net.ipv4.ip_unprivileged_port_start", "net.ipv4.tcp_timestamps"}) {
    absl::StatusOr<std::string> v = proc.ReadSysctl(name);
    s.sysctls[name] = v.ok() ? *v : "-";
  }
  s.lo_mtu = ReadOr("/sys/class/net/lo/mtu");
  absl::StatusOr<std::string> ns = RunTool({"ip", "netns", "list"});
  s.netns_list = ns.ok() ? *ns : "-";
  absl::StatusOr<std::string> nft = RunTool({"nft", "list", "ruleset"});
  s.nft_ruleset = nft.ok() ? *nft : "-";
  return s;
}

// Children of this process (a scenario child or its tools must never outlive the run).
int CountChildren() {
  int count = 0;
  DIR* dir = opendir("/proc");
  if (dir == nullptr) {
    return -1;
  }
  const std::string me = absl::StrCat(getpid());
  while (dirent* e = readdir(dir)) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') {
      continue;
    }
    std::string status = ReadOr(absl::StrCat("/proc/", e->d_name, "/status"));
    if (status.find(absl::StrCat("\nPPid:\t", me, "\n")) != std::string::npos) {
      ++count;
    }
  }
  closedir(dir);
  return count;
}

class ScenariosTest : public testing::Test {
 protected:
  static void SetUpTestSuite() {
    before_ = new HostState(ReadHostState());
    results_ = new std::map<std::string, ScenarioResult>();
    for (const Scenario& s : AllScenarios()) {
      (*results_)[s.info.name] = RunScenario(s);
    }
    after_ = new HostState(ReadHostState());
    children_after_ = CountChildren();
  }
  static void TearDownTestSuite() {
    delete before_;
    delete after_;
    delete results_;
  }

  static HostState* before_;
  static HostState* after_;
  static std::map<std::string, ScenarioResult>* results_;
  static int children_after_;
};

HostState* ScenariosTest::before_ = nullptr;
HostState* ScenariosTest::after_ = nullptr;
std::map<std::string, ScenarioResult>* ScenariosTest::results_ = nullptr;
int ScenariosTest::children_after_ = -1;

TEST_F(ScenariosTest, EveryScenarioHasAnExpectationHere) {
  for (const Scenario& s : AllScenarios()) {
    EXPECT_TRUE(ExpectedObservations().count(s.info.name)) << s.info.name;
  }
}

TEST_F(ScenariosTest, EveryScenarioReproducesWithTheRealErrno) {
  for (const auto& [name, expected] : ExpectedObservations()) {
    SCOPED_TRACE(name);
    ASSERT_TRUE(results_->count(name)) << "no scenario named " << name;
    const ScenarioResult& r = results_->at(name);
    if (r.outcome == Outcome::kSkipped) {
      // Only possible without root; never counted as a pass.
      ASSERT_NE(geteuid(), 0u) << "skipped as root: " << r.reason;
      GTEST_SKIP() << name << ": " << r.reason;
    }
    EXPECT_EQ(r.outcome, Outcome::kReproduced) << r.reason;
    std::vector<std::string> observed;
    for (const Check& c : r.checks) {
      observed.push_back(c.observed);
    }
    EXPECT_EQ(observed, expected);
    for (const Check& c : r.checks) {
      // The errno is the one the call returned: its name and number agree.
      if (c.observed_errno != 0) {
        EXPECT_EQ(c.observed.rfind("E", 0), 0u) << c.observed;
        EXPECT_FALSE(c.error_class.empty());
      }
    }
    EXPECT_FALSE(r.steps.empty());
  }
}

TEST_F(ScenariosTest, ErrnoClassesComeFromTheOneTable) {
  const ScenarioResult& refused = results_->at("refused");
  ASSERT_FALSE(refused.checks.empty());
  EXPECT_EQ(refused.checks[0].error_class, "refused");
  const ScenarioResult& vanished = results_->at("peer-vanished");
  if (vanished.outcome == Outcome::kReproduced) {
    EXPECT_EQ(vanished.checks[1].error_class, "timed_out");
  }
}

TEST_F(ScenariosTest, StatesAndCountersAreReported) {
  const ScenarioResult& tw = results_->at("time-wait");
  bool saw_time_wait_timer = false;
  for (const StateSnapshot& snap : tw.states) {
    for (const SocketState& s : snap.sockets) {
      if (s.state == "TIME_WAIT" && s.timer.find("timewait") != std::string::npos) {
        saw_time_wait_timer = true;
      }
    }
  }
  EXPECT_TRUE(saw_time_wait_timer);
  // Counters of a namespaced scenario are that namespace's alone: connect-timeout is not
  // namespaced, but port-exhaustion is, and made exactly its own connections.
  const ScenarioResult& pe = results_->at("port-exhaustion");
  if (pe.outcome == Outcome::kReproduced) {
    bool active_opens = false;
    for (const CounterDelta& d : pe.counters) {
      active_opens = active_opens || (d.name == "Tcp.ActiveOpens" && d.delta == 9);
    }
    EXPECT_TRUE(active_opens);
  }
}

TEST_F(ScenariosTest, NothingIsLeftBehind) {
  EXPECT_EQ(before_->sysctls, after_->sysctls);
  EXPECT_EQ(before_->lo_mtu, after_->lo_mtu);
  EXPECT_EQ(before_->netns_list, after_->netns_list);
  EXPECT_EQ(before_->nft_ruleset, after_->nft_ruleset);
  EXPECT_EQ(children_after_, 0);
}

}  // namespace
}  // namespace socklab::repro

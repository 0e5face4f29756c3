// Runs every scenario once, for real, and asserts the errno (or state) each syscall returned.
// Afterwards nothing may be left behind: no namespace, no nftables rule or qdisc, no process, no
// changed host sysctl. The suite's ctest TIMEOUT (CMakeLists.txt) is the "--all completes in
// under two minutes" requirement: the run itself asserts nothing about speed.
#include "client/repro/runner.h"

#include <dirent.h>
#include <linux/capability.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "client/repro/registry.h"
#include "client/repro/report.h"
#include "client/repro/wire_pattern.h"
#include "core/base/errno_name.h"
#include "core/capture/kernel_events.h"
#include "core/capture/tcp_segment.h"
#include "core/limits/derivations.h"
#include "core/net/netns.h"
#include "core/process/run_tool.h"
#include "core/sysinfo/proc_fs.h"
#include "gtest/gtest.h"
#include "tests/testing/shell.h"

namespace socklab::repro {
namespace {

constexpr const char* kPath = "SYN_SENT -> SYN_RECV -> ESTABLISHED";
constexpr const char* kClosePath = "FIN_WAIT1 -> CLOSING -> TIME_WAIT";

// What the kernel must say, check by check, in order: independent of the scenarios' own
// "expected" text so a scenario cannot agree with itself.
const std::map<std::string, std::vector<std::string>>& ExpectedObservations() {
  static const auto* const kExpected = new std::map<std::string, std::vector<std::string>>{
      {"normal", {"OK", "5 bytes", "OK", "7 bytes", "EOF", "TIME_WAIT"}},
      {"refused", {"ECONNREFUSED"}},
      {"firewall-reset", {"ECONNREFUSED"}},
      {"firewall-icmp", {"EHOSTUNREACH", "ENETUNREACH"}},
      {"prohibit-route", {"EACCES"}},
      {"reset", {"ECONNRESET"}},
      {"reset-unread", {"ECONNRESET"}},
      {"broken-pipe", {"OK", "EPIPE", "killed by SIGPIPE"}},
      {"too-many-files", {"EMFILE", "EMFILE", "OK"}},
      {"bind-in-use", {"EADDRINUSE", "OK", "EADDRINUSE"}},
      {"server-restart", {"EADDRINUSE", "EADDRINUSE", "OK", "OK"}},
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
      {"simultaneous-close", {kClosePath, kClosePath}},
      {"simultaneous-open", {kPath, kPath, "127.0.0.1:6001 <-> 127.0.0.1:6002"}},
  };
  return *kExpected;
}

// What each scenario must put on the wire (wire_pattern.h notation), again independent of the
// scenarios' own patterns.
const std::map<std::string, std::string>& ExpectedWire() {
  static const auto* const kExpected = new std::map<std::string, std::string>{
      {"normal", "> SYN, < SYN/ACK, > ACK, > PSH/ACK, < PSH/ACK, > FIN/ACK, < FIN/ACK, > ACK"},
      {"refused", "> SYN, < RST/ACK"},
      {"firewall-reset", "> SYN, < RST/ACK"},
      {"firewall-icmp", "> SYN, nothing back"},
      {"prohibit-route", "no packet"},
      {"reset", "> SYN, < SYN/ACK, > ACK, < RST/ACK"},
      {"reset-unread", "> SYN, < SYN/ACK, > ACK, > PSH/ACK, < RST/ACK"},
      {"broken-pipe", "> SYN, < SYN/ACK, > ACK, < FIN/ACK, > PSH/ACK, < RST"},
      {"too-many-files", "> SYN, < SYN/ACK, > ACK"},
      {"bind-in-use", "no packet"},
      {"server-restart", "> SYN, < SYN/ACK, > ACK, < FIN/ACK, > FIN/ACK, < ACK"},
      {"client-port-in-use", "> SYN, < SYN/ACK, > ACK, > FIN/ACK, < FIN/ACK, > ACK"},
      {"port-exhaustion", "> SYN, < SYN/ACK, > ACK, > FIN/ACK, < FIN/ACK, > ACK"},
      {"connect-timeout", "> SYN, > SYN, nothing back"},
      {"read-timeout", "> SYN, < SYN/ACK, > ACK"},
      {"peer-vanished", "> SYN, < SYN/ACK, > ACK, > PSH/ACK, > PSH/ACK"},
      {"permission", "no packet"},
      {"eof", "> SYN, < SYN/ACK, > ACK, < FIN/ACK"},
      {"socket-closed", "> SYN, < SYN/ACK, > ACK, > FIN/ACK, < ACK"},
      {"unreachable", "no packet"},
      {"no-buffer-space", "> SYN, < SYN/ACK, > ACK, > PSH/ACK"},
      {"time-wait", "> SYN, < SYN/ACK, > ACK, > FIN/ACK, < ACK, < FIN/ACK, > ACK"},
      {"close-wait-leak", "> SYN, < SYN/ACK, > ACK, < FIN/ACK, > ACK"},
      {"fin-wait-2", "> SYN, < SYN/ACK, > ACK, > FIN/ACK, < ACK"},
      {"simultaneous-close", "> FIN/ACK, < FIN/ACK, < ACK, > ACK"},
      {"simultaneous-open", "> SYN, < SYN, < SYN/ACK, > SYN/ACK"},
  };
  return *kExpected;
}

std::string ReadOr(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

ino_t NetnsInodeOf(const std::string& pid) {
  struct stat st {};
  return stat(absl::StrCat("/proc/", pid, "/ns/net").c_str(), &st) == 0 ? st.st_ino : 0;
}

struct Process {
  pid_t pid = 0;
  pid_t ppid = 0;
  pid_t pgrp = 0;
  ino_t netns = 0;
  std::string comm;
};

// Every process on the machine (those that exit while we read are simply missing).
std::map<pid_t, Process> ReadProcesses() {
  std::map<pid_t, Process> out;
  DIR* dir = opendir("/proc");
  if (dir == nullptr) {
    return out;
  }
  while (dirent* e = readdir(dir)) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') {
      continue;
    }
    std::string stat = ReadOr(absl::StrCat("/proc/", e->d_name, "/stat"));
    size_t open = stat.find('(');
    size_t close = stat.rfind(')');
    if (open == std::string::npos || close == std::string::npos) {
      continue;
    }
    // "pid (comm) state ppid pgrp ..."
    std::vector<std::string> fields =
        absl::StrSplit(stat.substr(close + 2), ' ', absl::SkipEmpty());
    if (fields.size() < 3) {
      continue;
    }
    Process p;
    p.pid = static_cast<pid_t>(atoi(e->d_name));
    p.ppid = static_cast<pid_t>(atoi(fields[1].c_str()));
    p.pgrp = static_cast<pid_t>(atoi(fields[2].c_str()));
    p.netns = NetnsInodeOf(e->d_name);
    p.comm = stat.substr(open + 1, close - open - 1);
    out[p.pid] = p;
  }
  closedir(dir);
  return out;
}

// Ours: a descendant of this process. Not "a member of its process group": ctest runs parallel
// tests in its own group, so a neighbour test's server or namespaced child would count as ours.
// A tool grandchild whose parent died stays a descendant: this process is a child subreaper
// (SetUpTestSuite), so orphans of its subtree are reparented to it, not to init.
bool IsOurs(const std::map<pid_t, Process>& all, const Process& p) {
  for (pid_t up = p.ppid; up > 1;) {
    if (up == getpid()) {
      return true;
    }
    auto it = all.find(up);
    if (it == all.end()) {
      return false;
    }
    up = it->second.ppid;
  }
  return false;
}

std::string Describe(const Process& p) {
  return absl::StrCat(p.pid, " (", p.comm, ", netns ", p.netns, ")");
}

// Everything a scenario could leave behind on the host, and the processes of this run.
struct HostState {
  std::map<std::string, std::string> sysctls;
  std::string lo_mtu;
  std::string lo_qdisc;
  std::string test_net_routes;
  std::string nft_ruleset;
  std::map<pid_t, Process> processes;
};

HostState ReadHostState() {
  HostState s;
  ProcFs proc;
  // Every sysctl a scenario writes (in its namespace) or reads to decide something.
  for (const char* name :
       {"net.ipv4.ip_local_port_range", "net.ipv4.tcp_tw_reuse", "net.ipv4.tcp_tw_reuse_delay",
        "net.ipv4.ip_unprivileged_port_start", "net.ipv4.tcp_timestamps", "net.core.optmem_max",
        "net.core.wmem_default"}) {
    absl::StatusOr<std::string> v = proc.ReadSysctl(name);
    s.sysctls[name] = v.ok() ? *v : "-";
  }
  s.lo_mtu = ReadOr("/sys/class/net/lo/mtu");
  absl::StatusOr<std::string> qdisc = RunTool({"tc", "qdisc", "show", "dev", "lo"});
  s.lo_qdisc = qdisc.ok() ? *qdisc : "-";
  // unreachable adds a route for 192.0.2.0/24 (TEST-NET-1) in its namespace.
  absl::StatusOr<std::string> routes = RunTool({"ip", "route", "show", "table", "all"});
  for (absl::string_view line : absl::StrSplit(routes.value_or(""), '\n')) {
    if (line.find("192.0.2.") != absl::string_view::npos) {
      absl::StrAppend(&s.test_net_routes, line, "\n");
    }
  }
  absl::StatusOr<std::string> nft = RunTool({"nft", "list", "ruleset"});
  s.nft_ruleset = nft.ok() ? *nft : "-";
  s.processes = ReadProcesses();
  return s;
}

class ScenariosTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    // Orphans of the scenarios' children come back to this process (see IsOurs).
    prctl(PR_SET_CHILD_SUBREAPER, 1);
    before_ = new HostState(ReadHostState());
    results_ = new std::map<std::string, ScenarioResult>();
    char dir[] = "/tmp/socklab-repro-pcap-XXXXXX";
    pcap_dir_ = new std::string(mkdtemp(dir) != nullptr ? dir : "");
    for (const Scenario& s : AllScenarios()) {
      (*results_)[s.info.name] = RunScenario(
          s, pcap_dir_->empty() ? "" : absl::StrCat(*pcap_dir_, "/", s.info.name, ".pcap"));
    }
    // Reap orphans that already exited (ours as the subreaper); the living remain to be seen.
    while (waitpid(-1, nullptr, WNOHANG) > 0) {
    }
    after_ = new HostState(ReadHostState());
  }
  static void TearDownTestSuite() {
    if (!pcap_dir_->empty()) {
      RunTool({"rm", "-rf", *pcap_dir_}).IgnoreError();
    }
    delete pcap_dir_;
    delete before_;
    delete after_;
    delete results_;
  }

  static HostState* before_;
  static HostState* after_;
  static std::map<std::string, ScenarioResult>* results_;
  static std::string* pcap_dir_;  // each scenario's capture as a pcap file, NAME in it
};
std::string* ScenariosTest::pcap_dir_ = nullptr;

HostState* ScenariosTest::before_ = nullptr;
HostState* ScenariosTest::after_ = nullptr;
std::map<std::string, ScenarioResult>* ScenariosTest::results_ = nullptr;

TEST_F(ScenariosTest, EveryScenarioHasAnExpectationHere) {
  for (const Scenario& s : AllScenarios()) {
    EXPECT_TRUE(ExpectedObservations().count(s.info.name)) << s.info.name;
  }
}

TEST_F(ScenariosTest, EveryScenarioReproducesWithTheRealErrno) {
  std::vector<std::string> skipped;
  for (const auto& [name, expected] : ExpectedObservations()) {
    SCOPED_TRACE(name);
    ASSERT_TRUE(results_->count(name)) << "no scenario named " << name;
    const ScenarioResult& r = results_->at(name);
    if (r.outcome == Outcome::kSkipped) {
      // Only possible without root; never counted as a pass, and the others still run.
      EXPECT_NE(geteuid(), 0u) << "skipped as root: " << r.reason;
      skipped.push_back(absl::StrCat(name, " (", r.reason, ")"));
      continue;
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
        EXPECT_EQ(ErrnoName(c.observed_errno), c.observed) << c.call;
        EXPECT_FALSE(c.error_class.empty());
      }
    }
    EXPECT_FALSE(r.steps.empty());
  }
  if (!skipped.empty()) {
    GTEST_SKIP() << "skipped: " << absl::StrJoin(skipped, "; ");
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

bool HasCounter(const ScenarioResult& r, const std::string& name) {
  for (const CounterDelta& d : r.counters) {
    if (d.name == name && d.delta > 0) {
      return true;
    }
  }
  return false;
}

// A row of `r`'s snapshots that matches, or nullptr.
const SocketState* FindSocket(const ScenarioResult& r, const std::string& label_part,
                              const std::string& state, const std::string& who_part = "") {
  for (const StateSnapshot& snap : r.states) {
    if (snap.label.find(label_part) == std::string::npos) {
      continue;
    }
    for (const SocketState& s : snap.sockets) {
      if (s.state == state && s.who.find(who_part) != std::string::npos) {
        return &s;
      }
    }
  }
  return nullptr;
}

TEST_F(ScenariosTest, StatesAndCountersAreReported) {
  const ScenarioResult& tw = results_->at("time-wait");
  const SocketState* time_wait = FindSocket(tw, "", "TIME_WAIT", "(no fd)");
  ASSERT_NE(time_wait, nullptr);
  EXPECT_NE(time_wait->timer.find("timewait"), std::string::npos);
  // Counters of a namespaced scenario are that namespace's alone: port-exhaustion made exactly
  // its own connections.
  const ScenarioResult& pe = results_->at("port-exhaustion");
  if (pe.outcome == Outcome::kReproduced) {
    bool active_opens = false;
    for (const CounterDelta& d : pe.counters) {
      active_opens = active_opens || (d.name == "Tcp.ActiveOpens" && d.delta == 9);
    }
    EXPECT_TRUE(active_opens);
  }
  if (geteuid() != 0) {
    return;  // the rest are namespaced scenarios
  }
  // The errors that fail before TCP show the IP/UDP counter that explains them.
  EXPECT_TRUE(HasCounter(results_->at("unreachable"), "Ip.OutNoRoutes"));
  EXPECT_TRUE(HasCounter(results_->at("no-buffer-space"), "Udp.SndbufErrors"));
}

TEST_F(ScenariosTest, EveryScenarioWithATcpSocketShowsItsStates) {
  for (const Scenario& s : AllScenarios()) {
    const ScenarioResult& r = results_->at(s.info.name);
    if (r.outcome == Outcome::kSkipped) {
      continue;
    }
    EXPECT_FALSE(r.states.empty()) << s.info.name;
  }
  // connect-timeout: the full listener (backlog 1 holds 2) with its accept queue, the two
  // queued fillers and the third whose SYN was dropped.
  const ScenarioResult& ct = results_->at("connect-timeout");
  const SocketState* listener = FindSocket(ct, "accept queue is full", "LISTEN", "server");
  ASSERT_NE(listener, nullptr);
  EXPECT_EQ(listener->detail, "accept queue 2 (backlog 1)");
  EXPECT_NE(FindSocket(ct, "accept queue is full", "ESTABLISHED", "filler 1"), nullptr);
  EXPECT_NE(FindSocket(ct, "accept queue is full", "ESTABLISHED", "filler 2"), nullptr);
  EXPECT_NE(FindSocket(ct, "accept queue is full", "SYN_SENT", "filler 3"), nullptr);
  EXPECT_NE(FindSocket(ct, "accept queue is full", "ESTABLISHED", "(not accepted)"), nullptr);
  // socket-closed: established before, the fd gone after and the connection orphaned.
  const ScenarioResult& sc = results_->at("socket-closed");
  EXPECT_NE(FindSocket(sc, "before the close", "ESTABLISHED", "client"), nullptr);
  EXPECT_NE(FindSocket(sc, "after close()", "FIN_WAIT2", "(orphan)"), nullptr);
  EXPECT_EQ(FindSocket(sc, "after close()", "FIN_WAIT2", "client"), nullptr);
  if (geteuid() == 0) {
    // unreachable: the socket never left CLOSE (there is no SYN_SENT to show).
    EXPECT_NE(FindSocket(results_->at("unreachable"), "failed connect", "CLOSE", "client"),
              nullptr);
    EXPECT_NE(FindSocket(results_->at("permission"), "listening", "LISTEN", "server"), nullptr);
  }
}

TEST_F(ScenariosTest, NoSocketIsListedTwiceInASnapshot) {
  for (const auto& [name, r] : *results_) {
    for (const StateSnapshot& snap : r.states) {
      std::set<std::tuple<std::string, std::string, std::string>> seen;
      for (const SocketState& s : snap.sockets) {
        if (s.local == "-" || s.local.ends_with(":0")) {
          continue;  // unbound sockets all look alike
        }
        EXPECT_TRUE(seen.insert({s.local, s.remote, s.state}).second)
            << name << ", " << snap.label << ": " << s.who << " " << s.local << " -> " << s.remote
            << " " << s.state;
      }
    }
  }
}

TEST_F(ScenariosTest, LimitHintsUseTheNumbersWhereTheScenarioRan) {
  if (geteuid() != 0) {
    GTEST_SKIP() << "port-exhaustion and no-buffer-space need a namespace (root)";
  }
  const ScenarioResult& pe = results_->at("port-exhaustion");
  std::string lines = absl::StrJoin(pe.kernel_lines, "\n");
  EXPECT_NE(lines.find("limit in the scenario's namespace: ip_local_port_range 40000-40007 gives "
                       "8 ports"),
            std::string::npos)
      << lines;
  // One port-range recommendation: the limit line and the knob line give the same range, the
  // one tune --plan gives for a server on port 5000.
  const std::string range = RecommendedPortRange(5000).Command();
  for (const std::string& line : pe.kernel_lines) {
    if (line.find("ip_local_port_range=") != std::string::npos) {
      EXPECT_NE(line.find(range), std::string::npos) << line;
    }
  }
  EXPECT_NE(lines.find(range), std::string::npos) << lines;
  // The accept queue the scenario's listener asked for, not somaxconn's.
  std::string ct = absl::StrJoin(results_->at("connect-timeout").kernel_lines, "\n");
  EXPECT_NE(ct.find("min(backlog 1, somaxconn "), std::string::npos) << ct;
  // ENOBUFS from UDP is not explained by TCP memory.
  std::string nobufs = absl::StrJoin(results_->at("no-buffer-space").kernel_lines, "\n");
  EXPECT_EQ(nobufs.find("tcp_mem"), std::string::npos) << nobufs;
}

TEST_F(ScenariosTest, NothingIsLeftBehind) {
  EXPECT_EQ(before_->sysctls, after_->sysctls);
  EXPECT_EQ(before_->lo_mtu, after_->lo_mtu);
  EXPECT_EQ(before_->lo_qdisc, after_->lo_qdisc);
  EXPECT_EQ(before_->test_net_routes, after_->test_net_routes);
  EXPECT_EQ(before_->nft_ruleset, after_->nft_ruleset);
  // No process of this run is left: no scenario child, no tool, reparented or not.
  std::vector<std::string> left;
  for (const auto& [pid, p] : after_->processes) {
    if (pid != getpid() && !before_->processes.count(pid) && IsOurs(after_->processes, p)) {
      left.push_back(Describe(p));
    }
  }
  EXPECT_TRUE(left.empty()) << absl::StrJoin(left, ", ");
  // No network namespace of this run is left. A namespace lives as long as a process in it
  // (nothing is mounted under /run/netns, so `ip netns list` could never show one): a namespace
  // that appeared during the run may only be held by other programs on this machine.
  std::set<ino_t> netns_before;
  for (const auto& [pid, p] : before_->processes) {
    netns_before.insert(p.netns);
  }
  std::vector<std::string> ours_in_new_netns;
  for (const auto& [pid, p] : after_->processes) {
    if (p.netns != 0 && !netns_before.count(p.netns) && IsOurs(after_->processes, p)) {
      ours_in_new_netns.push_back(Describe(p));
    }
  }
  EXPECT_TRUE(ours_in_new_netns.empty()) << absl::StrJoin(ours_in_new_netns, ", ");
  // No trace instance: each scenario removed its own, or the runner did (permission drops the
  // privileges its removal needs).
  if (geteuid() == 0) {
    absl::StatusOr<ChildOutput> instances = RunInChild({}, [] {
      absl::StatusOr<std::vector<std::string>> names = TraceInstances();
      if (!names.ok()) {
        return std::string(names.status().message());
      }
      // A living process's instance is another test's at work; one whose process is gone was
      // left behind.
      std::vector<std::string> orphans;
      for (const std::string& name : *names) {
        int pid = 0;
        if (absl::SimpleAtoi(absl::StripPrefix(name, "socklab-"), &pid) && kill(pid, 0) != 0 &&
            errno == ESRCH) {
          orphans.push_back(name);
        }
      }
      return absl::StrCat("instances: ", absl::StrJoin(orphans, ","));
    });
    ASSERT_TRUE(instances.ok()) << instances.status();
    EXPECT_EQ(instances->output, "instances: ");
  }
}

TEST_F(ScenariosTest, EveryScenarioShowsAndChecksItsWirePattern) {
  for (const Scenario& s : AllScenarios()) {
    SCOPED_TRACE(s.info.name);
    ASSERT_TRUE(ExpectedWire().count(s.info.name)) << "no wire expectation here";
    const ScenarioResult& r = results_->at(s.info.name);
    if (r.outcome == Outcome::kSkipped) {
      continue;
    }
    if (geteuid() != 0) {
      // Without capture rights the scenario ran all the same and says why there is no capture.
      EXPECT_NE(r.wire.missing.find("CAP_NET_RAW"), std::string::npos) << r.wire.missing;
      continue;
    }
    ASSERT_EQ(r.wire.missing, "");
    EXPECT_EQ(r.wire.expected, s.info.wire);
    EXPECT_TRUE(r.wire.ok) << "observed " << r.wire.observed;
    WireMatch independent = MatchWirePattern(ExpectedWire().at(s.info.name), r.wire.segments);
    EXPECT_TRUE(independent.ok) << "expected " << ExpectedWire().at(s.info.name) << ", observed "
                                << independent.observed;
    EXPECT_EQ(r.wire.dropped, 0u);
    for (const WireSegmentLine& line : r.wire.segments) {
      EXPECT_GE(line.at_seconds, 0) << line.flags;
      EXPECT_LE(line.at_seconds, r.seconds) << line.flags;
    }
  }
}

TEST_F(ScenariosTest, SegmentsCarryTheirHeadersAndTheCallThatCausedThem) {
  if (geteuid() != 0) {
    GTEST_SKIP() << "capturing needs root or CAP_NET_RAW";
  }
  const WireView& refused = results_->at("refused").wire;
  ASSERT_EQ(refused.segments.size(), 2u);
  const WireSegmentLine& syn = refused.segments[0];
  EXPECT_NE(syn.options.find("mss "), std::string::npos) << syn.options;
  EXPECT_EQ(syn.seq, 0u);
  EXPECT_NE(syn.cause.find("client: connect("), std::string::npos) << syn.cause;
  const WireSegmentLine& rst = refused.segments[1];
  EXPECT_EQ(rst.ack, 1u);  // the RST acknowledges the SYN
  EXPECT_EQ(rst.cause, syn.cause);
  // A SYN retransmitted by the kernel's timer while connect() blocked is marked as such and
  // shown as during the call, not caused by it.
  int retransmitted = 0;
  for (const WireSegmentLine& line : results_->at("connect-timeout").wire.segments) {
    if (line.retransmission) {
      ++retransmitted;
      EXPECT_EQ(line.flags, "SYN");
      EXPECT_TRUE(line.cause.empty() || line.cause.starts_with("during ")) << line.cause;
    }
  }
  EXPECT_GE(retransmitted, 1);
}

// Two witnesses of one fact: every RST in a scenario's capture is one the kernel says it sent
// (tcp:tcp_send_reset, with its reason), and every retransmission the capture shows is one the
// kernel says it made (it may make more: in the tbf scenarios some wait in lo's queue past the
// end of the scenario).
TEST_F(ScenariosTest, KernelEventsAgreeWithThePackets) {
  if (geteuid() != 0) {
    GTEST_SKIP() << "capturing and tracing need root";
  }
  for (const Scenario& s : AllScenarios()) {
    SCOPED_TRACE(s.info.name);
    const WireView& wire = results_->at(s.info.name).wire;
    ASSERT_EQ(wire.events_missing, "");
    int rst_segments = 0, retransmitted = 0, resets_sent = 0, retransmissions = 0;
    for (const WireSegmentLine& line : wire.segments) {
      rst_segments += line.flags.starts_with("RST") ? 1 : 0;
      retransmitted += line.retransmission ? 1 : 0;
    }
    for (const KernelEventLine& e : wire.events) {
      resets_sent += e.name == "tcp_send_reset" ? 1 : 0;
      retransmissions += e.name.starts_with("tcp_retransmit") ? 1 : 0;
    }
    if (s.info.name == "firewall-reset") {
      // The one RST this host's TCP did not send: nftables built it.
      EXPECT_EQ(resets_sent, 0);
      EXPECT_EQ(rst_segments, 1);
    } else {
      EXPECT_EQ(resets_sent, rst_segments);
    }
    EXPECT_LE(retransmitted, retransmissions);
  }
  std::string refused;
  for (const KernelEventLine& e : results_->at("refused").wire.events) {
    absl::StrAppend(&refused, e.text, "\n");
  }
  EXPECT_NE(refused.find("RST sent (reason NO_SOCKET, state no socket)\nRST received\n"
                         "SYN_SENT -> CLOSE\n"),
            std::string::npos)
      << refused;
  bool abort_on_close = false;
  for (const KernelEventLine& e : results_->at("reset-unread").wire.events) {
    abort_on_close =
        abort_on_close || e.text.find("reason TCP_ABORT_ON_CLOSE") != std::string::npos;
  }
  EXPECT_TRUE(abort_on_close);
}

// The kernel events each scenario names (ScenarioInfo::events) were checked and met, and the
// reasons of the resets are the kernel's own for each way of resetting.
TEST_F(ScenariosTest, ExpectedKernelEventsAreMet) {
  if (geteuid() != 0) {
    GTEST_SKIP() << "tracing needs root";
  }
  for (const Scenario& s : AllScenarios()) {
    SCOPED_TRACE(s.info.name);
    const WireView& wire = results_->at(s.info.name).wire;
    EXPECT_EQ(wire.events_expected, s.info.events);
    EXPECT_TRUE(wire.events_unmet.empty()) << absl::StrJoin(wire.events_unmet, "; ");
  }
  const std::map<std::string, std::string> reasons = {
      {"refused", "NO_SOCKET"}, {"reset", "TCP_STATE"}, {"reset-unread", "TCP_ABORT_ON_CLOSE"}};
  for (const auto& [name, reason] : reasons) {
    std::string seen;
    for (const KernelEventLine& e : results_->at(name).wire.events) {
      if (e.name == "tcp_send_reset") {
        seen = e.text;
      }
    }
    EXPECT_NE(seen.find(absl::StrCat("reason ", reason, ",")), std::string::npos)
        << name << ": " << seen;
  }
}

// normal: both sides' every state, from the kernel's events (not from the scenario's words),
// and every segment explained.
TEST_F(ScenariosTest, NormalShowsEveryStateOnBothSidesAndExplainsEverySegment) {
  if (geteuid() != 0) {
    GTEST_SKIP() << "capturing and tracing need root";
  }
  const ScenarioResult& r = results_->at("normal");
  ASSERT_EQ(r.outcome, Outcome::kReproduced) << r.reason;
  // Each socket's path, by its own end: the client's port, then the server's connection (the
  // listener's port with the client as peer).
  std::map<std::string, std::vector<std::string>> paths;
  for (const KernelEventLine& e : r.wire.events) {
    if (e.name != "inet_sock_set_state" || absl::EndsWith(e.src, ":0") ||
        absl::EndsWith(e.dst, ":0")) {
      continue;  // a socket before its port or without a peer (the listener)
    }
    std::vector<std::string>& path = paths[absl::StrCat(e.src, " ", e.dst)];
    for (absl::string_view state : absl::StrSplit(e.text, " -> ")) {
      if (path.empty() || path.back() != state) {
        path.emplace_back(state);
      }
    }
  }
  std::vector<std::string> seen;
  for (const auto& [socket, path] : paths) {
    seen.push_back(absl::StrJoin(path, " -> "));
  }
  std::sort(seen.begin(), seen.end());
  EXPECT_EQ(seen, (std::vector<std::string>{
                      "LISTEN -> SYN_RECV -> ESTABLISHED -> CLOSE_WAIT -> LAST_ACK -> CLOSE",
                      "SYN_SENT -> ESTABLISHED -> FIN_WAIT1 -> FIN_WAIT2 -> CLOSE"}));
  ASSERT_GE(r.wire.segments.size(), 8u);
  for (const WireSegmentLine& line : r.wire.segments) {
    EXPECT_FALSE(line.explanation.empty()) << line.flags << " seq " << line.seq;
  }
  EXPECT_NE(r.wire.segments[0].explanation.find("MSS"), std::string::npos);
  EXPECT_NE(r.wire.segments[1].explanation.find("ack 1 acknowledges the SYN"), std::string::npos)
      << r.wire.segments[1].explanation;
  bool data = false;
  for (const WireSegmentLine& line : r.wire.segments) {
    data =
        data || line.explanation.find("bytes 1 to 5 of the client's stream") != std::string::npos;
  }
  EXPECT_TRUE(data);
}

// What tshark reads from every scenario's pcap file (concatenated by mergecap, so tshark starts
// once): the same segments with the same flags as the scenarios' own wire views.
TEST_F(ScenariosTest, TsharkReadsTheSameFlagsFromThePcapFiles) {
  if (geteuid() != 0) {
    GTEST_SKIP() << "capturing needs root or CAP_NET_RAW";
  }
  if (!RunTool({"tshark", "--version"}).ok() || !RunTool({"mergecap", "-h"}).ok()) {
    GTEST_SKIP() << "tshark/mergecap are not installed (scripts/install-deps installs tshark)";
  }
  std::vector<std::string> merge = {"mergecap", "-a", "-F",
                                    "pcap",     "-w", absl::StrCat(*pcap_dir_, "/all.pcap")};
  std::vector<std::string> ours;
  for (const Scenario& s : AllScenarios()) {
    const ScenarioResult& r = results_->at(s.info.name);
    if (r.outcome == Outcome::kSkipped) {
      continue;
    }
    SCOPED_TRACE(s.info.name);
    ASSERT_EQ(r.wire.pcap_path, absl::StrCat(*pcap_dir_, "/", s.info.name, ".pcap"));
    merge.push_back(r.wire.pcap_path);
    for (const WireSegmentLine& line : r.wire.segments) {
      ours.push_back(line.flags);
    }
  }
  absl::StatusOr<std::string> merged = RunTool(merge);
  ASSERT_TRUE(merged.ok()) << merged.status();
  std::vector<std::string> theirs;
  for (uint8_t flags : socklab::testing::TsharkTcpFlags(absl::StrCat(*pcap_dir_, "/all.pcap"))) {
    theirs.push_back(TcpFlagsText(flags));
  }
  EXPECT_FALSE(ours.empty());
  EXPECT_EQ(theirs, ours);
}

// Without CAP_NET_RAW a scenario still runs, and its result says once why there is no capture.
TEST(ScenarioWithoutCaptureRightsTest, RunsAndSaysWhyTheWireViewIsMissing) {
  absl::StatusOr<ChildOutput> child = RunInChild({}, [] {
    __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct data[2] = {};
    if (syscall(SYS_capget, &header, data) != 0) {
      return std::string();
    }
    data[CAP_NET_RAW / 32].effective &= ~(1u << (CAP_NET_RAW % 32));
    data[CAP_NET_RAW / 32].permitted &= ~(1u << (CAP_NET_RAW % 32));
    if (syscall(SYS_capset, &header, data) != 0) {
      return std::string();
    }
    return ResultToJson(RunScenario(*FindScenario("refused"))).dump();
  });
  ASSERT_TRUE(child.ok()) << child.status();
  if (child->output.empty()) {
    GTEST_SKIP() << "cannot drop CAP_NET_RAW here";
  }
  absl::StatusOr<ScenarioResult> r = ResultFromJson(nlohmann::json::parse(child->output));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->outcome, Outcome::kReproduced) << r->reason;
  EXPECT_NE(r->wire.missing.find("CAP_NET_RAW"), std::string::npos) << r->wire.missing;
  EXPECT_TRUE(r->wire.segments.empty());
  const std::string text = RenderScenarioText(FindScenario("refused")->info, *r);
  size_t first = text.find("not captured");
  ASSERT_NE(first, std::string::npos) << text;
  EXPECT_EQ(text.find("not captured", first + 1), std::string::npos) << "said more than once";
}

}  // namespace
}  // namespace socklab::repro

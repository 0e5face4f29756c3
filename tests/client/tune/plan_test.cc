#include "client/tune/plan.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/limits/derivations.h"
#include "gtest/gtest.h"
#include "tests/core/limits/limits_fixture.h"

namespace socklab::client {
namespace {

using testing_fixture::LimitsTree;

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

PlanOptions Workload(uint64_t connections, double rate, const std::string& target) {
  PlanOptions options;
  options.connections = connections;
  options.conn_rate = rate;
  options.target = *SocketAddress::Parse(target);
  return options;
}

const PlanCheck* Find(const Plan& plan, const std::string& key) {
  for (const PlanCheck& check : plan.checks) {
    if (check.key == key) {
      return &check;
    }
  }
  return nullptr;
}

TEST(Plan, ChurnBeyondThePortRangeNamesEaddrnotavailAndItsFix) {
  LimitsTree tree("plan_ports");
  tree.SetSysctl("net.ipv4.tcp_tw_reuse", "0");
  tree.Write("proc/self/limits", "Max open files 100000 100000 files\n");
  KernelLimits limits = ReadKernelLimits(ProcFs(tree.root()));
  // 1000 open + 500/s * 60 s = 31000 ports > 28232.
  Plan plan = MakePlan(Workload(1000, 500, "10.1.2.3:7007"), limits);
  const PlanCheck* first = plan.FirstBreak();
  ASSERT_NE(first, nullptr);
  EXPECT_EQ(first->key, "ephemeral_ports");
  EXPECT_EQ(first->error_class, ErrorClass::kAddrNotAvail);
  EXPECT_EQ(first->ErrorText(), "connect EADDRNOTAVAIL");
  EXPECT_EQ(first->error_phase, Phase::kConnect);
  EXPECT_DOUBLE_EQ(first->need, 31000);
  EXPECT_DOUBLE_EQ(first->have, 28232);
  // The widest range that leaves the target's port 7007 out: 7008-65535, an even count.
  EXPECT_TRUE(Contains(first->fix, "sysctl -w net.ipv4.ip_local_port_range=\"7008 65535\""))
      << first->fix;
  // Without sysctls, 31000 / 28232 -> 2 source addresses.
  EXPECT_TRUE(Contains(first->fix, "with no sysctl, 2 source addresses")) << first->fix;
  ASSERT_EQ(first->sysctl_lines.size(), 1u);
  EXPECT_EQ(first->sysctl_lines[0], "net.ipv4.ip_local_port_range = 7008 65535");

  std::string snippet = SysctlSnippet(plan, "socklab tune --plan ...");
  EXPECT_TRUE(Contains(snippet, "\nnet.ipv4.ip_local_port_range = 7008 65535\n")) << snippet;
  EXPECT_TRUE(Contains(snippet, "never applies")) << snippet;
}

TEST(Plan, WiderRangeNotEnoughAddsTimeWaitReuseThenSources) {
  LimitsTree tree("plan_reuse");
  tree.SetSysctl("net.ipv4.tcp_tw_reuse", "0");
  tree.Write("proc/self/limits", "Max open files 1000000 1000000 files\n");
  KernelLimits limits = ReadKernelLimits(ProcFs(tree.root()));
  // 2000/s * 60 s = 120000 TIME_WAIT ports: more than 58528 even when widened; with
  // tcp_tw_reuse=1, 2000 * 1 s fits.
  Plan plan = MakePlan(Workload(0, 2000, "10.1.2.3:7007"), limits);
  const PlanCheck* ports = Find(plan, "ephemeral_ports");
  ASSERT_NE(ports, nullptr);
  EXPECT_EQ(ports->status, CheckStatus::kBreaks);
  EXPECT_TRUE(Contains(ports->fix, "net.ipv4.tcp_tw_reuse=1")) << ports->fix;
  std::vector<std::string> sysctls = plan.SuggestedSysctls();
  EXPECT_NE(std::find(sysctls.begin(), sysctls.end(), "net.ipv4.tcp_tw_reuse = 1"), sysctls.end());

  // The same rate to a loopback target: tcp_tw_reuse=2 (the fixture default) already applies.
  tree.SetSysctl("net.ipv4.tcp_tw_reuse", "2");
  limits = ReadKernelLimits(ProcFs(tree.root()));
  Plan loopback = MakePlan(Workload(0, 2000, "127.0.0.1:7007"), limits);
  EXPECT_TRUE(loopback.loopback_target);
  EXPECT_EQ(Find(loopback, "ephemeral_ports")->status, CheckStatus::kOk);
  EXPECT_EQ(loopback.FirstBreak(), nullptr);
}

TEST(Plan, FdLimitBreaksFirstWithUlimitFix) {
  LimitsTree tree("plan_fds");
  KernelLimits limits = ReadKernelLimits(ProcFs(tree.root()));  // nofile 1024/524288
  Plan plan = MakePlan(Workload(5000, 0, "127.0.0.1:7007"), limits);
  const PlanCheck* first = plan.FirstBreak();
  ASSERT_NE(first, nullptr);
  EXPECT_EQ(first->key, "nofile");
  EXPECT_EQ(first->error_phase, Phase::kSocket);
  EXPECT_EQ(first->error_class, ErrorClass::kNoFds);
  EXPECT_DOUBLE_EQ(first->need, 5016);  // 5000 + 16 reserved
  ASSERT_EQ(first->shell_lines.size(), 1u);
  EXPECT_EQ(first->shell_lines[0], "ulimit -n 5120");  // rounded up to 1024s, within hard
  // Unpaced, 5000 connects at once against an accept queue of 4096: a warning, not a break.
  EXPECT_EQ(Find(plan, "accept_queue")->status, CheckStatus::kWarn);

  // Beyond the hard limit and fs.nr_open: both named.
  Plan big = MakePlan(Workload(2'000'000, 0, "10.0.0.1:7007"), limits);
  const PlanCheck* fds = Find(big, "nofile");
  ASSERT_NE(fds, nullptr);
  EXPECT_TRUE(Contains(fds->fix, "fs.nr_open")) << fds->fix;
  EXPECT_TRUE(Contains(fds->fix, "ulimit -Hn")) << fds->fix;
}

TEST(Plan, FittingWorkloadHasNoBreak) {
  LimitsTree tree("plan_fits");
  KernelLimits limits = ReadKernelLimits(ProcFs(tree.root()));
  Plan plan = MakePlan(Workload(100, 1, "127.0.0.1:7007"), limits);
  EXPECT_EQ(plan.FirstBreak(), nullptr);
  EXPECT_TRUE(plan.SuggestedSysctls().empty());
  EXPECT_TRUE(Contains(SysctlSnippet(plan, "x"), "No sysctl change needed"));
}

TEST(Plan, BacklogAboveSomaxconnIsFlagged) {
  LimitsTree tree("plan_backlog");
  tree.SetSysctl("net.core.somaxconn", "128");
  KernelLimits limits = ReadKernelLimits(ProcFs(tree.root()));
  PlanOptions options = Workload(100, 10, "127.0.0.1:7007");
  options.backlog = 1024;
  Plan plan = MakePlan(options, limits);
  const PlanCheck* queue = Find(plan, "accept_queue");
  ASSERT_NE(queue, nullptr);
  EXPECT_EQ(queue->status, CheckStatus::kWarn);
  EXPECT_DOUBLE_EQ(queue->have, 129);  // min(1024, 128) + 1: the queue holds backlog + 1
  EXPECT_TRUE(Contains(queue->formula, "min(backlog 1024, somaxconn 128) + 1 = 129"))
      << queue->formula;
  EXPECT_EQ(queue->error_phase, Phase::kConnect);
  EXPECT_EQ(queue->error_class, ErrorClass::kTimedOut);
  EXPECT_EQ(queue->ErrorText(), "connect ETIMEDOUT");
  // The fixture predates tcp_syn_linear_timeouts: 1, 3, 7, ... and 127 s.
  EXPECT_TRUE(Contains(queue->symptom, "resends the SYN at 0, 1, 3, 7, 15, 31, 63 s"))
      << queue->symptom;
  EXPECT_TRUE(Contains(queue->symptom, "after 127 s by the formula")) << queue->symptom;
  // With syncookies on (the fixture's 1), tcp_max_syn_backlog is no limit: only somaxconn.
  EXPECT_EQ(queue->sysctl_lines, (std::vector<std::string>{"net.core.somaxconn = 1024"}));
  EXPECT_FALSE(Contains(queue->fix, "tcp_max_syn_backlog")) << queue->fix;

  // tcp_abort_on_overflow 1: the overflowing handshake is answered with RST, which the client
  // meets on its first read.
  tree.SetSysctl("net.ipv4.tcp_abort_on_overflow", "1");
  Plan aborting = MakePlan(options, ReadKernelLimits(ProcFs(tree.root())));
  const PlanCheck* reset = Find(aborting, "accept_queue");
  ASSERT_NE(reset, nullptr);
  EXPECT_EQ(reset->ErrorText(), "read ECONNRESET");
}

TEST(Plan, SynBacklogIsAdvisedOnlyWithoutSyncookies) {
  LimitsTree tree("plan_syn_backlog");
  tree.SetSysctl("net.core.somaxconn", "128");
  tree.SetSysctl("net.ipv4.tcp_syncookies", "0");
  tree.SetSysctl("net.ipv4.tcp_syn_linear_timeouts", "4");
  KernelLimits limits = ReadKernelLimits(ProcFs(tree.root()));
  PlanOptions options = Workload(100, 10, "127.0.0.1:7007");
  options.backlog = 1024;
  Plan plan = MakePlan(options, limits);
  const PlanCheck* queue = Find(plan, "accept_queue");
  ASSERT_NE(queue, nullptr);
  // 1024 > 3/4 of 512: unproven peers would be dropped; 1024 * 4/3 rounds up to 2048.
  EXPECT_EQ(queue->sysctl_lines, (std::vector<std::string>{"net.core.somaxconn = 1024",
                                                           "net.ipv4.tcp_max_syn_backlog = 2048"}));
  EXPECT_TRUE(Contains(queue->fix, "with tcp_syncookies=0 also")) << queue->fix;
  // tcp_syn_linear_timeouts 4: SYNs every second first, ETIMEDOUT after 131 s.
  EXPECT_TRUE(Contains(queue->symptom, "resends the SYN at 0, 1, 2, 3, 4, 5, 7, 11, ... s"))
      << queue->symptom;
  EXPECT_TRUE(Contains(
      queue->symptom, "(tcp_syn_retries 6 + tcp_syn_linear_timeouts 4) after 131 s by the formula"))
      << queue->symptom;
}

TEST(Plan, TimeWaitReuseFixUsesTheReuseDelay) {
  LimitsTree tree("plan_reuse_delay");
  tree.SetSysctl("net.ipv4.tcp_tw_reuse", "0");
  tree.SetSysctl("net.ipv4.tcp_tw_reuse_delay", "2500");
  tree.Write("proc/self/limits", "Max open files 1000000 1000000 files\n");
  KernelLimits limits = ReadKernelLimits(ProcFs(tree.root()));
  // 2000/s * 60 s = 120000 > 58528 widened ports; with reuse 2000/s * 2.5 s = 5000 fits.
  Plan plan = MakePlan(Workload(0, 2000, "10.1.2.3:7007"), limits);
  const PlanCheck* ports = Find(plan, "ephemeral_ports");
  ASSERT_NE(ports, nullptr);
  EXPECT_TRUE(Contains(ports->fix, "reuse TIME_WAIT ports after 2.5 s")) << ports->fix;
  EXPECT_FALSE(Contains(ports->fix, "spread over")) << ports->fix;
  // 40000/s * 2.5 s = 100000 > 58528 even with reuse: source addresses too, 100000 / 58528 -> 2.
  Plan fast_plan = MakePlan(Workload(0, 40000, "10.1.2.3:7007"), limits);
  const PlanCheck* fast = Find(fast_plan, "ephemeral_ports");
  ASSERT_NE(fast, nullptr);
  EXPECT_TRUE(Contains(fast->fix, "spread over 2 source addresses")) << fast->fix;
}

TEST(Plan, TimeWaitBucketsCapKeepsChurnWithinThePorts) {
  LimitsTree tree("plan_tw_buckets");
  tree.SetSysctl("net.ipv4.tcp_tw_reuse", "0");
  tree.SetSysctl("net.ipv4.tcp_max_tw_buckets", "1000");
  tree.Write("proc/self/limits", "Max open files 100000 100000 files\n");
  KernelLimits limits = ReadKernelLimits(ProcFs(tree.root()));
  // 1000 open + min(500/s * 60 s, 1000 buckets) = 2000 of 28232: fits, as MaxConnectRate says.
  Plan plan = MakePlan(Workload(1000, 500, "10.1.2.3:7007"), limits);
  const PlanCheck* ports = Find(plan, "ephemeral_ports");
  ASSERT_NE(ports, nullptr);
  EXPECT_DOUBLE_EQ(ports->need, 2000);
  EXPECT_EQ(ports->status, CheckStatus::kOk);
  EXPECT_TRUE(Contains(ports->formula, "capped by tcp_max_tw_buckets")) << ports->formula;
  EXPECT_TRUE(std::isinf(MaxConnectRate(limits, 1, false, 1000)));
}

// A loopback churn with tcp_tw_reuse=2: 28232 ports / 1 s hold all of 20000/s, but connect()
// finds one at once only up to half of them (ScanFreeConnectRate): a warning, with the source
// addresses that keep the rate under it, and never what breaks first.
TEST(Plan, ChurnPastHalfTheRangeWarnsThatConnectScans) {
  LimitsTree tree("plan_port_scan");
  tree.Write("proc/self/limits", "Max open files 100000 100000 files\n");
  KernelLimits limits = ReadKernelLimits(ProcFs(tree.root()));
  Plan fast = MakePlan(Workload(50, 20000, "127.0.0.1:7007"), limits);
  const PlanCheck* scan = Find(fast, "port_scan");
  ASSERT_NE(scan, nullptr);
  EXPECT_EQ(scan->status, CheckStatus::kWarn);
  EXPECT_DOUBLE_EQ(scan->need, 20000);
  EXPECT_DOUBLE_EQ(scan->have, 14066);  // (14116 - 50 open) / 1 s
  EXPECT_EQ(scan->ErrorText(), "none");
  EXPECT_TRUE(Contains(scan->symptom, "each of the 14116 ports")) << scan->symptom;
  // (20000 + 50 / 1 s) / 14116 per address -> 2 addresses.
  EXPECT_TRUE(Contains(scan->fix, "spread over 2 source addresses")) << scan->fix;
  EXPECT_EQ(fast.FirstBreak(), nullptr);
  // The ports themselves fit, and the TIME_WAIT sockets are no more than the ports.
  const PlanCheck* ports = Find(fast, "ephemeral_ports");
  ASSERT_NE(ports, nullptr);
  EXPECT_EQ(ports->status, CheckStatus::kOk);
  const PlanCheck* buckets = Find(fast, "time_wait_buckets");
  ASSERT_NE(buckets, nullptr);
  EXPECT_DOUBLE_EQ(buckets->need, 28232);
  EXPECT_TRUE(Contains(buckets->formula, "at most one per port")) << buckets->formula;

  Plan slow = MakePlan(Workload(50, 10000, "127.0.0.1:7007"), limits);
  scan = Find(slow, "port_scan");
  ASSERT_NE(scan, nullptr);
  EXPECT_EQ(scan->status, CheckStatus::kOk);
  EXPECT_EQ(scan->fix, "");
  // No churn, no check.
  EXPECT_EQ(Find(MakePlan(Workload(50, 0, "127.0.0.1:7007"), limits), "port_scan"), nullptr);
}

// conntrack keeps one entry per address and port pair: a churn reusing its ports replaces their
// TIME_WAIT entries instead of adding to them.
TEST(Plan, ConntrackEntriesAreCountedNoHigherThanThePorts) {
  LimitsTree tree("plan_conntrack_ports");
  tree.SetSysctl("net.netfilter.nf_conntrack_max", "65536");
  tree.SetSysctl("net.netfilter.nf_conntrack_count", "10");
  tree.SetSysctl("net.netfilter.nf_conntrack_tcp_timeout_time_wait", "120");
  tree.Write("proc/self/limits", "Max open files 100000 100000 files\n");
  KernelLimits limits = ReadKernelLimits(ProcFs(tree.root()));
  // 50 open + 20000/s * 120 s = 2400050 flows, but 28232 ports: 28232 + 10 tracked now.
  const PlanCheck* fast =
      Find(MakePlan(Workload(50, 20000, "127.0.0.1:7007"), limits), "conntrack");
  ASSERT_NE(fast, nullptr);
  EXPECT_DOUBLE_EQ(fast->need, 28242);
  EXPECT_EQ(fast->status, CheckStatus::kOk);
  EXPECT_TRUE(Contains(fast->formula, "at most one per port: 28232 ports")) << fast->formula;
  // 100/s * 120 s = 12000 of them: the ports do not bound it.
  const PlanCheck* slow = Find(MakePlan(Workload(50, 100, "127.0.0.1:7007"), limits), "conntrack");
  ASSERT_NE(slow, nullptr);
  EXPECT_DOUBLE_EQ(slow->need, 12060);
  EXPECT_FALSE(Contains(slow->formula, "at most one per port")) << slow->formula;
}

// Every "name = value" the plan suggests, checked against the tree it was made from: none may
// set the value already in force.
void ExpectNoSysctlSetsItsOwnValue(const Plan& plan, const ProcFs& proc) {
  for (const std::string& line : plan.SuggestedSysctls()) {
    size_t eq = line.find(" = ");
    ASSERT_NE(eq, std::string::npos) << line;
    absl::StatusOr<std::string> now = proc.ReadSysctl(line.substr(0, eq));
    if (now.ok()) {
      std::string value = *now;
      std::replace(value.begin(), value.end(), '\t', ' ');
      EXPECT_NE(value, line.substr(eq + 3)) << line << " is already in force";
    }
  }
}

TEST(Plan, NoFixSetsTheValueAlreadyInForce) {
  LimitsTree tree("plan_in_force");
  // tcp_tw_reuse is already 1; only timestamps keep it from working.
  tree.SetSysctl("net.ipv4.tcp_tw_reuse", "1");
  tree.SetSysctl("net.ipv4.tcp_timestamps", "0");
  tree.Write("proc/self/limits", "Max open files 1000000 1000000 files\n");
  ProcFs proc(tree.root());
  KernelLimits limits = ReadKernelLimits(proc);
  Plan plan = MakePlan(Workload(0, 2000, "10.1.2.3:80"), limits);
  const PlanCheck* ports = Find(plan, "ephemeral_ports");
  ASSERT_NE(ports, nullptr);
  EXPECT_TRUE(Contains(ports->fix, "net.ipv4.tcp_timestamps=1")) << ports->fix;
  EXPECT_FALSE(Contains(ports->fix, "tcp_tw_reuse=1")) << ports->fix;
  ExpectNoSysctlSetsItsOwnValue(plan, proc);

  // The range already is the recommended one: no "widen" to itself.
  tree.SetSysctl("net.ipv4.ip_local_port_range", "1024\t65535");
  tree.SetSysctl("net.ipv4.tcp_timestamps", "1");
  tree.SetSysctl("net.ipv4.tcp_tw_reuse", "0");
  limits = ReadKernelLimits(proc);
  Plan wide = MakePlan(Workload(70000, 0, "10.1.2.3:80"), limits);
  ASSERT_EQ(Find(wide, "ephemeral_ports")->status, CheckStatus::kBreaks);
  EXPECT_FALSE(Contains(Find(wide, "ephemeral_ports")->fix, "widen"))
      << Find(wide, "ephemeral_ports")->fix;
  ExpectNoSysctlSetsItsOwnValue(wide, proc);

  // A warning on fds (fits, little room): the ulimit offered is above the soft limit in force.
  tree.Write("proc/self/limits", "Max open files 10240 1048576 files\n");
  limits = ReadKernelLimits(proc);
  Plan fds = MakePlan(Workload(9500, 0, "127.0.0.1:7007"), limits);
  const PlanCheck* nofile = Find(fds, "nofile");
  ASSERT_EQ(nofile->status, CheckStatus::kWarn);
  ASSERT_EQ(nofile->shell_lines.size(), 1u);
  EXPECT_NE(nofile->shell_lines[0], "ulimit -n 10240");
}

TEST(Plan, TheRecommendedPortRangeLeavesTheTargetsPortOut) {
  for (uint16_t port : {1024, 7007, 32768, 40000, 60000, 65535}) {
    PortRange range = RecommendedPortRange(port);
    EXPECT_TRUE(port < range.low || port > range.high) << port << ": " << range.SysctlValue();
    EXPECT_EQ(range.size() % 2, 0) << range.SysctlValue();  // an even count: ends of two parities
    EXPECT_GE(range.low, 1024);
    EXPECT_LE(range.high, 65535);
  }
  EXPECT_EQ(RecommendedPortRange(80).SysctlValue(), "1024 65535");
  EXPECT_EQ(RecommendedPortRange().SysctlValue(), "1024 65535");
}

TEST(Plan, AnIpv6TargetGetsIpv6SourceAddresses) {
  LimitsTree tree("plan_ipv6");
  tree.SetSysctl("net.ipv4.tcp_tw_reuse", "0");
  tree.Write("proc/self/limits", "Max open files 1000000 1000000 files\n");
  KernelLimits limits = ReadKernelLimits(ProcFs(tree.root()));
  for (const char* target : {"[::1]:7007", "[2001:db8::7]:7007"}) {
    Plan plan = MakePlan(Workload(0, 40000, target), limits);
    const PlanCheck* ports = Find(plan, "ephemeral_ports");
    ASSERT_NE(ports, nullptr);
    EXPECT_TRUE(Contains(ports->fix, "source addresses")) << ports->fix;
    EXPECT_FALSE(Contains(ports->fix, "127.0.0.")) << target << ": " << ports->fix;
    EXPECT_FALSE(Contains(ports->fix, "/32")) << target << ": " << ports->fix;
    EXPECT_TRUE(Contains(ports->fix, "ip -6 addr add")) << target << ": " << ports->fix;
  }
}

TEST(Plan, TcpMemoryNamesWhatATcpSendDoes) {
  LimitsTree tree("plan_tcp_mem");
  tree.SetSysctl("net.ipv4.tcp_mem", "1000\t2000\t3000");
  tree.Write("proc/self/limits", "Max open files 1000000 1000000 files\n");
  KernelLimits limits = ReadKernelLimits(ProcFs(tree.root()));
  Plan plan = MakePlan(Workload(10000, 0, "127.0.0.1:7007"), limits);
  const PlanCheck* memory = Find(plan, "tcp_memory");
  ASSERT_NE(memory, nullptr);
  ASSERT_EQ(memory->status, CheckStatus::kWarn);
  // sk_stream_wait_memory() blocks a TCP send; ENOBUFS is UDP's (repro no-buffer-space).
  EXPECT_EQ(memory->error_phase, Phase::kWrite);
  EXPECT_EQ(memory->error_class, ErrorClass::kWouldBlock);
  EXPECT_FALSE(Contains(memory->symptom, "ENOBUFS")) << memory->symptom;
}

TEST(Plan, EmfileAtTheSameCountTuneShows) {
  LimitsTree tree("plan_emfile");
  tree.Write("proc/self/limits", "Max open files 20000 20000 files\n");
  KernelLimits limits = ReadKernelLimits(ProcFs(tree.root()));
  Plan plan = MakePlan(Workload(30000, 0, "127.0.0.1:7007"), limits);
  const PlanCheck* nofile = Find(plan, "nofile");
  ASSERT_NE(nofile, nullptr);
  double tune_says = -1;
  for (const Derivation& d : DeriveAll(limits, {})) {
    if (d.key == "max_connections_per_process") {
      tune_says = d.value;
    }
  }
  ASSERT_GT(tune_says, 0);
  EXPECT_TRUE(
      Contains(nofile->symptom, absl::StrCat("EMFILE (Too many open files) at ",
                                             static_cast<int64_t>(tune_says), " connections")))
      << nofile->symptom << " / tune: " << tune_says;
}

TEST(Plan, ARemoteServersBacklogIsCheckedOnTheServer) {
  LimitsTree tree("plan_remote_backlog");
  tree.SetSysctl("net.core.somaxconn", "128");
  tree.Write("proc/self/limits", "Max open files 1000000 1000000 files\n");
  KernelLimits limits = ReadKernelLimits(ProcFs(tree.root()));
  Plan plan = MakePlan(Workload(5000, 0, "10.1.2.3:7007"), limits);
  const PlanCheck* queue = Find(plan, "accept_queue");
  ASSERT_NE(queue, nullptr);
  EXPECT_EQ(queue->status, CheckStatus::kOnServer);
  EXPECT_LT(queue->have, 0) << "this machine's somaxconn is not the server's";
  EXPECT_FALSE(Contains(queue->formula, "somaxconn 128")) << queue->formula;
  EXPECT_TRUE(queue->sysctl_lines.empty());
  EXPECT_TRUE(Contains(queue->fix, "on the server")) << queue->fix;
  for (const std::string& line : plan.SuggestedSysctls()) {
    EXPECT_FALSE(Contains(line, "somaxconn")) << line;
  }
  // The same workload on this host: our somaxconn is the server's.
  Plan local = MakePlan(Workload(5000, 0, "127.0.0.1:7007"), limits);
  EXPECT_EQ(Find(local, "accept_queue")->status, CheckStatus::kWarn);
}

TEST(Plan, ValidateRejectsUnusablePlans) {
  PlanOptions none;
  EXPECT_EQ(none.Validate().code(), absl::StatusCode::kInvalidArgument);  // no target
  PlanOptions nothing = Workload(0, 0, "127.0.0.1:7007");
  EXPECT_EQ(nothing.Validate().code(), absl::StatusCode::kInvalidArgument);
  PlanOptions sources = Workload(10, 0, "127.0.0.1:7007");
  sources.source_ips = 0;
  EXPECT_EQ(sources.Validate().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(Workload(10, 0, "127.0.0.1:7007").Validate().ok());
}

}  // namespace
}  // namespace socklab::client

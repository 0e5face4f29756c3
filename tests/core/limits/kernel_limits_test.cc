#include "core/limits/kernel_limits.h"

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "tests/core/limits/limits_fixture.h"
#include "tests/testing/shell.h"

namespace socklab {
namespace {

using testing_fixture::LimitsTree;

TEST(ParsePortRanges, ListsAndSingles) {
  EXPECT_TRUE(ParsePortRanges("").empty());
  auto ranges = ParsePortRanges("8080,9000-9009, 40000-40001\n");
  ASSERT_EQ(ranges.size(), 3u);
  EXPECT_EQ(ranges[0], std::make_pair(int64_t{8080}, int64_t{8080}));
  EXPECT_EQ(ranges[1], std::make_pair(int64_t{9000}, int64_t{9009}));
  EXPECT_EQ(ranges[2], std::make_pair(int64_t{40000}, int64_t{40001}));
  // Malformed pieces are skipped, the rest kept.
  EXPECT_EQ(ParsePortRanges("x,10-5,7").size(), 1u);
}

TEST(ParseNofileFromLimits, SoftHardAndUnlimited) {
  EXPECT_EQ(
      ParseNofileFromLimits("Max open files            1024                 524288      files\n"),
      std::make_pair(int64_t{1024}, int64_t{524288}));
  EXPECT_EQ(ParseNofileFromLimits("Max open files  unlimited  unlimited  files\n").second,
            std::numeric_limits<int64_t>::max());
  EXPECT_EQ(ParseNofileFromLimits("Max processes 10 10\n").first, KernelLimits::kUnknown);
}

// Every field, each from a sysctl holding a value no other sysctl holds, so a misspelled or
// swapped name shows up as a wrong or unknown field.
TEST(ReadKernelLimits, FixtureTreeValues) {
  LimitsTree tree("kernel_limits_fixture");
  const std::map<std::string, std::string> values = {
      {"net.core.somaxconn", "4001"},
      {"net.ipv4.tcp_max_syn_backlog", "4002"},
      {"net.ipv4.tcp_syncookies", "2"},
      {"net.ipv4.tcp_abort_on_overflow", "1"},
      {"net.core.netdev_max_backlog", "4003"},
      {"net.ipv4.ip_local_port_range", "32770\t60001"},
      {"net.ipv4.ip_local_reserved_ports", "33000-33009,50000"},
      {"net.ipv4.tcp_tw_reuse", "0"},
      {"net.ipv4.tcp_tw_reuse_delay", "4004"},
      {"net.ipv4.tcp_timestamps", "3"},
      {"net.ipv4.tcp_fin_timeout", "4005"},
      {"net.ipv4.tcp_max_tw_buckets", "4006"},
      {"net.ipv4.ip_unprivileged_port_start", "4007"},
      {"net.ipv4.tcp_syn_retries", "7"},
      {"net.ipv4.tcp_syn_linear_timeouts", "8"},
      {"net.ipv4.tcp_synack_retries", "9"},
      {"net.ipv4.tcp_retries2", "10"},
      {"net.ipv4.tcp_rto_max_ms", "4008"},
      {"net.ipv4.tcp_keepalive_time", "4009"},
      {"net.ipv4.tcp_keepalive_intvl", "4010"},
      {"net.ipv4.tcp_keepalive_probes", "11"},
      {"net.ipv4.tcp_rmem", "4011\t4012\t4013"},
      {"net.ipv4.tcp_wmem", "4014\t4015\t4016"},
      {"net.ipv4.tcp_mem", "4017\t4018\t4019"},
      {"net.core.rmem_max", "4020"},
      {"net.core.wmem_max", "4021"},
      {"fs.file-max", "4022"},
      {"fs.nr_open", "4023"},
      {"kernel.io_uring_disabled", "1"},
      {"net.netfilter.nf_conntrack_max", "4024"},
      {"net.netfilter.nf_conntrack_count", "4025"},
      {"net.netfilter.nf_conntrack_tcp_timeout_time_wait", "4026"},
  };
  for (const auto& [name, value] : values) {
    tree.SetSysctl(name, value);
  }
  KernelLimits l = ReadKernelLimits(ProcFs(tree.root()));
  EXPECT_EQ(l.somaxconn, 4001);
  EXPECT_EQ(l.tcp_max_syn_backlog, 4002);
  EXPECT_EQ(l.tcp_syncookies, 2);
  EXPECT_EQ(l.tcp_abort_on_overflow, 1);
  EXPECT_EQ(l.netdev_max_backlog, 4003);
  EXPECT_EQ(l.port_range_low, 32770);
  EXPECT_EQ(l.port_range_high, 60001);
  ASSERT_TRUE(l.reserved_ports_known);
  EXPECT_EQ(l.reserved_ports,
            (std::vector<std::pair<int64_t, int64_t>>{{33000, 33009}, {50000, 50000}}));
  EXPECT_EQ(l.tcp_tw_reuse, 0);
  EXPECT_EQ(l.tcp_tw_reuse_delay_ms, 4004);
  EXPECT_EQ(l.tcp_timestamps, 3);
  EXPECT_EQ(l.tcp_fin_timeout, 4005);
  EXPECT_EQ(l.tcp_max_tw_buckets, 4006);
  EXPECT_EQ(l.ip_unprivileged_port_start, 4007);
  EXPECT_EQ(l.tcp_syn_retries, 7);
  EXPECT_EQ(l.tcp_syn_linear_timeouts, 8);
  EXPECT_EQ(l.tcp_synack_retries, 9);
  EXPECT_EQ(l.tcp_retries2, 10);
  EXPECT_EQ(l.tcp_rto_max_ms, 4008);
  EXPECT_EQ(l.tcp_keepalive_time, 4009);
  EXPECT_EQ(l.tcp_keepalive_intvl, 4010);
  EXPECT_EQ(l.tcp_keepalive_probes, 11);
  EXPECT_EQ(l.tcp_rmem, (std::array<int64_t, 3>{4011, 4012, 4013}));
  EXPECT_EQ(l.tcp_wmem, (std::array<int64_t, 3>{4014, 4015, 4016}));
  EXPECT_EQ(l.tcp_mem, (std::array<int64_t, 3>{4017, 4018, 4019}));
  EXPECT_EQ(l.rmem_max, 4020);
  EXPECT_EQ(l.wmem_max, 4021);
  EXPECT_EQ(l.page_size, sysconf(_SC_PAGESIZE));
  // RLIMIT_NOFILE of a fixture comes from its proc/self/limits, not from this process.
  EXPECT_EQ(l.nofile_soft, 1024);
  EXPECT_EQ(l.nofile_hard, 524288);
  EXPECT_EQ(l.file_max, 4022);
  EXPECT_EQ(l.nr_open, 4023);
  EXPECT_EQ(l.io_uring_disabled, 1);
  EXPECT_TRUE(l.conntrack_loaded);
  EXPECT_EQ(l.nf_conntrack_max, 4024);
  EXPECT_EQ(l.nf_conntrack_count, 4025);
  EXPECT_EQ(l.nf_conntrack_time_wait, 4026);
}

// The fixture's own defaults: a 6.1 machine without the newer sysctls and without conntrack.
TEST(ReadKernelLimits, DefaultFixtureHasNoNewerSysctls) {
  LimitsTree tree("kernel_limits_defaults");
  KernelLimits l = ReadKernelLimits(ProcFs(tree.root()));
  EXPECT_EQ(l.somaxconn, 4096);
  EXPECT_EQ(l.port_range_low, 32768);
  EXPECT_EQ(l.port_range_high, 60999);
  EXPECT_TRUE(l.reserved_ports_known);
  EXPECT_TRUE(l.reserved_ports.empty());
  EXPECT_EQ(l.file_max, std::numeric_limits<int64_t>::max());
  EXPECT_EQ(l.tcp_syn_linear_timeouts, KernelLimits::kUnknown);  // < 6.5
  EXPECT_EQ(l.tcp_tw_reuse_delay_ms, KernelLimits::kUnknown);    // < 6.13
  EXPECT_EQ(l.tcp_rto_max_ms, KernelLimits::kUnknown);           // < 6.15
  EXPECT_FALSE(l.conntrack_loaded);
  EXPECT_EQ(l.nf_conntrack_max, KernelLimits::kUnknown);
  EXPECT_EQ(l.nf_conntrack_count, KernelLimits::kUnknown);
}

TEST(ReadKernelLimits, MissingFilesAreUnknownNotZero) {
  LimitsTree tree("kernel_limits_missing");
  tree.RemoveSysctl("net.core.somaxconn");
  tree.RemoveSysctl("net.ipv4.ip_local_reserved_ports");
  tree.SetSysctl("net.ipv4.tcp_rmem", "garbage");
  tree.SetSysctl("net.netfilter.nf_conntrack_max", "65536");
  tree.SetSysctl("net.netfilter.nf_conntrack_count", "12");
  KernelLimits l = ReadKernelLimits(ProcFs(tree.root()));
  EXPECT_EQ(l.somaxconn, KernelLimits::kUnknown);
  EXPECT_FALSE(l.reserved_ports_known);
  EXPECT_EQ(l.tcp_rmem[1], KernelLimits::kUnknown);
  EXPECT_TRUE(l.conntrack_loaded);
  EXPECT_EQ(l.nf_conntrack_max, 65536);
  EXPECT_EQ(l.nf_conntrack_count, 12);
}

// `sysctl -n NAME` through a shell, as a user would check it; nullopt when sysctl fails (no
// such key).
std::optional<std::string> Sysctl(const std::string& name) {
  return ::socklab::testing::ShellOutput("sysctl -n " + name + " 2>/dev/null");
}

// The integer fields of `sysctl -n NAME`; empty when sysctl fails.
std::vector<int64_t> SysctlInts(const std::string& name) {
  std::optional<std::string> text = Sysctl(name);
  std::vector<int64_t> values;
  if (!text.has_value()) {
    return values;
  }
  for (absl::string_view field : absl::StrSplit(*text, absl::ByAnyChar(" \t"), absl::SkipEmpty())) {
    int64_t value = 0;
    EXPECT_TRUE(absl::SimpleAtoi(field, &value)) << name << ": " << *text;
    values.push_back(value);
  }
  return values;
}

TEST(ReadKernelLimits, RealMachineAgreesWithSysctlAndUlimit) {
  if (!Sysctl("net.core.somaxconn").has_value()) {
    GTEST_SKIP() << "no sysctl(8) on this machine";
  }
  KernelLimits l = ReadKernelLimits();
  // Every sysctl field, spelled here independently of kernel_limits.cc: a field the reader
  // leaves unknown must be one sysctl(8) cannot read either, and a read one must agree.
  const std::vector<std::pair<std::string, std::vector<int64_t>>> fields = {
      {"net.core.somaxconn", {l.somaxconn}},
      {"net.ipv4.tcp_max_syn_backlog", {l.tcp_max_syn_backlog}},
      {"net.ipv4.tcp_syncookies", {l.tcp_syncookies}},
      {"net.ipv4.tcp_abort_on_overflow", {l.tcp_abort_on_overflow}},
      {"net.core.netdev_max_backlog", {l.netdev_max_backlog}},
      {"net.ipv4.ip_local_port_range", {l.port_range_low, l.port_range_high}},
      {"net.ipv4.tcp_tw_reuse", {l.tcp_tw_reuse}},
      {"net.ipv4.tcp_tw_reuse_delay", {l.tcp_tw_reuse_delay_ms}},
      {"net.ipv4.tcp_timestamps", {l.tcp_timestamps}},
      {"net.ipv4.tcp_fin_timeout", {l.tcp_fin_timeout}},
      {"net.ipv4.tcp_max_tw_buckets", {l.tcp_max_tw_buckets}},
      {"net.ipv4.ip_unprivileged_port_start", {l.ip_unprivileged_port_start}},
      {"net.ipv4.tcp_syn_retries", {l.tcp_syn_retries}},
      {"net.ipv4.tcp_syn_linear_timeouts", {l.tcp_syn_linear_timeouts}},
      {"net.ipv4.tcp_synack_retries", {l.tcp_synack_retries}},
      {"net.ipv4.tcp_retries2", {l.tcp_retries2}},
      {"net.ipv4.tcp_rto_max_ms", {l.tcp_rto_max_ms}},
      {"net.ipv4.tcp_keepalive_time", {l.tcp_keepalive_time}},
      {"net.ipv4.tcp_keepalive_intvl", {l.tcp_keepalive_intvl}},
      {"net.ipv4.tcp_keepalive_probes", {l.tcp_keepalive_probes}},
      {"net.ipv4.tcp_rmem", {l.tcp_rmem.begin(), l.tcp_rmem.end()}},
      {"net.ipv4.tcp_wmem", {l.tcp_wmem.begin(), l.tcp_wmem.end()}},
      {"net.ipv4.tcp_mem", {l.tcp_mem.begin(), l.tcp_mem.end()}},
      {"net.core.rmem_max", {l.rmem_max}},
      {"net.core.wmem_max", {l.wmem_max}},
      {"fs.nr_open", {l.nr_open}},
      {"fs.file-max", {l.file_max}},
      {"kernel.io_uring_disabled", {l.io_uring_disabled}},
      {"net.netfilter.nf_conntrack_max", {l.nf_conntrack_max}},
      {"net.netfilter.nf_conntrack_tcp_timeout_time_wait", {l.nf_conntrack_time_wait}},
  };
  int read = 0;
  for (const auto& [name, ours] : fields) {
    std::vector<int64_t> theirs = SysctlInts(name);
    if (theirs.empty()) {
      for (int64_t value : ours) {
        EXPECT_EQ(value, KernelLimits::kUnknown) << name << " is read but sysctl cannot";
      }
      continue;
    }
    EXPECT_EQ(ours, theirs) << name << " differs from sysctl -n";
    ++read;
  }
  EXPECT_GE(read, 25);
  std::optional<std::string> reserved = Sysctl("net.ipv4.ip_local_reserved_ports");
  EXPECT_EQ(l.reserved_ports_known, reserved.has_value());
  if (reserved.has_value()) {
    EXPECT_EQ(l.reserved_ports, ParsePortRanges(*reserved));
  }

  // The shell inherits this process's RLIMIT_NOFILE.
  std::optional<std::string> soft = socklab::testing::ShellOutput("ulimit -n");
  std::optional<std::string> hard = socklab::testing::ShellOutput("ulimit -Hn");
  ASSERT_TRUE(soft.has_value() && hard.has_value());
  auto parse = [](const std::string& s) {
    int64_t value = 0;
    return s == "unlimited" ? std::numeric_limits<int64_t>::max()
                            : (absl::SimpleAtoi(s, &value) ? value : -2);
  };
  EXPECT_EQ(l.nofile_soft, parse(*soft));
  EXPECT_EQ(l.nofile_hard, parse(*hard));
}

}  // namespace
}  // namespace socklab

#include "core/sysinfo/kernel_limits.h"

#include <sys/resource.h>

#include <array>
#include <cstdio>
#include <limits>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "tests/core/sysinfo/limits_fixture.h"

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

TEST(ReadKernelLimits, FixtureTreeValues) {
  LimitsTree tree("kernel_limits_fixture");
  tree.SetSysctl("net.ipv4.ip_local_reserved_ports", "33000-33009,50000");
  ProcFs proc(tree.root());
  KernelLimits l = ReadKernelLimits(proc);
  EXPECT_EQ(l.somaxconn, 4096);
  EXPECT_EQ(l.tcp_max_syn_backlog, 512);
  EXPECT_EQ(l.port_range_low, 32768);
  EXPECT_EQ(l.port_range_high, 60999);
  ASSERT_TRUE(l.reserved_ports_known);
  ASSERT_EQ(l.reserved_ports.size(), 2u);
  EXPECT_EQ(l.tcp_tw_reuse, 2);
  EXPECT_EQ(l.tcp_tw_reuse_delay_ms, KernelLimits::kUnknown);  // pre-6.13 fixture
  EXPECT_EQ(l.tcp_syn_retries, 6);
  EXPECT_EQ(l.tcp_retries2, 15);
  EXPECT_EQ(l.tcp_rmem, (std::array<int64_t, 3>{4096, 131072, 6291456}));
  EXPECT_EQ(l.tcp_mem, (std::array<int64_t, 3>{100000, 200000, 300000}));
  EXPECT_EQ(l.file_max, std::numeric_limits<int64_t>::max());
  // RLIMIT_NOFILE of a fixture comes from its proc/self/limits, not from this process.
  EXPECT_EQ(l.nofile_soft, 1024);
  EXPECT_EQ(l.nofile_hard, 524288);
  EXPECT_FALSE(l.conntrack_loaded);
  EXPECT_EQ(l.nf_conntrack_max, KernelLimits::kUnknown);
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

// `sysctl -n NAME` through a shell, as a user would check it; "" when it fails.
std::string Sysctl(const std::string& name) {
  std::string command = "sysctl -n " + name + " 2>/dev/null";
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

int64_t SysctlInt(const std::string& name) {
  int64_t value = KernelLimits::kUnknown;
  std::vector<std::string> fields =
      absl::StrSplit(Sysctl(name), absl::ByAnyChar(" \t"), absl::SkipEmpty());
  if (fields.empty() || !absl::SimpleAtoi(fields[0], &value)) {
    return KernelLimits::kUnknown;
  }
  return value;
}

TEST(ReadKernelLimits, RealMachineAgreesWithSysctlAndUlimit) {
  if (Sysctl("net.core.somaxconn").empty()) {
    GTEST_SKIP() << "no sysctl(8) on this machine";
  }
  KernelLimits l = ReadKernelLimits();
  EXPECT_EQ(l.somaxconn, SysctlInt("net.core.somaxconn"));
  EXPECT_EQ(l.tcp_max_syn_backlog, SysctlInt("net.ipv4.tcp_max_syn_backlog"));
  EXPECT_EQ(l.tcp_syn_retries, SysctlInt("net.ipv4.tcp_syn_retries"));
  EXPECT_EQ(l.tcp_retries2, SysctlInt("net.ipv4.tcp_retries2"));
  EXPECT_EQ(l.tcp_tw_reuse, SysctlInt("net.ipv4.tcp_tw_reuse"));
  EXPECT_EQ(l.tcp_keepalive_time, SysctlInt("net.ipv4.tcp_keepalive_time"));
  EXPECT_EQ(l.nr_open, SysctlInt("fs.nr_open"));
  EXPECT_EQ(l.file_max, SysctlInt("fs.file-max"));
  std::vector<std::string> range = absl::StrSplit(Sysctl("net.ipv4.ip_local_port_range"),
                                                  absl::ByAnyChar(" \t"), absl::SkipEmpty());
  ASSERT_EQ(range.size(), 2u);
  EXPECT_EQ(std::to_string(l.port_range_low), range[0]);
  EXPECT_EQ(std::to_string(l.port_range_high), range[1]);
  std::vector<std::string> rmem =
      absl::StrSplit(Sysctl("net.ipv4.tcp_rmem"), absl::ByAnyChar(" \t"), absl::SkipEmpty());
  ASSERT_EQ(rmem.size(), 3u);
  EXPECT_EQ(std::to_string(l.tcp_rmem[2]), rmem[2]);

  // The shell popen starts inherits this process's RLIMIT_NOFILE.
  FILE* pipe = popen("ulimit -n; ulimit -Hn", "r");
  ASSERT_NE(pipe, nullptr);
  char soft[64] = {};
  char hard[64] = {};
  ASSERT_NE(fgets(soft, sizeof(soft), pipe), nullptr);
  ASSERT_NE(fgets(hard, sizeof(hard), pipe), nullptr);
  pclose(pipe);
  auto parse = [](const char* text) {
    std::string s(absl::StripAsciiWhitespace(text));
    int64_t value = 0;
    return s == "unlimited" ? std::numeric_limits<int64_t>::max()
                            : (absl::SimpleAtoi(s, &value) ? value : -2);
  };
  EXPECT_EQ(l.nofile_soft, parse(soft));
  EXPECT_EQ(l.nofile_hard, parse(hard));
}

}  // namespace
}  // namespace socklab

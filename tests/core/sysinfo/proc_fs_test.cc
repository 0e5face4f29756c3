#include "core/sysinfo/proc_fs.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "gtest/gtest.h"

namespace socklab {
namespace {

class ProcFsFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ =
        std::filesystem::path(testing::TempDir()) / ("procfs_fixture_" + std::to_string(getpid()));
    std::filesystem::remove_all(root_);
    Write("proc/sys/net/ipv4/ip_local_port_range", "32768\t60999\n");
    Write("proc/sys/net/core/somaxconn", "4096\n");
    Write("proc/sys/net/ipv4/tcp_rmem", "bogus 1 2\n");
  }
  void Write(const std::string& relative, const std::string& text) {
    std::filesystem::path path = root_ / relative;
    std::filesystem::create_directories(path.parent_path());
    std::ofstream(path) << text;
  }
  std::filesystem::path root_;
};

TEST_F(ProcFsFixture, ReadsSysctlsByDottedName) {
  ProcFs proc(root_.string());
  EXPECT_EQ(*proc.ReadSysctlInt("net.core.somaxconn"), 4096);
  EXPECT_EQ(*proc.ReadSysctlInts("net.ipv4.ip_local_port_range"),
            (std::vector<int64_t>{32768, 60999}));
  EXPECT_FALSE(proc.ReadSysctlInts("net.ipv4.tcp_rmem").ok());
  absl::StatusOr<int64_t> missing = proc.ReadSysctlInt("net.ipv4.tcp_nonexistent");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("tcp_nonexistent"), absl::string_view::npos);
}

TEST(ProcFs, RealMachineAgreesWithProc) {
  ProcFs proc;
  absl::StatusOr<int64_t> somaxconn = proc.ReadSysctlInt("net.core.somaxconn");
  ASSERT_TRUE(somaxconn.ok()) << somaxconn.status();
  EXPECT_GT(*somaxconn, 0);
}

}  // namespace
}  // namespace socklab

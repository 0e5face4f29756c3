#pragma once

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <string>

#include "gtest/gtest.h"

namespace socklab::testing_fixture {

// A fake root directory holding proc/sys/... files with known values, for ProcFs(root).
// Removed when the object dies. The directory's name carries the process id, so two suite runs
// sharing a TempDir (the normal and a sanitizer build at once) never share a tree.
// Thread affinity: the test's thread.
class LimitsTree {
 public:
  explicit LimitsTree(const std::string& name)
      : root_(std::filesystem::path(::testing::TempDir()) /
              (name + "_" + std::to_string(getpid()))) {
    std::filesystem::remove_all(root_);
    for (const auto& [sysctl, value] : Defaults()) {
      SetSysctl(sysctl, value);
    }
    Write("proc/self/limits",
          "Limit                     Soft Limit           Hard Limit           Units     \n"
          "Max open files            1024                 524288               files     \n");
  }
  ~LimitsTree() {
    std::error_code ec;
    std::filesystem::remove_all(root_, ec);
  }

  // The values a 6.1 machine ships with, except where a test overrides them: none of the
  // sysctls added since (tcp_syn_linear_timeouts 6.5, tcp_tw_reuse_delay 6.13, tcp_rto_max_ms
  // 6.15) exist, so tests that want them set them.
  static std::map<std::string, std::string> Defaults() {
    return {{"net.core.somaxconn", "4096"},
            {"net.ipv4.tcp_max_syn_backlog", "512"},
            {"net.ipv4.tcp_syncookies", "1"},
            {"net.ipv4.tcp_abort_on_overflow", "0"},
            {"net.core.netdev_max_backlog", "1000"},
            {"net.ipv4.ip_local_port_range", "32768\t60999"},
            {"net.ipv4.ip_local_reserved_ports", ""},
            {"net.ipv4.tcp_tw_reuse", "2"},
            {"net.ipv4.tcp_timestamps", "1"},
            {"net.ipv4.tcp_fin_timeout", "60"},
            {"net.ipv4.tcp_max_tw_buckets", "262144"},
            {"net.ipv4.ip_unprivileged_port_start", "1024"},
            {"net.ipv4.tcp_syn_retries", "6"},
            {"net.ipv4.tcp_synack_retries", "5"},
            {"net.ipv4.tcp_retries2", "15"},
            {"net.ipv4.tcp_keepalive_time", "7200"},
            {"net.ipv4.tcp_keepalive_intvl", "75"},
            {"net.ipv4.tcp_keepalive_probes", "9"},
            {"net.ipv4.tcp_rmem", "4096\t131072\t6291456"},
            {"net.ipv4.tcp_wmem", "4096\t16384\t4194304"},
            {"net.ipv4.tcp_mem", "100000\t200000\t300000"},
            {"net.core.rmem_max", "212992"},
            {"net.core.wmem_max", "212992"},
            {"fs.file-max", "9223372036854775807"},
            {"fs.nr_open", "1048576"},
            {"kernel.io_uring_disabled", "0"}};
  }

  void SetSysctl(const std::string& dotted, const std::string& value) {
    std::string path = "proc/sys/" + dotted;
    for (size_t i = 9; i < path.size(); ++i) {
      if (path[i] == '.') {
        path[i] = '/';
      }
    }
    Write(path, value + "\n");
  }
  void RemoveSysctl(const std::string& dotted) {
    std::string path = "proc/sys/" + dotted;
    for (size_t i = 9; i < path.size(); ++i) {
      if (path[i] == '.') {
        path[i] = '/';
      }
    }
    std::filesystem::remove(root_ / path);
  }
  void Write(const std::string& relative, const std::string& text) {
    std::filesystem::path path = root_ / relative;
    std::filesystem::create_directories(path.parent_path());
    std::ofstream(path) << text;
  }

  std::string root() const { return root_.string(); }

 private:
  std::filesystem::path root_;
};

}  // namespace socklab::testing_fixture

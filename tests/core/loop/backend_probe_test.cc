#include "core/loop/backend_probe.h"

#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "core/base/status.h"
#include "core/loop/event_loop.h"
#include "gtest/gtest.h"
#include "tests/testing/io_uring_refusal.h"

namespace socklab::loop {
namespace {

TEST(BackendProbeTest, ParsesChoices) {
  EXPECT_EQ(*ParseBackendChoice("auto"), BackendChoice::kAuto);
  EXPECT_EQ(*ParseBackendChoice("epoll"), BackendChoice::kEpoll);
  EXPECT_EQ(*ParseBackendChoice("io_uring"), BackendChoice::kIoUring);
  auto bad = ParseBackendChoice("kqueue");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("use auto, io_uring or epoll"), absl::string_view::npos);
}

TEST(BackendProbeTest, AutoGivesAReasonWhenItFallsBack) {
  auto selection = SelectBackend(BackendChoice::kAuto);
  ASSERT_TRUE(selection.ok());
  if (selection->backend == Backend::kEpoll) {
    EXPECT_FALSE(selection->fallback_reason.empty());
  } else {
    EXPECT_TRUE(selection->fallback_reason.empty());
  }
  auto epoll = SelectBackend(BackendChoice::kEpoll);
  ASSERT_TRUE(epoll.ok());
  EXPECT_EQ(epoll->backend, Backend::kEpoll);
}

// The canary behind every io_uring test's skip: half the loop, server and load suites skip where
// SelectBackend refuses io_uring, so a probe that wrongly refused it would leave the suite green
// while it tested only epoll. Where nothing can refuse io_uring (root, no seccomp filter,
// kernel.io_uring_disabled 0, Linux 6.1 or later for everything the backend uses), it must be
// chosen, by explicit choice and by auto.
TEST(BackendProbeTest, IoUringIsChosenWhereNothingRefusesIt) {
  std::ifstream status("/proc/self/status");
  std::string line;
  int seccomp_mode = -1;  // 0: no filter
  while (std::getline(status, line)) {
    std::sscanf(line.c_str(), "Seccomp: %d", &seccomp_mode);
  }
  const bool seccomp_off = seccomp_mode == 0;
  int disabled = -1;
  std::ifstream("/proc/sys/kernel/io_uring_disabled") >> disabled;  // absent before 6.6: 0
  if (disabled < 0) {
    disabled = 0;
  }
  utsname uts{};
  ASSERT_EQ(uname(&uts), 0);
  int major = 0;
  int minor = 0;
  ASSERT_EQ(std::sscanf(uts.release, "%d.%d", &major, &minor), 2) << uts.release;
  bool new_enough = major > 6 || (major == 6 && minor >= 1);
  if (geteuid() != 0 || !seccomp_off || disabled != 0 || !new_enough) {
    GTEST_SKIP() << "io_uring may be refused here (euid " << geteuid() << ", seccomp off "
                 << seccomp_off << ", io_uring_disabled " << disabled << ", " << uts.release << ")";
  }
  auto explicit_choice = SelectBackend(BackendChoice::kIoUring);
  ASSERT_TRUE(explicit_choice.ok()) << explicit_choice.status();
  EXPECT_EQ(explicit_choice->backend, Backend::kIoUring);
  auto automatic = SelectBackend(BackendChoice::kAuto);
  ASSERT_TRUE(automatic.ok()) << automatic.status();
  EXPECT_EQ(automatic->backend, Backend::kIoUring) << automatic->fallback_reason;
}

TEST(BackendProbeTest, IoUringDisabledSysctlIsHonoured) {
  // A fixture /proc tree saying kernel.io_uring_disabled=2.
  std::filesystem::path root =
      std::filesystem::temp_directory_path() / ("socklab_probe_" + std::to_string(getpid()));
  std::filesystem::create_directories(root / "proc/sys/kernel");
  std::ofstream(root / "proc/sys/kernel/io_uring_disabled") << "2\n";
  IoUringSupport support = ProbeIoUring(ProcFs(root.string()));
  std::filesystem::remove_all(root);
  EXPECT_FALSE(support.usable);
  EXPECT_EQ(support.err, EPERM);
  EXPECT_EQ(support.reason, "kernel.io_uring_disabled=2");
}

using ::socklab::testing::RefuseIoUringSetup;

class NoopHandler : public CompletionHandler {
 public:
  void OnCompletion(const Completion&) override {}
};

TEST(BackendProbeTest, SeccompRefusalFallsBackToEpoll) {
  if (!::socklab::testing::CanRefuseIoUringSetup()) {
    GTEST_SKIP() << "no seccomp arch constant for this CPU";
  }
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    if (!RefuseIoUringSetup()) {
      _exit(10);
    }
    auto autosel = SelectBackend(BackendChoice::kAuto);
    if (!autosel.ok()) {
      _exit(11);
    }
    if (autosel->backend != Backend::kEpoll) {
      _exit(12);
    }
    if (autosel->fallback_reason.find("EPERM") == std::string::npos ||
        autosel->fallback_reason.find("seccomp") == std::string::npos) {
      _exit(13);
    }
    auto explicit_choice = SelectBackend(BackendChoice::kIoUring);
    if (explicit_choice.ok()) {
      _exit(14);
    }
    if (ErrnoOf(explicit_choice.status()) != EPERM ||
        explicit_choice.status().message().find("--backend epoll") == absl::string_view::npos) {
      _exit(15);
    }
    NoopHandler handler;
    if (EventLoop::Create(Backend::kIoUring, &handler).ok()) {
      _exit(16);
    }
    if (!EventLoop::Create(Backend::kEpoll, &handler).ok()) {
      _exit(17);
    }
    _exit(0);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status)) << "child died: " << status;
  EXPECT_EQ(WEXITSTATUS(status), 0)
      << "10 seccomp install, 11 auto failed, 12 auto kept io_uring, 13 reason lacks "
         "EPERM/seccomp, 14 explicit io_uring accepted, 15 wrong error, 16 io_uring loop "
         "created, 17 epoll loop failed";
}

}  // namespace
}  // namespace socklab::loop

#include <errno.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>

#include "absl/time/time.h"
#include "core/process/child_process.h"
#include "core/process/run_tool.h"
#include "gtest/gtest.h"

namespace socklab {
namespace {

TEST(ChildProcess, DestructorKillsAndReaps) {
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    pause();
    _exit(0);
  }
  { ChildProcess child(pid); }
  // Reaped: the pid is no longer our child.
  EXPECT_EQ(waitpid(pid, nullptr, WNOHANG), -1);
  EXPECT_EQ(errno, ECHILD);
}

TEST(RunTool, RunsAProgramAndReportsFailures) {
  absl::StatusOr<std::string> ok = RunTool({"sh", "-c", "echo hi"});
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(*ok, "hi\n");
  absl::StatusOr<std::string> bad = RunTool({"sh", "-c", "echo oops; exit 3"});
  EXPECT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("exit 3"), std::string::npos);
  EXPECT_EQ(RunTool({"socklab-no-such-program"}).status().code(), absl::StatusCode::kNotFound);
}

TEST(RunForked, ReturnsWhatTheChildWroteAndHowItEnded) {
  absl::StatusOr<CapturedChild> ran =
      RunForked([](int fd) { WriteAll(fd, "from the child"); }, absl::Seconds(20));
  ASSERT_TRUE(ran.ok()) << ran.status();
  EXPECT_EQ(ran->output, "from the child");
  EXPECT_FALSE(ran->exit.timed_out);
  EXPECT_EQ(ran->exit.exit_code, 0);
}

TEST(RunForked, ATimeoutKillsTheChildAndKeepsWhatItWrote) {
  absl::StatusOr<CapturedChild> ran = RunForked(
      [](int fd) {
        WriteAll(fd, "started");
        pause();
      },
      absl::Milliseconds(300));
  ASSERT_TRUE(ran.ok()) << ran.status();
  EXPECT_EQ(ran->output, "started");
  EXPECT_TRUE(ran->exit.timed_out);
  EXPECT_EQ(ran->exit.signal, SIGKILL);
}

}  // namespace
}  // namespace socklab

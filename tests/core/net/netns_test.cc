#include "core/net/netns.h"

#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "core/base/clock.h"
#include "core/base/unique_fd.h"
#include "core/sysinfo/proc_fs.h"
#include "gtest/gtest.h"

namespace socklab {
namespace {

ino_t NetnsInode() {
  struct stat st {};
  stat("/proc/self/ns/net", &st);
  return st.st_ino;
}

void SkipWithoutNetns() {
  if (absl::Status s = CheckNetnsAvailable(); !s.ok()) {
    GTEST_SKIP() << s;
  }
}

TEST(RunInChild, ReturnsWhatTheBodyReturned) {
  absl::StatusOr<ChildOutput> out = RunInChild({}, [] { return std::string("hello"); });
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->output, "hello");
  EXPECT_EQ(out->exit.exit_code, 0);
}

TEST(RunInChild, TheChildHasItsOwnNamespaceWithLoopbackUp) {
  SkipWithoutNetns();
  const ino_t host = NetnsInode();
  absl::StatusOr<ChildOutput> out = RunInChild({.new_netns = true}, [host] {
    // lo is up: a listener on 127.0.0.1 accepts a connection.
    UniqueFd l(socket(AF_INET, SOCK_STREAM, 0));
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(a);
    bool ok = bind(l.get(), reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0 &&
              listen(l.get(), 1) == 0 &&
              getsockname(l.get(), reinterpret_cast<sockaddr*>(&a), &len) == 0;
    UniqueFd c(socket(AF_INET, SOCK_STREAM, 0));
    ok = ok && connect(c.get(), reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0;
    return absl::StrCat(NetnsInode() != host ? "private" : "host", " ", ok ? "connected" : "no",
                        " ", InPrivateNetns() ? "known" : "unknown");
  });
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->output, "private connected known");
  EXPECT_FALSE(InPrivateNetns());  // the parent never moved
}

TEST(RunInChild, SysctlWritesStayInTheNamespace) {
  SkipWithoutNetns();
  ProcFs proc;
  absl::StatusOr<std::string> before = proc.ReadSysctl("net.ipv4.ip_local_port_range");
  ASSERT_TRUE(before.ok());
  absl::StatusOr<ChildOutput> out = RunInChild({.new_netns = true}, [] {
    absl::Status s = WriteNetnsSysctl("net.ipv4.ip_local_port_range", "40000 40009");
    absl::StatusOr<std::string> v = ProcFs().ReadSysctl("net.ipv4.ip_local_port_range");
    return s.ok() && v.ok() ? *v : std::string(s.message());
  });
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->output, "40000\t40009");
  EXPECT_EQ(*proc.ReadSysctl("net.ipv4.ip_local_port_range"), *before);
}

TEST(WriteNetnsSysctl, RefusesOutsideAPrivateNamespace) {
  absl::Status s = WriteNetnsSysctl("net.ipv4.tcp_tw_reuse", "1");
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
}

TEST(RunInChild, ATimeoutKillsTheChild) {
  absl::StatusOr<ChildOutput> out = RunInChild({.timeout = absl::Milliseconds(300)}, [] {
    pause();
    return std::string("never");
  });
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_TRUE(out->exit.timed_out);
  EXPECT_EQ(out->output, "");
}

TEST(RunInChild, ACrashIsReportedNotHidden) {
  absl::StatusOr<ChildOutput> out = RunInChild({}, [] {
    raise(SIGKILL);
    return std::string("never");
  });
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->exit.signal, SIGKILL);
  EXPECT_FALSE(out->exit.timed_out);
}

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

TEST(RunInChild, NftRulesLiveAndDieWithTheNamespace) {
  SkipWithoutNetns();
  if (!RunTool({"nft", "--version"}).ok()) {
    GTEST_SKIP() << "nft not installed";
  }
  absl::StatusOr<std::string> host_before = RunTool({"nft", "list", "ruleset"});
  absl::StatusOr<ChildOutput> out = RunInChild({.new_netns = true}, [] {
    absl::StatusOr<std::string> add = RunTool({"nft", "add", "table", "inet", "socklab_test"});
    absl::StatusOr<std::string> list = RunTool({"nft", "list", "tables"});
    return add.ok() && list.ok() ? *list : std::string("failed");
  });
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_NE(out->output.find("socklab_test"), std::string::npos) << out->output;
  EXPECT_EQ(RunTool({"nft", "list", "ruleset"}).value_or("?"), host_before.value_or("?"));
}

TEST(BringLoopbackUp, IsIdempotentInTheHostNamespace) {
  // lo is already up here; setting IFF_UP again changes nothing.
  EXPECT_TRUE(BringLoopbackUp().ok());
}

}  // namespace
}  // namespace socklab

#include "core/net/netns.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <iterator>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "core/base/clock.h"
#include "core/base/unique_fd.h"
#include "core/process/run_tool.h"
#include "core/sysinfo/proc_fs.h"
#include "gtest/gtest.h"

namespace socklab {
namespace {

ino_t NetnsInode() {
  struct stat st {};
  stat("/proc/self/ns/net", &st);
  return st.st_ino;
}

// A macro, not a function: GTEST_SKIP only returns from the function it is written in.
#define SKIP_WITHOUT_NETNS()                               \
  do {                                                     \
    if (absl::Status s = CheckNetnsAvailable(); !s.ok()) { \
      GTEST_SKIP() << s;                                   \
    }                                                      \
  } while (false)

// The canary behind SKIP_WITHOUT_NETNS: as root, where the suites run in CI, namespaces must be
// available, or every namespace test would skip and the suite would stay green untested.
TEST(CheckNetnsAvailable, RootHasNamespaces) {
  if (geteuid() != 0) {
    GTEST_SKIP() << "not root";
  }
  EXPECT_TRUE(CheckNetnsAvailable().ok()) << CheckNetnsAvailable();
}

TEST(RunInChild, ReturnsWhatTheBodyReturned) {
  absl::StatusOr<ChildOutput> out = RunInChild({}, [] { return std::string("hello"); });
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->output, "hello");
  EXPECT_EQ(out->exit.exit_code, 0);
}

TEST(RunInChild, TheChildHasItsOwnNamespaceWithLoopbackUp) {
  SKIP_WITHOUT_NETNS();
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
  SKIP_WITHOUT_NETNS();
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

TEST(RunInChild, NftRulesLiveAndDieWithTheNamespace) {
  SKIP_WITHOUT_NETNS();
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

// lo's IFF_UP in the calling process's namespace, or -1.
int LoopbackUp() {
  UniqueFd fd(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  ifreq ifr{};
  std::strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
  if (!fd.valid() || ioctl(fd.get(), SIOCGIFFLAGS, &ifr) != 0) {
    return -1;
  }
  return (ifr.ifr_flags & IFF_UP) != 0 ? 1 : 0;
}

// Only ever inside a private namespace: the host's lo is never touched.
TEST(BringLoopbackUp, BringsDownedLoopbackUpInAPrivateNamespace) {
  SKIP_WITHOUT_NETNS();
  absl::StatusOr<ChildOutput> out = RunInChild({.new_netns = true}, [] {
    if (!InPrivateNetns()) {
      return std::string("not in a private namespace");
    }
    std::string text = absl::StrCat("start ", LoopbackUp());
    UniqueFd fd(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    ifreq ifr{};
    std::strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
    ioctl(fd.get(), SIOCGIFFLAGS, &ifr);
    ifr.ifr_flags = static_cast<short>(ifr.ifr_flags & ~IFF_UP);
    ioctl(fd.get(), SIOCSIFFLAGS, &ifr);
    absl::StrAppend(&text, ", down ", LoopbackUp());
    absl::Status up = BringLoopbackUp();
    absl::StrAppend(&text, ", ", up.ok() ? "ok" : up.ToString(), " ", LoopbackUp());
    absl::Status again = BringLoopbackUp();
    absl::StrAppend(&text, ", again ", again.ok() ? "ok" : again.ToString(), " ", LoopbackUp());
    return text;
  });
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->output, "start 1, down 0, ok 1, again ok 1");
}

// The pids of the processes for which `matches("/proc/PID")` is true (processes that exit
// meanwhile are simply missing).
std::vector<pid_t> ProcessesWhere(const std::function<bool(const std::string&)>& matches) {
  std::vector<pid_t> pids;
  DIR* dir = opendir("/proc");
  if (dir == nullptr) {
    return pids;
  }
  while (dirent* e = readdir(dir)) {
    if (e->d_name[0] >= '0' && e->d_name[0] <= '9' && matches(absl::StrCat("/proc/", e->d_name))) {
      pids.push_back(static_cast<pid_t>(atoi(e->d_name)));
    }
  }
  closedir(dir);
  return pids;
}

// The pids of processes whose command line contains `marker`.
std::vector<pid_t> ProcessesWithArgument(const std::string& marker) {
  return ProcessesWhere([&](const std::string& proc) {
    std::ifstream in(proc + "/cmdline");
    std::string cmdline((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    return cmdline.find(marker) != std::string::npos;
  });
}

// The pids of processes whose network namespace has inode `ino`.
std::vector<pid_t> ProcessesInNetns(ino_t ino) {
  return ProcessesWhere([&](const std::string& proc) {
    struct stat st {};
    return stat((proc + "/ns/net").c_str(), &st) == 0 && st.st_ino == ino;
  });
}

// The pid a tool wrote into `path`, 0 while there is none.
pid_t ToolPid(const std::string& path) {
  std::ifstream in(path);
  long pid = 0;
  in >> pid;
  return static_cast<pid_t>(pid);
}

// Polls `done` for up to 10 s: a SIGKILLed process disappears from /proc once reaped, which
// takes a moment for a grandchild reparented to init (or a subreaper).
bool Eventually(const std::function<bool()>& done) {
  const int64_t deadline = MonotonicNanos() + 10'000'000'000;
  while (!done()) {
    if (MonotonicNanos() > deadline) {
      return false;
    }
    usleep(10'000);
  }
  return true;
}

// A namespaced child running a tool grandchild is killed by its timeout: the grandchild dies
// with it (PR_SET_PDEATHSIG) and the namespace, which no process holds any more, with both.
TEST(RunInChild, AKilledNamespacedChildLeavesNoToolAndNoNamespace) {
  SKIP_WITHOUT_NETNS();
  // A unique duration marks our `sleep` among whatever else runs on this machine.
  const std::string marker = absl::StrCat("30.", getpid(), "1");
  const std::string pid_file = absl::StrCat(testing::TempDir(), "netns_test_tool_", getpid());
  unlink(pid_file.c_str());
  int fds[2];
  ASSERT_EQ(pipe2(fds, O_CLOEXEC), 0);
  UniqueFd read_end(fds[0]);
  UniqueFd write_end(fds[1]);
  absl::StatusOr<ChildOutput> out =
      RunInChild({.new_netns = true, .timeout = absl::Milliseconds(1500)}, [&] {
        std::string ino = absl::StrCat(NetnsInode(), "\n");
        if (write(write_end.get(), ino.data(), ino.size()) < 0) {
          return std::string("write failed");
        }
        // Longer than the child's timeout: the child is killed while it waits here.
        absl::StatusOr<std::string> r =
            RunTool({"sh", "-c", absl::StrCat("echo $$ > ", pid_file, "; exec sleep ", marker)},
                    absl::Seconds(60));
        return std::string(r.ok() ? "sleep finished" : r.status().message());
      });
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_TRUE(out->exit.timed_out);
  write_end.Reset();
  char buf[64] = {};
  ASSERT_GT(read(read_end.get(), buf, sizeof(buf) - 1), 0);
  const ino_t child_ns = static_cast<ino_t>(strtoull(buf, nullptr, 10));
  ASSERT_NE(child_ns, 0u);
  ASSERT_NE(child_ns, NetnsInode());
  // The tool did run (it wrote its pid), and is gone.
  EXPECT_TRUE(Eventually([&] { return ToolPid(pid_file) > 0; })) << "the tool never started";
  const pid_t tool = ToolPid(pid_file);
  EXPECT_TRUE(Eventually([&] {
    return ProcessesWithArgument(marker).empty() && kill(tool, 0) != 0;
  })) << "the tool (pid "
      << tool << ") outlived its namespaced parent";
  unlink(pid_file.c_str());
  EXPECT_TRUE(Eventually([&] { return ProcessesInNetns(child_ns).empty(); }))
      << "a process still holds the child's namespace";
}

// RunTool's own timeout kills and reaps the program.
TEST(RunTool, ATimeoutKillsTheProgram) {
  const std::string marker = absl::StrCat("30.", getpid(), "2");
  const std::string pid_file = absl::StrCat(testing::TempDir(), "netns_test_tool_", getpid());
  unlink(pid_file.c_str());
  absl::StatusOr<std::string> r =
      RunTool({"sh", "-c", absl::StrCat("echo $$ > ", pid_file, "; exec sleep ", marker)},
              absl::Seconds(1));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kDeadlineExceeded) << r.status();
  const pid_t tool = ToolPid(pid_file);
  EXPECT_GT(tool, 0) << "the tool never started";
  // Reaped, not merely killed: it was our child, so not even a zombie may be left.
  EXPECT_TRUE(ProcessesWithArgument(marker).empty());
  EXPECT_NE(kill(tool, 0), 0);
  unlink(pid_file.c_str());
}

TEST(RunTool, FindsProgramsOnPathAndInSbin) {
  // `sh` lives in /bin or /usr/bin (on PATH); `ip` in /usr/sbin, which PATH may lack.
  EXPECT_TRUE(RunTool({"sh", "-c", "exit 0"}).ok());
  if (access("/usr/sbin/ip", X_OK) == 0 || access("/sbin/ip", X_OK) == 0) {
    absl::StatusOr<std::string> ip = RunTool({"ip", "-V"});
    EXPECT_TRUE(ip.ok()) << ip.status();
  }
}

// The descriptors of this process that an exec would keep (no FD_CLOEXEC), besides 0, 1, 2: ones
// the test runner itself passed down without CLOEXEC.
std::set<int> InheritableFds() {
  std::set<int> fds;
  DIR* dir = opendir("/proc/self/fd");
  if (dir == nullptr) {
    return fds;
  }
  const int own = dirfd(dir);
  while (dirent* e = readdir(dir)) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') {
      continue;
    }
    int fd = atoi(e->d_name);
    int flags = fcntl(fd, F_GETFD);
    if (fd > 2 && fd != own && flags >= 0 && (flags & FD_CLOEXEC) == 0) {
      fds.insert(fd);
    }
  }
  closedir(dir);
  return fds;
}

// The program gets /dev/null as stdin and our pipe as stdout/stderr; RunTool's own descriptors
// (the /dev/null it opened, both pipe ends) do not reach it.
TEST(RunTool, TheProgramInheritsOnlyStandardDescriptors) {
  // `ls` lists the shell's descriptors from outside (a glob or $(...) in the shell would add a
  // descriptor of its own); `; true` keeps the shell from exec'ing ls in its place.
  absl::StatusOr<std::string> r =
      RunTool({"sh", "-c", "readlink /proc/$$/fd/0; ls /proc/$$/fd; true"});
  ASSERT_TRUE(r.ok()) << r.status();
  std::vector<std::string> lines = absl::StrSplit(*r, '\n', absl::SkipEmpty());
  ASSERT_GE(lines.size(), 2u) << *r;
  EXPECT_EQ(lines[0], "/dev/null");
  std::set<int> seen;
  for (size_t i = 1; i < lines.size(); ++i) {
    seen.insert(atoi(lines[i].c_str()));
  }
  std::set<int> expected = InheritableFds();
  expected.insert({0, 1, 2});
  EXPECT_EQ(seen, expected) << *r;
}

}  // namespace
}  // namespace socklab

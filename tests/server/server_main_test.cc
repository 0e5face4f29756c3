// socklab-server as a real process: flags, exit codes, signals, fd exhaustion, seccomp fallback.

#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_split.h"
#include "core/loop/event_loop.h"
#include "gtest/gtest.h"
#include "tests/server/test_client.h"

namespace socklab::server {
namespace {

using namespace socklab::server::testing;

std::string ServerBinary() {
  const char* dir = std::getenv("SOCKLAB_BIN_DIR");
  return std::string(dir != nullptr ? dir : "build/bin") + "/socklab-server";
}

// How the child is set up between fork and exec (async-signal-safe calls only).
struct ChildSetup {
  rlim_t nofile = 0;             // 0: inherit
  bool refuse_io_uring = false;  // seccomp: io_uring_setup fails with EPERM
};

#if defined(__x86_64__)
constexpr uint32_t kAuditArch = AUDIT_ARCH_X86_64;
#elif defined(__aarch64__)
constexpr uint32_t kAuditArch = AUDIT_ARCH_AARCH64;
#else
constexpr uint32_t kAuditArch = 0;
#endif

// A running socklab-server with its stdout and stderr collected.
class ServerProcess {
 public:
  ServerProcess(std::vector<std::string> args, ChildSetup setup = {}) {
    args.insert(args.begin(), ServerBinary());
    std::vector<char*> argv;
    for (std::string& a : args) {
      argv.push_back(a.data());
    }
    argv.push_back(nullptr);
    int out[2];
    int err[2];
    if (pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0) {
      return;
    }
    sock_filter filter[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, arch)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, kAuditArch, 0, 3),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA)),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    sock_fprog prog{static_cast<unsigned short>(sizeof(filter) / sizeof(filter[0])), filter};
    pid_ = fork();
    if (pid_ == 0) {
      dup2(out[1], 1);
      dup2(err[1], 2);
      if (setup.nofile > 0) {
        rlimit rl{setup.nofile, setup.nofile};
        setrlimit(RLIMIT_NOFILE, &rl);
      }
      if (setup.refuse_io_uring) {
        prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
        prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog);
      }
      execv(argv[0], argv.data());
      _exit(127);
    }
    close(out[1]);
    close(err[1]);
    out_ = UniqueFd(out[0]);
    err_ = UniqueFd(err[0]);
    fcntl(out_.get(), F_SETFL, O_NONBLOCK);
    fcntl(err_.get(), F_SETFL, O_NONBLOCK);
  }
  ~ServerProcess() {
    if (pid_ > 0 && !exited_) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }

  pid_t pid() const { return pid_; }

  // Waits (up to 20 s) for the "listening ADDR backend=B threads=N" line; empty on failure.
  std::string WaitListening() {
    for (int i = 0; i < 2000; ++i) {
      Drain();
      size_t pos = stdout_.find("listening ");
      if (pos != std::string::npos && stdout_.find('\n', pos) != std::string::npos) {
        return stdout_.substr(pos, stdout_.find('\n', pos) - pos);
      }
      if (Exited(0)) {
        return "";
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return "";
  }
  SocketAddress Address() {
    std::string line = WaitListening();
    std::vector<std::string> parts = absl::StrSplit(line, ' ');
    if (parts.size() < 2) {
      return SocketAddress();
    }
    absl::StatusOr<SocketAddress> a = SocketAddress::Parse(parts[1]);
    return a.ok() ? *a : SocketAddress();
  }

  // Waits up to timeout_ms for the process to exit; true when it has.
  bool Exited(int timeout_ms) {
    for (int i = 0; !exited_; ++i) {
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        exited_ = true;
        exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        break;
      }
      if (i * 10 >= timeout_ms) {
        return false;
      }
      Drain();
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    Drain();
    return true;
  }
  int exit_code() const { return exit_code_; }
  const std::string& out() {
    Drain();
    return stdout_;
  }
  const std::string& err() {
    Drain();
    return stderr_;
  }

  // utime + stime of the process, in clock ticks.
  long CpuTicks() {
    std::ifstream in("/proc/" + std::to_string(pid_) + "/stat");
    std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    size_t close_paren = stat.rfind(')');
    if (close_paren == std::string::npos) {
      return -1;
    }
    std::istringstream rest(stat.substr(close_paren + 2));
    std::string field;
    long utime = 0;
    long stime = 0;
    // Fields after the command: state(3) ... utime(14) stime(15).
    for (int i = 3; i <= 15; ++i) {
      rest >> field;
      if (i == 14) {
        utime = std::stol(field);
      } else if (i == 15) {
        stime = std::stol(field);
      }
    }
    return utime + stime;
  }

 private:
  void Drain() {
    char buf[4096];
    ssize_t n;
    while (out_ && (n = read(out_.get(), buf, sizeof(buf))) > 0) {
      stdout_.append(buf, static_cast<size_t>(n));
    }
    while (err_ && (n = read(err_.get(), buf, sizeof(buf))) > 0) {
      stderr_.append(buf, static_cast<size_t>(n));
    }
  }

  pid_t pid_ = -1;
  bool exited_ = false;
  int exit_code_ = -1;
  UniqueFd out_;
  UniqueFd err_;
  std::string stdout_;
  std::string stderr_;
};

bool IoUringUsable() { return loop::SelectBackend(loop::BackendChoice::kIoUring).ok(); }

// The process-level behaviour on each backend (io_uring skipped where refused).
class ServerMainBackendTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "io_uring" && !IoUringUsable()) {
      GTEST_SKIP() << "io_uring unavailable";
    }
  }
  std::vector<std::string> Args(std::vector<std::string> args) {
    args.insert(args.begin(), {"--backend", GetParam()});
    return args;
  }
};

TEST_P(ServerMainBackendTest, SigtermDrainsAndExitsZero) {
  ServerProcess server(
      Args({"--listen", "127.0.0.1:0", "--threads", "2", "--stats-interval", "100ms", "--json"}));
  EXPECT_NE(server.WaitListening().find("backend=" + GetParam()), std::string::npos)
      << server.err();
  SocketAddress address = server.Address();
  ASSERT_NE(address.port(), 0) << server.err();
  UniqueFd fd = Connect(address);
  ASSERT_TRUE(fd.valid());
  ASSERT_TRUE(SendAll(fd.get(), "hello"));
  ASSERT_EQ(RecvExactly(fd.get(), 5), "hello");
  // Long enough for a few 100ms stats lines however slow the machine is.
  for (int i = 0; i < 200 && server.err().find("open=") == std::string::npos; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_EQ(kill(server.pid(), SIGTERM), 0);
  ASSERT_TRUE(server.Exited(20000)) << server.err();
  EXPECT_EQ(server.exit_code(), 0) << server.err();
  int error = -1;
  RecvUntilEof(fd.get(), &error);
  EXPECT_EQ(error, 0);
  EXPECT_NE(server.err().find("SIGTERM: draining"), std::string::npos) << server.err();
  EXPECT_NE(server.err().find("summary"), std::string::npos) << server.err();
  EXPECT_NE(server.err().find("open="), std::string::npos) << "stats lines: " << server.err();
  EXPECT_NE(server.out().find("\"bytes_in\": 5"), std::string::npos) << server.out();
}

TEST_P(ServerMainBackendTest, SigtermWithBytesInFlightEchoesThemAllThenExitsZero) {
  ServerProcess server(
      Args({"--listen", "127.0.0.1:0", "--threads", "2", "--drain-timeout", "30s", "--json"}));
  SocketAddress address = server.Address();
  ASSERT_NE(address.port(), 0) << server.err();
  UniqueFd fd = Connect(address);
  ASSERT_TRUE(fd.valid());
  // Sent and not yet read back: in the server's buffers and queue, and on the way back.
  std::string sent = FillWithoutReading(fd.get(), size_t{32} << 20, 21);
  ASSERT_GT(sent.size(), size_t{256} << 10);
  ASSERT_EQ(kill(server.pid(), SIGTERM), 0);
  ExpectEverythingEchoedThenEof(fd.get(), sent);
  ASSERT_TRUE(server.Exited(40000)) << server.err();
  EXPECT_EQ(server.exit_code(), 0) << server.err();
  EXPECT_NE(server.out().find("\"bytes_out\": " + std::to_string(sent.size())), std::string::npos)
      << server.out();
}

TEST_P(ServerMainBackendTest, BadFlagsExitTwoWithOneLine) {
  struct Case {
    std::vector<std::string> args;
    std::string expect;
  };
  for (const Case& c : std::vector<Case>{
           {{"--bogus"}, "bogus"},
           {{"--listen", "1.2.3"}, "1.2.3"},
           {{"--idle-timeout", "5"}, "5"},
           {{"--linger", "later"}, "later"},
           {{"--threads", "-3"}, "threads"},
           {{"--threads", "5000"}, "threads"},
           {{"--backlog", "5000000000"}, "backlog"},
           {{"--rcvbuf", "2G"}, "rcvbuf"},
           {{"--listen", "127.0.0.1:0", "--max-pending", "10"}, "pending"},
       }) {
    ServerProcess server(Args(c.args));
    ASSERT_TRUE(server.Exited(20000));
    EXPECT_EQ(server.exit_code(), 2) << c.args[0] << ": " << server.err();
    const std::string& err = server.err();
    EXPECT_EQ(err.rfind("socklab-server: ", 0), 0u) << err;
    EXPECT_NE(err.find(c.expect), std::string::npos) << err;
    EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << err;
  }
}

TEST(ServerMainTest, UnknownBackendExitsTwoWithOneLine) {
  ServerProcess server({"--backend", "kqueue"});
  ASSERT_TRUE(server.Exited(20000));
  EXPECT_EQ(server.exit_code(), 2) << server.err();
  EXPECT_NE(server.err().find("kqueue"), std::string::npos) << server.err();
  EXPECT_EQ(std::count(server.err().begin(), server.err().end(), '\n'), 1) << server.err();
}

TEST_P(ServerMainBackendTest, PortInUseNamesEaddrinuse) {
  absl::StatusOr<UniqueFd> taken = ListenTcp({.address = *SocketAddress::Parse("127.0.0.1:0")});
  ASSERT_TRUE(taken.ok());
  SocketAddress address = *LocalAddressOf(taken->get());
  ServerProcess server(Args({"--listen", address.ToString()}));
  ASSERT_TRUE(server.Exited(20000));
  EXPECT_EQ(server.exit_code(), 2);
  EXPECT_NE(server.err().find("EADDRINUSE"), std::string::npos) << server.err();
  EXPECT_NE(server.err().find(address.ToString()), std::string::npos) << server.err();
}

TEST_P(ServerMainBackendTest, SecondServerOnTheSamePortExitsTwoWithEaddrinuse) {
  // Both with default flags (SO_REUSEPORT listeners, same user).
  ServerProcess first(Args({"--listen", "127.0.0.1:0", "--threads", "2"}));
  SocketAddress address = first.Address();
  ASSERT_NE(address.port(), 0) << first.err();
  ServerProcess second(Args({"--listen", address.ToString(), "--threads", "2"}));
  ASSERT_TRUE(second.Exited(20000)) << "the second server is serving: " << second.out();
  EXPECT_EQ(second.exit_code(), 2) << second.err();
  EXPECT_NE(second.err().find("EADDRINUSE"), std::string::npos) << second.err();
  EXPECT_NE(second.err().find(address.ToString()), std::string::npos) << second.err();
  EXPECT_EQ(std::count(second.err().begin(), second.err().end(), '\n'), 1) << second.err();
  // The first one is unaffected.
  UniqueFd fd = Connect(address);
  ASSERT_TRUE(fd.valid());
  ASSERT_TRUE(SendAll(fd.get(), "still"));
  EXPECT_EQ(RecvExactly(fd.get(), 5), "still");
}

INSTANTIATE_TEST_SUITE_P(Backends, ServerMainBackendTest, ::testing::Values("epoll", "io_uring"),
                         [](const auto& info) { return info.param; });

TEST(ServerMainTest, AutoFallsBackToEpollWhenSeccompRefusesIoUring) {
  if (kAuditArch == 0) {
    GTEST_SKIP() << "no seccomp arch constant for this machine";
  }
  ServerProcess server({"--listen", "127.0.0.1:0", "--backend", "auto", "--threads", "1"},
                       {.refuse_io_uring = true});
  std::string line = server.WaitListening();
  EXPECT_NE(line.find("backend=epoll"), std::string::npos) << line << server.err();
  EXPECT_NE(server.err().find("io_uring unavailable"), std::string::npos) << server.err();
  UniqueFd fd = Connect(server.Address());
  ASSERT_TRUE(fd.valid());
  ASSERT_TRUE(SendAll(fd.get(), "ok"));
  EXPECT_EQ(RecvExactly(fd.get(), 2), "ok");

  // Asking for io_uring explicitly under the same filter is an error, not a silent fallback.
  ServerProcess forced({"--listen", "127.0.0.1:0", "--backend", "io_uring"},
                       {.refuse_io_uring = true});
  ASSERT_TRUE(forced.Exited(20000));
  EXPECT_EQ(forced.exit_code(), 2) << forced.err();
  EXPECT_NE(forced.err().find("EPERM"), std::string::npos) << forced.err();
}

class FdExhaustionTest : public ::testing::TestWithParam<std::string> {};

// The sum of N over the "accept_pauses=+N" fields of the --stats-interval lines in `err`.
uint64_t IntervalAcceptPauses(const std::string& err) {
  uint64_t total = 0;
  const std::string key = "accept_pauses=+";
  for (size_t pos = err.find(key); pos != std::string::npos; pos = err.find(key, pos + 1)) {
    total += std::strtoull(err.c_str() + pos + key.size(), nullptr, 10);
  }
  return total;
}

TEST_P(FdExhaustionTest, SurvivesWithoutSpinningAndServesAfterOthersLeave) {
  if (GetParam() == "io_uring" && !IoUringUsable()) {
    GTEST_SKIP() << "io_uring unavailable";
  }
  auto started = std::chrono::steady_clock::now();
  ServerProcess server({"--listen", "127.0.0.1:0", "--threads", "1", "--backend", GetParam(),
                        "--stats-interval", "100ms", "--json"},
                       {.nofile = 48});
  SocketAddress address = server.Address();
  ASSERT_NE(address.port(), 0) << server.err();
  // More clients than the server has fds: the rest wait in the backlog.
  std::vector<UniqueFd> clients;
  for (int i = 0; i < 80; ++i) {
    clients.push_back(Connect(address));
    ASSERT_TRUE(clients.back().valid()) << i;
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // let it hit EMFILE
  long ticks_before = server.CpuTicks();
  auto wall_before = std::chrono::steady_clock::now();
  std::this_thread::sleep_for(std::chrono::seconds(2));
  long ticks_after = server.CpuTicks();
  double wall_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_before).count();
  double cpu_s = static_cast<double>(ticks_after - ticks_before) / sysconf(_SC_CLK_TCK);
  // A spin detector, not a speed bound: an accept loop retrying EMFILE burns ~100% of a CPU,
  // a backed-off one next to nothing.
  EXPECT_LT(cpu_s, 0.2 * wall_s) << "cpu " << cpu_s << " s over " << wall_s << " s";
  ASSERT_FALSE(server.Exited(0)) << server.err();
  // And a check scheduling cannot fool (a spinning server starved of CPU would pass the one
  // above): the server's own count of accept pauses over the episode. Its back-off doubles from
  // 10 ms to 1 s, so T seconds allow at most 8 + T pauses (7 doublings take 1.27 s), plus one
  // restart of the back-off after the first successful accepts; a retry loop makes thousands.
  std::string episode_err = server.err();
  double episode_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  uint64_t episode_pauses = IntervalAcceptPauses(episode_err);
  RecordProperty("episode_accept_pauses", std::to_string(episode_pauses));
  RecordProperty("episode_cpu_s", std::to_string(cpu_s));
  EXPECT_GE(episode_pauses, 1u) << episode_err;
  EXPECT_LE(episode_pauses, 10 + static_cast<uint64_t>(std::ceil(episode_s)))
      << "over " << episode_s << " s: " << episode_err;

  clients.clear();  // others leave
  UniqueFd fresh;
  std::string got;
  // The server works through the backlog of departed clients, then serves a new one.
  fresh = Connect(address);
  ASSERT_TRUE(fresh.valid());
  ASSERT_TRUE(SendAll(fresh.get(), "again"));
  got = RecvExactly(fresh.get(), 5);
  EXPECT_EQ(got, "again");

  kill(server.pid(), SIGTERM);
  ASSERT_TRUE(server.Exited(20000));
  EXPECT_EQ(server.exit_code(), 0);
  EXPECT_NE(server.err().find("EMFILE"), std::string::npos) << server.err();
  // The summary agrees: at least the pauses the interval lines showed.
  std::string out = server.out();
  size_t pos = out.find("\"no_fds\": ");
  ASSERT_NE(pos, std::string::npos) << out;
  uint64_t no_fds = std::strtoull(out.c_str() + pos + 10, nullptr, 10);
  EXPECT_GE(no_fds, episode_pauses) << out;
}

INSTANTIATE_TEST_SUITE_P(Backends, FdExhaustionTest, ::testing::Values("epoll", "io_uring"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace socklab::server

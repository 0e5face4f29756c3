// socklab load short of file descriptors ('ulimit -n 128') or of local ports (ten of them), with -c
// far above either, as a user meets it; the kernel is the witness: the process's socket() calls
// counted by the syscall tracepoints, not by load. Before one back-off per thread, every waiting
// connection retried on its own timer (about 3000 failing socket() calls a second at -c 1000).
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "core/loop/event_loop.h"
#include "core/sysinfo/tcp_counters.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/client/load/echo_fixture.h"
#include "tests/client/load/socklab_process.h"
#include "tests/testing/syscall_trace.h"

namespace socklab::client {
namespace {

class LoadShortageTest : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override {
    if (!loop::SelectBackend(*loop::ParseBackendChoice(GetParam())).ok()) {
      GTEST_SKIP() << "backend unavailable";
    }
  }
};

// socket(AF_INET, ...) calls only: the client's connections, not the netlink sockets it opens to
// read the kernel's tables. A failure is matched to its call by thread (a thread's exit follows
// its own entry).
struct SocketCalls {
  uint64_t calls = 0;   // socket(AF_INET, ...) entered
  uint64_t failed = 0;  // of those, returned an error
};
SocketCalls InetSocketCalls(const testing::SyscallTrace& trace) {
  SocketCalls counts;
  std::map<std::string, bool> inet_call_of_thread;  // "comm-tid" -> its last call was AF_INET
  for (const std::string& record : trace.Records()) {
    const size_t start = record.find_first_not_of(' ');
    const std::string thread = record.substr(start, record.find(' ', start) - start);
    if (record.find(": sys_socket(") != std::string::npos) {
      const bool inet = record.find("(family: 2,") != std::string::npos;
      inet_call_of_thread[thread] = inet;
      counts.calls += inet ? 1 : 0;
    } else if (record.find(": sys_socket -> ") != std::string::npos &&
               inet_call_of_thread[thread]) {
      ++counts.failed;
    }
  }
  return counts;
}

uint64_t SocketEmfile(const nlohmann::json& j) {
  uint64_t emfile = 0;
  for (const nlohmann::json& cell : j["errors"]["by_class"]) {
    if (cell["phase"] == "socket" && cell["errno"] == "EMFILE") {
      emfile += cell["count"].get<uint64_t>();
    }
  }
  return emfile;
}

TEST_P(LoadShortageTest, FdShortageRetriesArePacedPerThreadNotPerConnection) {
  if (geteuid() != 0) {
    GTEST_SKIP() << "the syscall tracepoints need root";
  }
  // Before any thread of this test exists: the trace may mount tracefs privately.
  absl::StatusOr<std::unique_ptr<testing::SyscallTrace>> trace =
      testing::SyscallTrace::Open("socket", "ret < 0", /*entries=*/true);
  ASSERT_TRUE(trace.ok()) << trace.status();
  testing::EchoFixture server;
  constexpr rlim_t kFdLimit = 128;
  constexpr int kThreads = 2;
  constexpr double kDurationS = 3;
  bool followed = false;
  testing::SocklabProcess load(
      {"load", server.address().ToString(), "-c", "1000", "-t", std::to_string(kThreads), "-d",
       "3s", "--backend", GetParam(), "--json", "-"},
      kFdLimit, kFdLimit, [&](pid_t pid) { followed = (*trace)->Follow(pid); });
  if (!load.available()) {
    GTEST_SKIP() << "socklab not built (SOCKLAB_BIN_DIR)";
  }
  ASSERT_TRUE(followed);
  const testing::ProcessOutcome outcome = load.Wait(60'000);
  ASSERT_FALSE(outcome.killed_at_deadline) << outcome.err;
  ASSERT_EQ(outcome.exit_code, 0) << outcome.err;
  // It ends within -d plus its timeouts (connect 2 s, read 5 s), with room for a busy machine.
  EXPECT_LT(outcome.wall_s, kDurationS + 2 + 5 + 5);
  const nlohmann::json j = nlohmann::json::parse(outcome.out);
  const SocketCalls kernel = InetSocketCalls(**trace);
  ASSERT_EQ((*trace)->Overruns(), 0u);

  // The kernel saw the shortage, and load counted every failed socket() it made.
  const uint64_t emfile = SocketEmfile(j);
  EXPECT_GT(kernel.failed, 0u);
  EXPECT_EQ(emfile, kernel.failed) << j["errors"];
  // Every successful socket() is a connection that opened and stayed open (no churn), at most
  // one per fd.
  const uint64_t opened = j["connections"]["opened"].get<uint64_t>();
  EXPECT_EQ(kernel.calls - kernel.failed, opened);
  EXPECT_LT(opened, kFdLimit);
  // The retries are paced per thread: even at the back-off's floor (10 ms) a thread retries at
  // most 100 times a second, however many connections wait. (Per connection it was ~9000.)
  const double wall = outcome.wall_s;
  EXPECT_LE(static_cast<double>(kernel.failed), kThreads * 100 * wall)
      << kernel.failed << " failed socket() calls in " << wall << " s";
  // And reported, with the same count.
  bool reported = false;
  for (const nlohmann::json& hint : j["errors"]["hints"]) {
    const std::string text = hint.get<std::string>();
    if (text.rfind("local shortage: ", 0) == 0) {
      reported = true;
      EXPECT_NE(text.find("local shortage: " + std::to_string(emfile) + " connection attempts"),
                std::string::npos)
          << text;
    }
  }
  EXPECT_TRUE(reported) << j["errors"]["hints"];
  RecordProperty("socket_calls", static_cast<int>(kernel.calls));
  RecordProperty("socket_failed", static_cast<int>(kernel.failed));
}

// The inode of a network namespace: this process's, or init's.
ino_t NetnsInode(const char* path) {
  struct stat st = {};
  return stat(path, &st) == 0 ? st.st_ino : 0;
}

// Sets net.ipv4.ip_local_port_range in this process's network namespace, and restores it.
class PortRangeInThisNamespace {
 public:
  explicit PortRangeInThisNamespace(const std::string& range) {
    std::ifstream in(kPath);
    std::getline(in, saved_);
    std::ofstream(kPath) << range;
  }
  ~PortRangeInThisNamespace() { std::ofstream(kPath) << saved_; }

 private:
  static constexpr const char* kPath = "/proc/sys/net/ipv4/ip_local_port_range";
  std::string saved_;
};

uint64_t ConnectEaddrnotavail(const nlohmann::json& j) {
  uint64_t count = 0;
  for (const nlohmann::json& cell : j["errors"]["by_class"]) {
    if (cell["phase"] == "connect" && cell["errno"] == "EADDRNOTAVAIL") {
      count += cell["count"].get<uint64_t>();
    }
  }
  return count;
}

// Ports run out at connect (EADDRNOTAVAIL, a completion on io_uring, not a syscall): each
// attempt still begins with a socket() the kernel counts.
TEST_P(LoadShortageTest, PortShortageRetriesArePacedPerThreadNotPerConnection) {
  if (geteuid() != 0) {
    GTEST_SKIP() << "the syscall tracepoints need root";
  }
  if (NetnsInode("/proc/self/ns/net") == NetnsInode("/proc/1/ns/net")) {
    GTEST_SKIP() << "not in a network namespace of its own: the host's port range stays as it is";
  }
  absl::StatusOr<std::unique_ptr<testing::SyscallTrace>> trace =
      testing::SyscallTrace::Open("socket", "ret < 0", /*entries=*/true);
  ASSERT_TRUE(trace.ok()) << trace.status();
  // The peer's port first, from the full range; then ten ports towards it (a fresh port: no
  // earlier test's TIME_WAIT holds them).
  testing::EchoFixture server;
  PortRangeInThisNamespace range("40000\t40009");
  constexpr int kThreads = 2;
  bool followed = false;
  testing::SocklabProcess load(
      {"load", server.address().ToString(), "-c", "1000", "-t", std::to_string(kThreads), "-d",
       "2s", "--backend", GetParam(), "--json", "-"},
      4096, 4096, [&](pid_t pid) { followed = (*trace)->Follow(pid); });
  if (!load.available()) {
    GTEST_SKIP() << "socklab not built (SOCKLAB_BIN_DIR)";
  }
  ASSERT_TRUE(followed);
  const testing::ProcessOutcome outcome = load.Wait(60'000);
  ASSERT_FALSE(outcome.killed_at_deadline) << outcome.err;
  ASSERT_EQ(outcome.exit_code, 0) << outcome.err;
  EXPECT_LT(outcome.wall_s, 2 + 2 + 5 + 5);
  const nlohmann::json j = nlohmann::json::parse(outcome.out);
  const SocketCalls kernel = InetSocketCalls(**trace);
  ASSERT_EQ((*trace)->Overruns(), 0u);
  EXPECT_EQ(kernel.failed, 0u);
  // Every attempt is one socket() the kernel saw; at most ten opened, the rest met the shortage.
  const uint64_t attempts = j["connections"]["attempts"].get<uint64_t>();
  const uint64_t opened = j["connections"]["opened"].get<uint64_t>();
  EXPECT_EQ(kernel.calls, attempts);
  EXPECT_LE(opened, 10u);
  EXPECT_GT(opened, 0u);
  const uint64_t refused_here = ConnectEaddrnotavail(j);
  EXPECT_GT(refused_here, 0u);
  // Paced per thread: at most 100 a second per thread even at the back-off's floor.
  EXPECT_LE(static_cast<double>(kernel.calls - opened), kThreads * 100 * outcome.wall_s)
      << kernel.calls << " socket() calls, " << opened << " opened, in " << outcome.wall_s << " s";
  RecordProperty("socket_calls", static_cast<int>(kernel.calls));
  RecordProperty("eaddrnotavail", static_cast<int>(refused_here));
}

int64_t TwRecycledNow() {
  absl::StatusOr<TcpCounters> counters = ReadTcpCounters();
  if (!counters.ok() || !counters->contains("TcpExt.TWRecycled")) {
    ADD_FAILURE() << "no TcpExt.TWRecycled in /proc/net/netstat";
    return 0;
  }
  return counters->at("TcpExt.TWRecycled");
}

// The hints of a load report that name TcpExt.TWRecycled.
std::vector<std::string> RecycleHints(const nlohmann::json& j) {
  std::vector<std::string> found;
  for (const nlohmann::json& hint : j["errors"]["hints"]) {
    if (hint.get<std::string>().find("TcpExt.TWRecycled") != std::string::npos) {
      found.push_back(hint.get<std::string>());
    }
  }
  return found;
}

// Churning through a port range that TIME_WAITs hold: the rate is the range's, not the server's,
// and until connects fail (a range this small: EADDRNOTAVAIL now and then) nothing but the rate
// shows it. The kernel counts each connect that took a port still in TIME_WAIT
// (TcpExt.TWRecycled); the report must say so, and must not when ports were free.
TEST_P(LoadShortageTest, AChurnRateBoundedByThePortRangeIsNamedAsSuch) {
  if (geteuid() != 0) {
    GTEST_SKIP() << "the port range is set as root";
  }
  if (NetnsInode("/proc/self/ns/net") == NetnsInode("/proc/1/ns/net")) {
    GTEST_SKIP() << "not in a network namespace of its own: the host's port range stays as it is";
  }
  testing::EchoFixture server;
  auto churn = [&](const char* duration) {
    testing::SocklabProcess load(
        {"load", server.address().ToString(), "-c", "4", "-t", "1", "--churn", "1", "-d", duration,
         "--backend", GetParam(), "--json", "-"},
        4096, 4096);
    if (!load.available()) {
      return nlohmann::json();
    }
    const testing::ProcessOutcome outcome = load.Wait(60'000);
    EXPECT_FALSE(outcome.killed_at_deadline) << outcome.err;
    EXPECT_EQ(outcome.exit_code, 0) << outcome.err;
    return nlohmann::json::parse(outcome.out, nullptr, /*allow_exceptions=*/false);
  };
  {
    // 64 ports (their own, as in the test above: no earlier TIME_WAIT holds them), each free
    // again about a second after its connection closed.
    PortRangeInThisNamespace range("40100\t40163");
    const int64_t recycled_before = TwRecycledNow();
    const nlohmann::json j = churn("3s");
    if (j.is_null()) {
      GTEST_SKIP() << "socklab not built (SOCKLAB_BIN_DIR)";
    }
    ASSERT_TRUE(j.is_object());
    const int64_t recycled = TwRecycledNow() - recycled_before;
    const int64_t attempts = j["connections"]["attempts"].get<int64_t>();
    EXPECT_GE(attempts, 100) << "too few connects to tell";
    EXPECT_GE(recycled * 2, attempts) << "the kernel saw few ports recycled";
    const std::vector<std::string> hints = RecycleHints(j);
    ASSERT_EQ(hints.size(), 1u) << j["errors"]["hints"];
    // The range and its fixes: in this hint, or in the EADDRNOTAVAIL one when connects failed too.
    EXPECT_NE(j["errors"]["hints"].dump().find("ip_local_port_range 40100-40163 gives 64 ports"),
              std::string::npos)
        << j["errors"]["hints"];
    // The report's count is the kernel's, over a window inside the test's.
    const int64_t reported = std::stoll(hints[0].substr(hints[0].find_first_of("0123456789")));
    EXPECT_GT(reported, 0);
    EXPECT_LE(reported, recycled) << hints[0];
  }
  // The namespace's whole range: the same churn finds free ports and no hint.
  const int64_t recycled_before = TwRecycledNow();
  const nlohmann::json j = churn("1s");
  ASSERT_TRUE(j.is_object());
  EXPECT_LT((TwRecycledNow() - recycled_before) * 2, j["connections"]["attempts"].get<int64_t>());
  EXPECT_TRUE(RecycleHints(j).empty()) << j["errors"]["hints"];
}

INSTANTIATE_TEST_SUITE_P(Backends, LoadShortageTest, ::testing::Values("epoll", "io_uring"),
                         [](const auto& info) { return std::string(info.param); });

}  // namespace
}  // namespace socklab::client

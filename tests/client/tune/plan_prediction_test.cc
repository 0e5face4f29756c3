// One end-to-end check that `socklab tune --plan` predicts port exhaustion correctly: in a
// private network namespace with a narrowed ip_local_port_range, a connect/close churn at a rate
// the plan says exhausts the ports gets connect EADDRNOTAVAIL, and one at a rate it calls safe
// gets none.
//
// The namespace lives only in a forked child (unshare(CLONE_NEWNET)) and dies with it, so nothing
// is left behind and the host's sysctls are never touched.
#include <net/if.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "core/base/clock.h"
#include "core/base/status.h"
#include "core/net/error_class.h"
#include "core/net/socket.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/client/tune/run_socklab.h"

namespace socklab {
namespace {

// Narrowed so that exhaustion takes a fraction of a second: 100 ports.
constexpr const char* kPortRange = "40000 40099";

struct ChurnCounts {
  int ok = 0;
  int addr_not_avail = 0;
  int other = 0;
};

// What the child reports back, one line: "plan-status port-check-status ok eaddrnotavail other".
struct Outcome {
  std::string error;  // set when the child could not run the scenario
  bool skipped = false;
  std::string breaks_first;  // the plan's verdict ("" when it fits)
  std::string port_status;   // the ephemeral_ports check's status
  double port_need = 0;
  double port_have = 0;
  ChurnCounts counts;
};

absl::Status WriteProc(const std::string& path, const std::string& value) {
  std::ofstream out(path);
  out << value;
  out.close();
  if (!out) {
    return absl::InternalError(absl::StrCat("write ", path));
  }
  return absl::OkStatus();
}

bool BringLoUp() {
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return false;
  }
  ifreq request{};
  std::strncpy(request.ifr_name, "lo", IFNAMSIZ - 1);
  bool ok = ioctl(fd, SIOCGIFFLAGS, &request) == 0;
  request.ifr_flags |= IFF_UP;
  ok = ok && ioctl(fd, SIOCSIFFLAGS, &request) == 0;
  close(fd);
  return ok;
}

// A blocking connect/close loop at `rate` per second for `seconds`: the client closes first, so
// each closed connection leaves its port in TIME_WAIT on the client, as `socklab load --churn`.
ChurnCounts Churn(const SocketAddress& target, double rate, double seconds) {
  ChurnCounts counts;
  int64_t start = MonotonicNanos();
  int64_t total = static_cast<int64_t>(rate * seconds);
  for (int64_t i = 0; i < total; ++i) {
    int64_t due = start + static_cast<int64_t>(static_cast<double>(i) * 1e9 / rate);
    int64_t now = MonotonicNanos();
    if (due > now) {
      std::this_thread::sleep_for(std::chrono::nanoseconds(due - now));
    }
    absl::StatusOr<UniqueFd> connection = ConnectTcp(target);
    if (connection.ok()) {
      ++counts.ok;
      continue;  // UniqueFd closes it: our FIN goes first
    }
    std::optional<int> err = ErrnoOf(connection.status());
    if (err.has_value() && Classify(Phase::kConnect, *err) == ErrorClass::kAddrNotAvail) {
      ++counts.addr_not_avail;
    } else {
      ++counts.other;
    }
  }
  return counts;
}

// Runs in the child, inside its own network namespace. Returns the report line.
std::string ScenarioInNamespace(const std::string& tw_reuse, double rate, double seconds) {
  if (unshare(CLONE_NEWNET) != 0) {
    return absl::StrCat("skip unshare: ", std::strerror(errno));
  }
  if (!BringLoUp()) {
    return "error lo up";
  }
  ListenOptions listen_options;
  listen_options.address = *SocketAddress::Parse("127.0.0.1:0");
  listen_options.backlog = 4096;
  listen_options.blocking = Blocking::kBlocking;
  absl::StatusOr<UniqueFd> listener = ListenTcp(listen_options);
  if (!listener.ok()) {
    return absl::StrCat("error listen ", listener.status().message());
  }
  SocketAddress target = *LocalAddressOf(listener->get());
  // Narrow the range only now: the listener's port 0 came from the wide default range and so
  // takes none of the 100.
  if (!WriteProc("/proc/sys/net/ipv4/ip_local_port_range", kPortRange).ok() ||
      !WriteProc("/proc/sys/net/ipv4/tcp_tw_reuse", tw_reuse).ok()) {
    return "error sysctl";
  }

  // The plan, asked inside the namespace so it reads the narrowed range.
  testing_tune::RunResult plan = testing_tune::RunSocklab(
      {"tune", "--plan", "--connections", "1", "--conn-rate", absl::StrFormat("%.0f", rate),
       "--target", target.ToString(), "--json"},
      30);
  if (plan.exit_code != 0) {
    return absl::StrCat("error tune exit ", plan.exit_code, " ", plan.err);
  }
  nlohmann::json json = nlohmann::json::parse(plan.out, nullptr, false);
  if (json.is_discarded()) {
    return "error tune json";
  }
  std::string breaks_first = json["plan"]["breaks_first"].is_string()
                                 ? json["plan"]["breaks_first"].get<std::string>()
                                 : "-";
  std::string port_status = "?";
  double need = 0;
  double have = 0;
  for (const auto& check : json["plan"]["checks"]) {
    if (check["key"] == "ephemeral_ports") {
      port_status = check["status"];
      need = check["need"];
      have = check["have"];
    }
  }

  // The server: accept, wait for the client's FIN, close. One thread suffices because every
  // client closes at once.
  std::atomic<bool> stop{false};
  std::thread server([&] {
    while (!stop.load()) {
      int fd = accept4(listener->get(), nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) {
        continue;
      }
      char buffer[64];
      while (read(fd, buffer, sizeof(buffer)) > 0) {
      }
      close(fd);
    }
  });
  ChurnCounts counts = Churn(target, rate, seconds);
  stop.store(true);
  shutdown(listener->get(), SHUT_RDWR);  // wakes the blocking accept()
  server.join();
  return absl::StrFormat("result %s %s %.0f %.0f %d %d %d", breaks_first, port_status, need, have,
                         counts.ok, counts.addr_not_avail, counts.other);
}

Outcome RunScenario(const std::string& tw_reuse, double rate, double seconds) {
  Outcome outcome;
  int pipe_fds[2];
  if (pipe2(pipe_fds, O_CLOEXEC) != 0) {
    outcome.error = "pipe";
    return outcome;
  }
  pid_t pid = fork();
  if (pid == 0) {
    close(pipe_fds[0]);
    alarm(60);  // never outlive a hung scenario
    std::string line = ScenarioInNamespace(tw_reuse, rate, seconds) + "\n";
    ssize_t written = write(pipe_fds[1], line.data(), line.size());
    _exit(written == static_cast<ssize_t>(line.size()) ? 0 : 1);
  }
  close(pipe_fds[1]);
  std::string line;
  char buffer[512];
  ssize_t n;
  while ((n = read(pipe_fds[0], buffer, sizeof(buffer))) > 0) {
    line.append(buffer, static_cast<size_t>(n));
  }
  close(pipe_fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  std::vector<std::string> fields = absl::StrSplit(line, ' ', absl::SkipEmpty());
  if (!fields.empty() && fields[0] == "skip") {
    outcome.skipped = true;
    outcome.error = line;
    return outcome;
  }
  if (fields.size() != 8 || fields[0] != "result") {
    outcome.error = line.empty() ? "child died" : line;
    return outcome;
  }
  outcome.breaks_first = fields[1];
  outcome.port_status = fields[2];
  outcome.port_need = std::stod(fields[3]);
  outcome.port_have = std::stod(fields[4]);
  outcome.counts = {std::stoi(fields[5]), std::stoi(fields[6]), std::stoi(fields[7])};
  return outcome;
}

class PlanPrediction : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!std::filesystem::exists(testing_tune::SocklabPath())) {
      GTEST_SKIP() << testing_tune::SocklabPath() << " is not built";
    }
  }
};

// tcp_tw_reuse=0: a closed port waits 60 s, so 100 ports allow 100 / 60 = 1.67 connections/s.
TEST_F(PlanPrediction, SixtySecondTimeWaitExhaustsPortsAtTheRateThePlanSays) {
  Outcome fast = RunScenario("0", 100, 3);  // 300 connects into 100 ports
  if (fast.skipped) {
    GTEST_SKIP() << fast.error;
  }
  ASSERT_EQ(fast.error, "");
  EXPECT_EQ(fast.breaks_first, "ephemeral_ports");
  EXPECT_EQ(fast.port_status, "breaks");
  EXPECT_EQ(fast.port_have, 100);
  EXPECT_GT(fast.counts.addr_not_avail, 0);
  // Exactly the range's worth of connects get through before the ports are gone.
  EXPECT_EQ(fast.counts.ok, 100);
  EXPECT_EQ(fast.counts.other, 0);

  Outcome slow = RunScenario("0", 1, 3);  // 3 connects: 1/s is below 1.67/s
  ASSERT_EQ(slow.error, "");
  EXPECT_NE(slow.port_status, "breaks");
  EXPECT_EQ(slow.breaks_first, "-");
  EXPECT_EQ(slow.counts.addr_not_avail, 0);
  EXPECT_EQ(slow.counts.ok, 3);
}

// tcp_tw_reuse=2 (the default) reuses loopback TIME_WAIT ports after 1 s: 100 ports allow 100/s.
TEST_F(PlanPrediction, LoopbackTimeWaitReuseMovesTheLimitAsThePlanSays) {
  Outcome fast = RunScenario("2", 500, 2);  // 1000 connects, 5x what reuse can recycle
  if (fast.skipped) {
    GTEST_SKIP() << fast.error;
  }
  ASSERT_EQ(fast.error, "");
  EXPECT_EQ(fast.breaks_first, "ephemeral_ports");
  EXPECT_GT(fast.counts.addr_not_avail, 0);

  // 200 connects through 100 ports at 50/s: only works because ports come back after 1 s,
  // which is what the plan counted on.
  Outcome safe = RunScenario("2", 50, 4);
  ASSERT_EQ(safe.error, "");
  EXPECT_EQ(safe.port_status, "ok");
  EXPECT_EQ(safe.breaks_first, "-");
  EXPECT_EQ(safe.counts.addr_not_avail, 0);
  EXPECT_EQ(safe.counts.ok, 200);
}

}  // namespace
}  // namespace socklab

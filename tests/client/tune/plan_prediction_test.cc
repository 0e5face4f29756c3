// One end-to-end check that `socklab tune --plan` predicts port exhaustion correctly: in a
// private network namespace with a narrowed ip_local_port_range, a connect/close churn at a rate
// the plan says exhausts the ports gets connect EADDRNOTAVAIL, and one at a rate it calls safe
// gets none although it runs long enough to open more connections than there are ports (so a
// model that got the port hold time wrong would exhaust them). The churn is the real client,
// `socklab load --churn 1 --connect-rate R`, against the real `socklab-server`. Two more check the
// rate up to which connect() finds a port at once, by the parity of the ports left in TIME_WAIT,
// and the plan's count of conntrack entries against nf_conntrack_count.
//
// The namespace lives only in a forked child (unshare(CLONE_NEWNET)) and dies with it, so nothing
// is left behind and the host's sysctls are never touched. The server is owned by a guard that
// kills and reaps it on every return, and dies with the child (PR_SET_PDEATHSIG) if the child is
// killed (alarm), so the namespace goes too.
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/client/tune/run_socklab.h"

namespace socklab {
namespace {

// Narrowed so that exhaustion takes a fraction of a second: 100 ports (an even-sized range, so
// connect() can use every one of them).
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
  double scan_free_rate = 0;  // the derivation new_connections_per_second_without_scan
  ChurnCounts counts;
  int time_wait_low_parity = 0;    // client ports in TIME_WAIT after the churn, of the range's
  int time_wait_other_parity = 0;  // low end's parity and of the other
  double conntrack_need = -1;      // the conntrack check's need (-1: no such check)
  int conntrack_count = -1;        // nf_conntrack_count after the churn (-1: not tracked)
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

// The client's TIME_WAIT sockets on ports `low`..`high` in this namespace, as /proc/net/tcp lists
// them (state 06), split by the port's parity against `low`.
std::pair<int, int> TimeWaitPortsByParity(int low, int high) {
  std::pair<int, int> counts;
  std::ifstream tcp("/proc/net/tcp");
  std::string line;
  std::getline(tcp, line);  // the header
  while (std::getline(tcp, line)) {
    std::vector<std::string> fields = absl::StrSplit(line, ' ', absl::SkipEmpty());
    if (fields.size() < 4 || fields[3] != "06") {
      continue;
    }
    size_t colon = fields[1].find(':');
    if (colon == std::string::npos) {
      continue;
    }
    int port = std::stoi(fields[1].substr(colon + 1), nullptr, 16);
    if (port >= low && port <= high) {
      ++((port - low) % 2 == 0 ? counts.first : counts.second);
    }
  }
  return counts;
}

// Owns a child process: SIGTERM, up to 5 s to exit, then SIGKILL; always reaped. Thread
// affinity: the thread that forked it.
class ChildGuard {
 public:
  explicit ChildGuard(pid_t pid) : pid_(pid) {}
  ChildGuard(const ChildGuard&) = delete;
  ChildGuard& operator=(const ChildGuard&) = delete;
  ~ChildGuard() { Stop(); }

  void Stop() {
    if (pid_ <= 0) {
      return;
    }
    kill(pid_, SIGTERM);
    int status = 0;
    for (int i = 0; i < 500; ++i) {
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    kill(pid_, SIGKILL);
    waitpid(pid_, &status, 0);
    pid_ = -1;
  }

 private:
  pid_t pid_;
};

// The server's port, below every narrowed range the scenarios set: a port 0 from the default
// range (32768-60999) lands among the narrowed ports one run in 280, where it leaves the churn
// one port short. The namespace is the test's own, so the port is free.
constexpr const char* kServerListen = "127.0.0.1:39999";

// Starts `socklab-server --listen kServerListen` with its output in `log` and returns its pid and
// the address it reports ("listening 127.0.0.1:PORT ..."), polling for up to 10 s. The server
// is killed when the calling process dies.
pid_t StartServer(const std::string& log, std::string* address) {
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid == 0) {
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent) {
      _exit(126);
    }
    int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    dup2(fd, 1);
    dup2(fd, 2);
    std::string server =
        std::filesystem::path(testing_tune::SocklabPath()).parent_path() / "socklab-server";
    execl(server.c_str(), server.c_str(), "--listen", kServerListen, "--threads", "1",
          static_cast<char*>(nullptr));
    _exit(127);
  }
  for (int i = 0; i < 1000 && pid > 0; ++i) {
    std::string text = testing_tune::Slurp(log);
    size_t at = text.find("listening ");
    if (at != std::string::npos) {
      size_t end = text.find_first_of(" \n", at + 10);
      if (end != std::string::npos) {
        *address = text.substr(at + 10, end - at - 10);
        return pid;
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return pid;
}

// One run: sysctls of the namespace, then the planned and the real churn.
struct Scenario {
  std::string tw_reuse;                 // net.ipv4.tcp_tw_reuse in the namespace
  std::string port_range = kPortRange;  // net.ipv4.ip_local_port_range in the namespace
  int rate = 0;                         // connects per second (socklab load takes whole numbers)
  int seconds = 0;                      // how long the churn runs
  bool track = false;                   // an nftables rule makes conntrack track the namespace
};

// Runs in the child, inside its own network namespace. Returns the report line.
std::string ScenarioInNamespace(const Scenario& scenario) {
  if (unshare(CLONE_NEWNET) != 0) {
    return absl::StrCat("skip unshare: ", std::strerror(errno));
  }
  if (!BringLoUp()) {
    return "error lo up";
  }
  // The server listens before the range narrows, on a port outside it (kServerListen).
  std::string log = std::filesystem::path(::testing::TempDir()) /
                    absl::StrCat("tune_prediction_server_", getpid(), ".log");
  std::string target;
  ChildGuard server(StartServer(log, &target));
  if (target.empty()) {
    return absl::StrCat("error server did not start: ", testing_tune::Slurp(log));
  }
  if (!WriteProc("/proc/sys/net/ipv4/ip_local_port_range", scenario.port_range).ok() ||
      !WriteProc("/proc/sys/net/ipv4/tcp_tw_reuse", scenario.tw_reuse).ok()) {
    return "error sysctl";
  }
  if (scenario.track) {
    // A rule that matches on connection state: conntrack now tracks this namespace's traffic.
    for (const std::vector<std::string>& command :
         {std::vector<std::string>{"nft", "add", "table", "inet", "prediction"},
          std::vector<std::string>{"nft", "add", "chain", "inet", "prediction", "out",
                                   "{ type filter hook output priority 0; }"},
          std::vector<std::string>{"nft", "add", "rule", "inet", "prediction", "out", "ct", "state",
                                   "new,established", "counter"}}) {
      testing_tune::RunResult nft = testing_tune::RunProgram(command, 10);
      if (nft.exit_code != 0) {
        return absl::StrCat("skip nft: exit ", nft.exit_code, " ", nft.err);
      }
    }
  }

  // The plan, asked inside the namespace so it reads the narrowed range.
  testing_tune::RunResult plan =
      testing_tune::RunSocklab({"tune", "--plan", "--connections", "1", "--conn-rate",
                                absl::StrCat(scenario.rate), "--target", target, "--json"},
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
  if (!json["plan"]["checks"].is_array()) {
    return "error tune json has no plan checks";
  }
  for (const auto& check : json["plan"]["checks"]) {
    if (check["key"] == "ephemeral_ports") {
      port_status = check["status"];
      need = check["need"];
      have = check["have"];
    }
  }
  double conntrack_need = -1;
  for (const auto& check : json["plan"]["checks"]) {
    if (check["key"] == "conntrack") {
      conntrack_need = check["need"];
    }
  }
  double scan_free = -1;
  for (const auto& derivation : json["derivations"]) {
    if (derivation["key"] == "new_connections_per_second_without_scan") {
      scan_free = derivation["value"];
    }
  }

  // One connection at a time, one echo each, reconnecting at `rate`: the client closes first.
  testing_tune::RunResult load = testing_tune::RunSocklab(
      {"load", target, "-c", "1", "--churn", "1", "--connect-rate", absl::StrCat(scenario.rate),
       "-d", absl::StrCat(scenario.seconds, "s"), "--json", "-"},
      scenario.seconds + 30);
  server.Stop();
  std::vector<std::string> range = absl::StrSplit(scenario.port_range, ' ');
  auto [low_parity, other_parity] =
      TimeWaitPortsByParity(std::stoi(range.front()), std::stoi(range.back()));
  int conntrack_count = -1;
  if (scenario.track) {
    std::string count = testing_tune::Slurp("/proc/sys/net/netfilter/nf_conntrack_count");
    conntrack_count = count.empty() ? -1 : std::stoi(count);
  }
  nlohmann::json result = nlohmann::json::parse(load.out, nullptr, false);
  if (result.is_discarded()) {
    return absl::StrCat("error load exit ", load.exit_code, " ", load.err);
  }
  ChurnCounts counts;
  counts.ok = result["connections"]["opened"].get<int>();
  for (const auto& error : result["errors"]["by_class"]) {
    if (error["phase"] == "connect" && error["class"] == "addr_not_avail") {
      counts.addr_not_avail += error["count"].get<int>();
    } else {
      counts.other += error["count"].get<int>();
    }
  }
  return absl::StrFormat("result %s %s %.0f %.0f %d %d %d %g %d %d %g %d", breaks_first,
                         port_status, need, have, counts.ok, counts.addr_not_avail, counts.other,
                         scan_free, low_parity, other_parity, conntrack_need, conntrack_count);
}

Outcome RunScenario(const Scenario& scenario) {
  Outcome outcome;
  int pipe_fds[2];
  if (pipe2(pipe_fds, O_CLOEXEC) != 0) {
    outcome.error = "pipe";
    return outcome;
  }
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid == 0) {
    close(pipe_fds[0]);
    // Never outlive a hung scenario or a killed test; the server follows (PR_SET_PDEATHSIG).
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) {
      _exit(1);
    }
    alarm(static_cast<unsigned>(scenario.seconds) + 90);
    std::string line = ScenarioInNamespace(scenario) + "\n";
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
  if (fields.size() != 13 || fields[0] != "result") {
    outcome.error = line.empty() ? "child died" : line;
    return outcome;
  }
  outcome.breaks_first = fields[1];
  outcome.port_status = fields[2];
  outcome.port_need = std::stod(fields[3]);
  outcome.port_have = std::stod(fields[4]);
  outcome.counts = {std::stoi(fields[5]), std::stoi(fields[6]), std::stoi(fields[7])};
  outcome.scan_free_rate = std::stod(fields[8]);
  outcome.time_wait_low_parity = std::stoi(fields[9]);
  outcome.time_wait_other_parity = std::stoi(fields[10]);
  outcome.conntrack_need = std::stod(fields[11]);
  outcome.conntrack_count = std::stoi(fields[12]);
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
  Outcome fast = RunScenario({.tw_reuse = "0", .rate = 100, .seconds = 3});  // 300 into 100 ports
  if (fast.skipped) {
    GTEST_SKIP() << fast.error;
  }
  ASSERT_EQ(fast.error, "");
  EXPECT_EQ(fast.breaks_first, "ephemeral_ports");
  EXPECT_EQ(fast.port_status, "breaks");
  EXPECT_EQ(fast.port_need, 6001);  // 1 open + 100/s * 60 s TIME_WAIT
  EXPECT_EQ(fast.port_have, 100);
  EXPECT_GT(fast.counts.addr_not_avail, 0);
  // Exactly the range's worth of connects get through before the ports are gone.
  EXPECT_EQ(fast.counts.ok, 100);
  EXPECT_EQ(fast.counts.other, 0);

  // 78 ports at 1/s: the plan needs 1 + 1/s * 60 s = 61 (within 80% of 78: "ok"). The churn runs
  // 86 s, opening more connections than there are ports, so it only stays clean if every port
  // really comes back after the 60 s the plan counted; a longer hold, or none, runs out near 78 s.
  Outcome safe =
      RunScenario({.tw_reuse = "0", .port_range = "40000 40077", .rate = 1, .seconds = 86});
  ASSERT_EQ(safe.error, "");
  EXPECT_EQ(safe.port_status, "ok");
  EXPECT_EQ(safe.breaks_first, "-");
  EXPECT_EQ(safe.port_need, 61);
  EXPECT_EQ(safe.port_have, 78);
  EXPECT_EQ(safe.counts.addr_not_avail, 0);
  EXPECT_EQ(safe.counts.other, 0);
  EXPECT_GT(safe.counts.ok, 78) << "fewer connects than ports prove nothing about reuse";
}

// tcp_tw_reuse=2 (the default) reuses loopback TIME_WAIT ports after tcp_tw_reuse_delay (1 s in
// a new namespace): 100 ports allow 100/s.
TEST_F(PlanPrediction, LoopbackTimeWaitReuseMovesTheLimitAsThePlanSays) {
  Outcome fast = RunScenario({.tw_reuse = "2", .rate = 500, .seconds = 2});  // 5x the limit
  if (fast.skipped) {
    GTEST_SKIP() << fast.error;
  }
  ASSERT_EQ(fast.error, "");
  EXPECT_EQ(fast.breaks_first, "ephemeral_ports");
  EXPECT_EQ(fast.port_status, "breaks");
  EXPECT_EQ(fast.port_need, 501);  // 1 open + 500/s * 1 s reuse delay
  EXPECT_EQ(fast.port_have, 100);
  EXPECT_GT(fast.counts.addr_not_avail, 0);

  // 200 connects through 100 ports at 50/s: only works because ports come back after 1 s,
  // which is what the plan counted on (1 + 50/s * 1 s = 51 of 100).
  Outcome safe = RunScenario({.tw_reuse = "2", .rate = 50, .seconds = 4});
  ASSERT_EQ(safe.error, "");
  EXPECT_EQ(safe.port_status, "ok");
  EXPECT_EQ(safe.breaks_first, "-");
  EXPECT_EQ(safe.port_need, 51);
  EXPECT_EQ(safe.port_have, 100);
  EXPECT_EQ(safe.counts.addr_not_avail, 0);
  // More connections than ports went through, so ports were reused.
  EXPECT_GT(safe.counts.ok, 150);
}

// connect() takes the ports of the range's low parity first, and the other half only once every
// port of the first is taken: with reuse after 1 s, 100 ports give 50/s at once and 100/s in
// all. The plan says so, and the TIME_WAIT sockets the churn leaves show which ports it took.
TEST_F(PlanPrediction, ConnectTakesTheOtherHalfOfTheRangeOnlyPastTheScanFreeRate) {
  // 35/s: each port of the first half comes round every 50 / 35 = 1.4 s, past the 1 s delay.
  Outcome below = RunScenario({.tw_reuse = "2", .rate = 35, .seconds = 3});
  if (below.skipped) {
    GTEST_SKIP() << below.error;
  }
  ASSERT_EQ(below.error, "");
  EXPECT_EQ(below.scan_free_rate, 50);  // 50 ports / 1 s
  EXPECT_EQ(below.counts.addr_not_avail, 0);
  EXPECT_EQ(below.counts.other, 0);
  EXPECT_GT(below.counts.ok, 50) << "fewer connects than half the ports prove nothing";
  EXPECT_GT(below.time_wait_low_parity, 0);
  EXPECT_EQ(below.time_wait_other_parity, 0)
      << below.time_wait_low_parity << " ports of the low end's parity in TIME_WAIT";

  // 80/s: the first half comes round every 0.6 s, before its TIME_WAITs may be reused, so
  // connect() also takes ports of the other half; still within the 100 ports, so no error.
  Outcome above = RunScenario({.tw_reuse = "2", .rate = 80, .seconds = 3});
  ASSERT_EQ(above.error, "");
  EXPECT_EQ(above.counts.addr_not_avail, 0);
  EXPECT_EQ(above.counts.other, 0);
  EXPECT_GT(above.time_wait_low_parity, 0);
  EXPECT_GT(above.time_wait_other_parity, 0)
      << above.time_wait_low_parity << " ports of the low end's parity in TIME_WAIT";
}

// conntrack keeps one entry per address and port pair: 400 connects through 100 ports leave 100
// entries, not the 9,600 that 80/s for conntrack's 120 s TIME_WAIT would hold, and the plan
// counts them so.
TEST_F(PlanPrediction, ConntrackHoldsOneEntryPerPortAsThePlanCounts) {
  Outcome tracked = RunScenario({.tw_reuse = "2", .rate = 80, .seconds = 5, .track = true});
  if (tracked.skipped) {
    GTEST_SKIP() << tracked.error;
  }
  ASSERT_EQ(tracked.error, "");
  EXPECT_EQ(tracked.counts.addr_not_avail, 0);
  EXPECT_GT(tracked.counts.ok, 300) << "the ports must have been reused to show anything";
  EXPECT_EQ(tracked.conntrack_need, 100);  // min(1 open + 80/s * 120 s, 100 ports) + 0 now
  EXPECT_LE(tracked.conntrack_count, tracked.conntrack_need);
  EXPECT_GE(tracked.conntrack_count, 90) << "the churn should have used nearly every port";
}

}  // namespace
}  // namespace socklab

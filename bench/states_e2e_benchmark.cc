// End to end with 10,000 real sockets open (5,000 connected pairs on loopback): the cost of one
// sample through /proc, through netlink and through `ss -tan`, the split between the kernel
// generating /proc's text and our parsing it, and `socklab states` against `ss | awk` for the
// same tally. Ratios are measured in the same run and printed at the end.
//   build/bench/states_e2e_benchmark [--pairs=5000] [--benchmark_repetitions=3]
#include <stdio.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "bench/machine_context.h"
#include "benchmark/benchmark.h"
#include "core/base/unique_fd.h"
#include "core/net/socket.h"
#include "core/sysinfo/proc_fs.h"
#include "core/tcpstat/netlink_reader.h"
#include "core/tcpstat/proc_parser.h"
#include "core/tcpstat/proc_text.h"
#include "core/tcpstat/reader.h"

namespace {

using socklab::tcpstat::Filter;
using socklab::tcpstat::ReadOptions;
using socklab::tcpstat::Source;
using socklab::tcpstat::StateTally;
using socklab::tcpstat::TcpSocket;

uint16_t g_port = 0;
std::string g_socklab;  // path of the socklab binary, empty when not built

// Runs a shell pipeline and reads all of its output; the output's size.
size_t RunPipeline(const std::string& command) {
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) {
    return 0;
  }
  char buffer[65536];
  size_t total = 0;
  size_t n = 0;
  while ((n = fread(buffer, 1, sizeof(buffer), pipe)) > 0) {
    total += n;
  }
  pclose(pipe);
  return total;
}

// The kernel's own text generation: the two files read with read(2), nothing parsed.
void BM_Proc_ReadOnly(benchmark::State& state) {
  size_t bytes = 0;
  for (auto _ : state) {
    bytes = socklab::tcpstat::ReadProcText("/proc/thread-self/net/tcp")->size();
    bytes += socklab::tcpstat::ReadProcText("/proc/thread-self/net/tcp6")->size();
  }
  state.counters["bytes"] = static_cast<double>(bytes);
}

// The same through ProcFs::ReadFile (ifstream), the project's general file reader.
void BM_Proc_ReadProcFs(benchmark::State& state) {
  socklab::ProcFs proc;
  for (auto _ : state) {
    benchmark::DoNotOptimize(proc.ReadFile("proc/thread-self/net/tcp")->size() +
                             proc.ReadFile("proc/thread-self/net/tcp6")->size());
  }
}

// A /proc sample without the netlink query for the listeners' backlog.
void BM_Sample_ProcNoBacklog(benchmark::State& state) {
  for (auto _ : state) {
    auto snapshot = socklab::tcpstat::ReadTcpSnapshot(
        {.port = g_port}, {.listen_backlog = false, .keep_sockets = false});
    benchmark::DoNotOptimize(snapshot->tally.total);
  }
}

// Our parse + filter + tally of the same text, already in memory.
void BM_Proc_ParseOnly(benchmark::State& state) {
  std::string v4(*socklab::tcpstat::ReadProcText("/proc/thread-self/net/tcp"));
  std::string v6(*socklab::tcpstat::ReadProcText("/proc/thread-self/net/tcp6"));
  Filter filter{.port = g_port};
  for (auto _ : state) {
    StateTally tally;
    auto add = [&](const TcpSocket& socket) {
      if (filter.Matches(socket)) {
        tally.Add(socket);
      }
    };
    socklab::tcpstat::ParseProcNetTcp(v4, add);
    socklab::tcpstat::ParseProcNetTcp(v6, add);
    benchmark::DoNotOptimize(tally);
  }
}

// One `socklab states --port P` sample, as the command takes it.
void BM_Sample_Proc(benchmark::State& state) {
  size_t matched = 0;
  for (auto _ : state) {
    auto snapshot = socklab::tcpstat::ReadTcpSnapshot({.port = g_port}, {.keep_sockets = false});
    matched = snapshot->tally.total;
  }
  state.counters["sockets"] = static_cast<double>(matched);
}

void BM_Sample_Netlink(benchmark::State& state) {
  size_t matched = 0;
  for (auto _ : state) {
    auto snapshot = socklab::tcpstat::ReadTcpSnapshot(
        {.port = g_port}, {.source = Source::kNetlink, .keep_sockets = false});
    matched = snapshot->tally.total;
  }
  state.counters["sockets"] = static_cast<double>(matched);
}

// The second trip of a /proc sample with a listener: the LISTEN-only netlink query for the
// backlog (reader.cc AddListenBacklogs). inet_diag walks only the listening hash for it.
void BM_Netlink_ListenOnly(benchmark::State& state) {
  size_t listeners = 0;
  for (auto _ : state) {
    listeners = 0;
    (void)socklab::tcpstat::DumpTcpSocketsNetlink(
        {.family = AF_INET,
         .states = socklab::tcpstat::TcpStateSet::Of({socklab::tcpstat::TcpState::kListen}),
         .port = g_port},
        [&](const TcpSocket&) { ++listeners; });
  }
  state.counters["sockets"] = static_cast<double>(listeners);
}

// `ss -tan`: netlink plus its own formatting, in a child process.
void BM_Ss_Tan(benchmark::State& state) {
  for (auto _ : state) {
    benchmark::DoNotOptimize(RunPipeline("ss -tan"));
  }
}

// The shell way to the same tally: ss with a port filter (applied in the kernel) into awk.
void BM_Ss_TanAwkTally(benchmark::State& state) {
  std::string command = absl::StrFormat(
      "ss -tan '( sport = :%d or dport = :%d )' | awk 'NR > 1 { n[$1]++ } END { for (s in n) "
      "print s, n[s] }'",
      g_port, g_port);
  for (auto _ : state) {
    benchmark::DoNotOptimize(RunPipeline(command));
  }
}

// The socklab binary for the same tally (process start included, as for ss | awk).
void BM_Socklab_StatesBinary(benchmark::State& state) {
  std::string command = absl::StrCat(g_socklab, " states --port ", g_port);
  for (auto _ : state) {
    benchmark::DoNotOptimize(RunPipeline(command));
  }
}

// Collects each benchmark's wall time per iteration for the ratio table.
class RatioReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const Run& run : runs) {
      if (run.run_type == Run::RT_Iteration && run.iterations > 0) {
        // The fastest repetition (--benchmark_repetitions=N): on a shared machine noise only
        // ever adds time.
        double ms = run.GetAdjustedRealTime();  // in the run's unit (ms)
        auto [it, inserted] = ms_.emplace(run.benchmark_name(), ms);
        if (!inserted && ms < it->second) {
          it->second = ms;
        }
      }
    }
    ConsoleReporter::ReportRuns(runs);
  }
  double Ms(const std::string& name) const {
    auto it = ms_.find(name);
    return it == ms_.end() ? 0 : it->second;
  }

 private:
  std::map<std::string, double> ms_;
};

struct Pair {
  socklab::UniqueFd client;
  socklab::UniqueFd server;
};

}  // namespace

int main(int argc, char** argv) {
  int pairs = 5000;
  for (int i = 1; i < argc; ++i) {
    if (std::string(argv[i]).rfind("--pairs=", 0) == 0) {
      pairs = std::atoi(argv[i] + 8);
    }
  }
  // 10,000 sockets need more than the usual 1024 descriptors: raise the soft limit to the hard.
  rlimit limit{};
  getrlimit(RLIMIT_NOFILE, &limit);
  limit.rlim_cur = limit.rlim_max;
  setrlimit(RLIMIT_NOFILE, &limit);
  if (limit.rlim_cur < static_cast<rlim_t>(2 * pairs + 100)) {
    std::fprintf(stderr, "need %d descriptors, the hard limit is %ju\n", 2 * pairs + 100,
                 static_cast<uintmax_t>(limit.rlim_cur));
    return 1;
  }
  auto listener = socklab::ListenTcp({.address = socklab::SocketAddress::Loopback(AF_INET, 0),
                                      .backlog = 4096,
                                      .blocking = socklab::Blocking::kBlocking});
  if (!listener.ok()) {
    std::fprintf(stderr, "%s\n", std::string(listener.status().message()).c_str());
    return 1;
  }
  g_port = socklab::LocalAddressOf(listener->get())->port();
  std::vector<Pair> open;
  open.reserve(static_cast<size_t>(pairs));
  for (int i = 0; i < pairs; ++i) {
    auto client = socklab::ConnectTcp(socklab::SocketAddress::Loopback(AF_INET, g_port));
    if (!client.ok()) {
      std::fprintf(stderr, "pair %d: %s\n", i, std::string(client.status().message()).c_str());
      return 1;
    }
    socklab::UniqueFd server(accept4(listener->get(), nullptr, nullptr, SOCK_CLOEXEC));
    // RST on close: no 10,000 TIME_WAIT sockets left behind for the next minute.
    (void)socklab::SetLinger(client->get(), {.mode = socklab::Linger::Mode::kReset});
    (void)socklab::SetLinger(server.get(), {.mode = socklab::Linger::Mode::kReset});
    open.push_back({*std::move(client), std::move(server)});
  }

  char self[4096] = {};
  ssize_t len = readlink("/proc/self/exe", self, sizeof(self) - 1);
  std::string dir = len > 0 ? std::string(self, static_cast<size_t>(len)) : "";
  dir = dir.substr(0, dir.rfind('/'));
  const char* bin_dir = std::getenv("SOCKLAB_BIN_DIR");
  g_socklab = absl::StrCat(bin_dir != nullptr ? bin_dir : dir + "/../bin", "/socklab");
  bool have_binary = access(g_socklab.c_str(), X_OK) == 0;
  bool have_ss = RunPipeline("ss -V 2>/dev/null") > 0;

  socklab::bench::RecordMachineContext();
  benchmark::AddCustomContext("sockets_open", std::to_string(2 * pairs + 1));
  benchmark::RegisterBenchmark("BM_Proc_ReadOnly", BM_Proc_ReadOnly)
      ->Unit(benchmark::kMillisecond)
      ->UseRealTime();
  benchmark::RegisterBenchmark("BM_Proc_ReadProcFs", BM_Proc_ReadProcFs)
      ->Unit(benchmark::kMillisecond)
      ->UseRealTime();
  benchmark::RegisterBenchmark("BM_Sample_ProcNoBacklog", BM_Sample_ProcNoBacklog)
      ->Unit(benchmark::kMillisecond)
      ->UseRealTime();
  benchmark::RegisterBenchmark("BM_Proc_ParseOnly", BM_Proc_ParseOnly)
      ->Unit(benchmark::kMillisecond)
      ->UseRealTime();
  benchmark::RegisterBenchmark("BM_Sample_Proc", BM_Sample_Proc)
      ->Unit(benchmark::kMillisecond)
      ->UseRealTime();
  benchmark::RegisterBenchmark("BM_Sample_Netlink", BM_Sample_Netlink)
      ->Unit(benchmark::kMillisecond)
      ->UseRealTime();
  benchmark::RegisterBenchmark("BM_Netlink_ListenOnly", BM_Netlink_ListenOnly)
      ->Unit(benchmark::kMillisecond)
      ->UseRealTime();
  if (have_ss) {
    benchmark::RegisterBenchmark("BM_Ss_Tan", BM_Ss_Tan)
        ->Unit(benchmark::kMillisecond)
        ->UseRealTime();
    benchmark::RegisterBenchmark("BM_Ss_TanAwkTally", BM_Ss_TanAwkTally)
        ->Unit(benchmark::kMillisecond)
        ->UseRealTime();
  }
  if (have_binary) {
    benchmark::RegisterBenchmark("BM_Socklab_StatesBinary", BM_Socklab_StatesBinary)
        ->Unit(benchmark::kMillisecond)
        ->UseRealTime();
  }
  benchmark::Initialize(&argc, argv);
  RatioReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();

  auto ratio = [&](const char* what, const std::string& a, const std::string& b) {
    double x = reporter.Ms(a);
    double y = reporter.Ms(b);
    if (x > 0 && y > 0) {
      std::printf("  %-58s %6.2fx  (%.2f ms / %.2f ms)\n", what, x / y, x, y);
    }
  };
  std::printf("\nratios, %d sockets open, same run:\n", 2 * pairs + 1);
  ratio("parse / kernel text generation (target <= 0.2)", "BM_Proc_ParseOnly/real_time",
        "BM_Proc_ReadOnly/real_time");
  ratio("/proc sample / kernel text generation (target <= 1.2)", "BM_Sample_Proc/real_time",
        "BM_Proc_ReadOnly/real_time");
  ratio("ProcFs::ReadFile (ifstream) / read(2)", "BM_Proc_ReadProcFs/real_time",
        "BM_Proc_ReadOnly/real_time");
  ratio("/proc sample without netlink backlog / kernel text", "BM_Sample_ProcNoBacklog/real_time",
        "BM_Proc_ReadOnly/real_time");
  ratio("netlink sample / /proc sample", "BM_Sample_Netlink/real_time", "BM_Sample_Proc/real_time");
  ratio("netlink sample / its LISTEN-only backlog query", "BM_Sample_Netlink/real_time",
        "BM_Netlink_ListenOnly/real_time");
  ratio("ss -tan / /proc sample", "BM_Ss_Tan/real_time", "BM_Sample_Proc/real_time");
  ratio("ss -tan / netlink sample", "BM_Ss_Tan/real_time", "BM_Sample_Netlink/real_time");
  ratio("socklab states (process) / ss -tan | awk (target < 1)",
        "BM_Socklab_StatesBinary/real_time", "BM_Ss_TanAwkTally/real_time");
  ratio("in-process /proc sample / ss -tan | awk", "BM_Sample_Proc/real_time",
        "BM_Ss_TanAwkTally/real_time");
  if (!have_binary) {
    std::printf("  (no %s: build the socklab target for the process comparison)\n",
                g_socklab.c_str());
  }
  return 0;
}

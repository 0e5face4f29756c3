// Server memory per connection: socklab-server runs as a child process (RLIMIT_NOFILE is per
// process, and 10,000 client sockets live here) and its VmRSS growth divided by the connections
// is reported for each backend, with the io_uring/epoll ratio from the same run:
// - idle connections (N, after one echo each);
// - slow readers: peers that send as fast as the server takes bytes and never read the echo, for
//   a few seconds, with the default --max-pending and a small one. Backpressure should hold each
//   at about --max-pending plus a receive buffer; the peak, the end and what is left after the
//   peers reset their connections are reported.
//
//   build/bench/server_memory_benchmark [--connections=10000] [--slow-readers=100]
//       [--slow-seconds=10]
// SOCKLAB_BIN_DIR picks the socklab-server to measure (default: the one built with this file).

#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "bench/machine_context.h"
#include "benchmark/benchmark.h"
#include "core/base/unique_fd.h"
#include "core/loop/event_loop.h"
#include "core/net/address.h"
#include "core/net/socket.h"
#include "tests/testing/proc_status.h"

namespace socklab {
namespace {

int g_connections = 10000;
int g_slow_readers = 100;
int g_slow_seconds = 10;

std::string ServerBinary() {
  if (const char* dir = std::getenv("SOCKLAB_BIN_DIR")) {
    return std::string(dir) + "/socklab-server";
  }
  char exe[4096];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
  std::string path(exe, n > 0 ? static_cast<size_t>(n) : 0);
  return path.substr(0, path.rfind('/')) + "/../bin/socklab-server";
}

using testing::VmRssKiB;

struct Child {
  pid_t pid = -1;
  SocketAddress address;
};

// socklab-server --listen 127.0.0.1:0 --backend BACKEND --threads THREADS [extra...]
Child SpawnServer(const std::string& backend, const std::string& threads = "2",
                  const std::vector<std::string>& extra = {}) {
  int out[2];
  if (pipe(out) != 0) {
    return {};
  }
  std::string bin = ServerBinary();
  std::vector<std::string> args = {bin,     "--listen",  "127.0.0.1:0", "--backend",
                                   backend, "--threads", threads};
  args.insert(args.end(), extra.begin(), extra.end());
  std::vector<char*> argv;
  for (std::string& arg : args) {
    argv.push_back(arg.data());
  }
  argv.push_back(nullptr);
  pid_t pid = fork();
  if (pid == 0) {
    dup2(out[1], 1);
    int devnull = open("/dev/null", O_WRONLY);
    dup2(devnull, 2);
    execv(bin.c_str(), argv.data());
    _exit(127);
  }
  close(out[1]);
  std::string text;
  char buf[256];
  ssize_t n;
  while (text.find('\n') == std::string::npos && (n = read(out[0], buf, sizeof(buf))) > 0) {
    text.append(buf, static_cast<size_t>(n));
  }
  close(out[0]);
  Child child{pid, {}};
  // "listening 127.0.0.1:PORT backend=... threads=N"
  size_t sp = text.find(' ');
  size_t sp2 = text.find(' ', sp + 1);
  if (sp != std::string::npos && sp2 != std::string::npos) {
    absl::StatusOr<SocketAddress> a = SocketAddress::Parse(text.substr(sp + 1, sp2 - sp - 1));
    if (a.ok()) {
      child.address = *a;
    }
  }
  return child;
}

void StopServer(pid_t pid) {
  kill(pid, SIGTERM);
  waitpid(pid, nullptr, 0);
}

// One echo round trip, so the connection is accepted and has been through a receive and a send
// (buffers taken and released): the idle state of a connection that has been used.
bool Touch(int fd, size_t size = 1) {
  std::string message(size, 'x');
  if (send(fd, message.data(), size, MSG_NOSIGNAL) != static_cast<ssize_t>(size)) {
    return false;
  }
  // MSG_WAITALL alone can come back short (seen 32 bytes short of 16 KiB on 6.18).
  for (size_t got = 0; got < size;) {
    ssize_t n = recv(fd, message.data() + got, size - got, MSG_WAITALL);
    if (n <= 0) {
      return false;
    }
    got += static_cast<size_t>(n);
  }
  return true;
}

// Warm-up connections (kept open in `clients`) make the loops touch their fixed structures
// before a baseline. Every receive takes the next buffer of the loop's shared pool (the io_uring
// provided-buffer ring cycles through all of them), so the pool's pages get touched by traffic,
// not by connections: cycle through it before the baseline so it is not counted per connection.
// With `message` bytes per echo: 1 touches a page of each buffer, as idle connections do; 16 KiB
// (the default receive buffer) all of them, as bulk traffic does.
bool WarmUp(const Child& server, std::vector<UniqueFd>& clients, benchmark::State& state,
            size_t message = 1) {
  for (int i = 0; i < 64; ++i) {
    absl::StatusOr<UniqueFd> fd = ConnectTcp(server.address);
    if (!fd.ok() || !Touch(fd->get())) {
      state.SkipWithError("warm-up connect failed");
      return false;
    }
    clients.push_back(std::move(*fd));
  }
  for (int i = 0; i < 8192; ++i) {
    if (!Touch(clients[i % clients.size()].get(), message)) {
      state.SkipWithError("warm-up echo failed");
      return false;
    }
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  return true;
}

// Server RSS growth per connection in bytes, or a negative value on failure.
double MeasureBytesPerConnection(const std::string& backend, benchmark::State& state) {
  Child server = SpawnServer(backend);
  if (server.pid <= 0 || server.address.port() == 0) {
    state.SkipWithError("socklab-server did not start");
    return -1;
  }
  std::vector<UniqueFd> clients;
  if (!WarmUp(server, clients, state)) {
    StopServer(server.pid);
    return -1;
  }
  int64_t before = VmRssKiB(server.pid);
  for (int i = 0; i < g_connections; ++i) {
    absl::StatusOr<UniqueFd> fd = ConnectTcp(server.address);
    if (!fd.ok() || !Touch(fd->get())) {
      state.SkipWithError(("connect " + std::to_string(i) + " failed").c_str());
      StopServer(server.pid);
      return -1;
    }
    clients.push_back(std::move(*fd));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  int64_t after = VmRssKiB(server.pid);
  // RST on close: 10,000 TIME_WAIT sockets per run would eat the ephemeral port range.
  for (UniqueFd& fd : clients) {
    (void)SetLinger(fd.get(), Linger{Linger::Mode::kReset, 0});
  }
  clients.clear();
  StopServer(server.pid);
  return (after - before) * 1024.0 / g_connections;
}

void BM_ServerMemory_IdleConnections(benchmark::State& state) {
  std::map<std::string, double> per_conn;
  for (auto _ : state) {
    for (const char* backend : {"epoll", "io_uring"}) {
      if (std::string(backend) == "io_uring" &&
          !loop::SelectBackend(loop::BackendChoice::kIoUring).ok()) {
        continue;
      }
      per_conn[backend] = MeasureBytesPerConnection(backend, state);
    }
  }
  state.counters["connections"] = g_connections;
  for (const auto& [backend, bytes] : per_conn) {
    state.counters[backend + "_bytes_per_conn"] = bytes;
    std::fprintf(stderr, "%-9s server RSS growth per idle connection: %.0f B\n", backend.c_str(),
                 bytes);
  }
  if (per_conn.count("epoll") && per_conn.count("io_uring") && per_conn["epoll"] > 0) {
    state.counters["io_uring_over_epoll"] = per_conn["io_uring"] / per_conn["epoll"];
    std::fprintf(stderr, "io_uring / epoll: %.2f\n", per_conn["io_uring"] / per_conn["epoll"]);
  }
}
BENCHMARK(BM_ServerMemory_IdleConnections)->Iterations(1)->Unit(benchmark::kMillisecond);

struct SlowReaderMemory {
  double peak_per_conn = -1;   // the largest growth seen while the peers pushed, per peer
  double end_per_conn = -1;    // the growth when they stopped, per peer
  double left_kib = -1;        // the growth still there 1 s after every peer reset
  double pushed_per_conn = 0;  // bytes the kernel took from each peer, on average
};

// `g_slow_readers` peers push 64 KiB writes (nonblocking, as fast as the server's side of the
// connection takes them) for `g_slow_seconds` and never read; one loop thread.
SlowReaderMemory MeasureSlowReaders(const std::string& backend, const std::string& max_pending,
                                    benchmark::State& state) {
  SlowReaderMemory result;
  Child server = SpawnServer(backend, "1", {"--max-pending", max_pending});
  if (server.pid <= 0 || server.address.port() == 0) {
    state.SkipWithError("socklab-server did not start");
    return result;
  }
  std::vector<UniqueFd> clients;
  if (!WarmUp(server, clients, state, 16 * 1024)) {
    StopServer(server.pid);
    return result;
  }
  int64_t before = VmRssKiB(server.pid);
  std::vector<UniqueFd> peers;
  for (int i = 0; i < g_slow_readers; ++i) {
    absl::StatusOr<UniqueFd> fd = ConnectTcp(server.address);
    if (!fd.ok() || !SetNonBlocking(fd->get(), true).ok()) {
      state.SkipWithError("slow reader connect failed");
      StopServer(server.pid);
      return result;
    }
    peers.push_back(std::move(*fd));
  }
  const std::string block(64 * 1024, 'p');
  uint64_t pushed = 0;
  int64_t peak = before;
  auto start = std::chrono::steady_clock::now();
  auto next_sample = start;
  while (std::chrono::steady_clock::now() - start < std::chrono::seconds(g_slow_seconds)) {
    bool progress = false;
    for (UniqueFd& peer : peers) {
      ssize_t n = send(peer.get(), block.data(), block.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n > 0) {
        pushed += static_cast<uint64_t>(n);
        progress = true;
      }
    }
    if (!progress) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    if (std::chrono::steady_clock::now() >= next_sample) {
      peak = std::max(peak, VmRssKiB(server.pid));
      next_sample += std::chrono::milliseconds(100);
    }
  }
  int64_t end = VmRssKiB(server.pid);
  peak = std::max(peak, end);
  for (UniqueFd& peer : peers) {
    (void)SetLinger(peer.get(), Linger{Linger::Mode::kReset, 0});
  }
  peers.clear();
  std::this_thread::sleep_for(std::chrono::seconds(1));
  int64_t left = VmRssKiB(server.pid);
  StopServer(server.pid);
  result.peak_per_conn = (peak - before) * 1024.0 / g_slow_readers;
  result.end_per_conn = (end - before) * 1024.0 / g_slow_readers;
  result.left_kib = static_cast<double>(left - before);
  result.pushed_per_conn = static_cast<double>(pushed) / g_slow_readers;
  return result;
}

void BM_ServerMemory_SlowReaders(benchmark::State& state) {
  const std::string max_pending = state.range(0) == 16 ? "16k" : "256k";
  std::map<std::string, SlowReaderMemory> by_backend;
  for (auto _ : state) {
    for (const char* backend : {"epoll", "io_uring"}) {
      if (std::string(backend) == "io_uring" &&
          !loop::SelectBackend(loop::BackendChoice::kIoUring).ok()) {
        continue;
      }
      by_backend[backend] = MeasureSlowReaders(backend, max_pending, state);
    }
  }
  state.counters["peers"] = g_slow_readers;
  state.counters["seconds"] = g_slow_seconds;
  for (const auto& [backend, m] : by_backend) {
    state.counters[backend + "_peak_bytes_per_conn"] = m.peak_per_conn;
    state.counters[backend + "_end_bytes_per_conn"] = m.end_per_conn;
    state.counters[backend + "_left_kib"] = m.left_kib;
    std::fprintf(stderr,
                 "%-9s --max-pending %s, %d peers that never read, %d s: server RSS growth "
                 "per connection peak %.0f B, at the end %.0f B; %.0f KiB left after they "
                 "reset; %.0f B pushed per peer\n",
                 backend.c_str(), max_pending.c_str(), g_slow_readers, g_slow_seconds,
                 m.peak_per_conn, m.end_per_conn, m.left_kib, m.pushed_per_conn);
  }
  if (by_backend.count("epoll") && by_backend.count("io_uring") &&
      by_backend["epoll"].peak_per_conn > 0) {
    double ratio = by_backend["io_uring"].peak_per_conn / by_backend["epoll"].peak_per_conn;
    state.counters["io_uring_over_epoll_peak"] = ratio;
    std::fprintf(stderr, "io_uring / epoll (peak): %.2f\n", ratio);
  }
}
// The argument is --max-pending in KiB: the default and a small cap.
BENCHMARK(BM_ServerMemory_SlowReaders)
    ->Arg(256)
    ->Arg(16)
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace socklab

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], "--connections=", 14) == 0) {
      socklab::g_connections = std::atoi(argv[i] + 14);
    } else if (std::strncmp(argv[i], "--slow-readers=", 15) == 0) {
      socklab::g_slow_readers = std::atoi(argv[i] + 15);
    } else if (std::strncmp(argv[i], "--slow-seconds=", 15) == 0) {
      socklab::g_slow_seconds = std::atoi(argv[i] + 15);
    }
  }
  // 10,000 client sockets here, and the child inherits the raised limit for its 10,000.
  rlimit rl;
  getrlimit(RLIMIT_NOFILE, &rl);
  rl.rlim_cur = rl.rlim_max;
  setrlimit(RLIMIT_NOFILE, &rl);
  signal(SIGPIPE, SIG_IGN);
  benchmark::Initialize(&argc, argv);
  // The benchmark measures each backend in turn: the context names the ones this machine runs.
  socklab::bench::RecordMachineContext();
  benchmark::AddCustomContext("connections", std::to_string(socklab::g_connections));
  benchmark::AddCustomContext("slow_readers", std::to_string(socklab::g_slow_readers));
  benchmark::AddCustomContext("slow_seconds", std::to_string(socklab::g_slow_seconds));
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}

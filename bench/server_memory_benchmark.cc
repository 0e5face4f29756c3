// Server memory per idle connection: socklab-server runs as a child process (RLIMIT_NOFILE is
// per process, and 10,000 client sockets live here), holds N idle connections, and its VmRSS
// growth divided by N is reported for each backend, with the io_uring/epoll ratio from the same
// run.
//
//   build/bench/server_memory_benchmark [--connections=10000]

#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "benchmark/benchmark.h"
#include "core/base/unique_fd.h"
#include "core/loop/event_loop.h"
#include "core/net/address.h"
#include "core/net/socket.h"

namespace socklab {
namespace {

int g_connections = 10000;

std::string ServerBinary() {
  if (const char* dir = std::getenv("SOCKLAB_BIN_DIR")) {
    return std::string(dir) + "/socklab-server";
  }
  char exe[4096];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
  std::string path(exe, n > 0 ? static_cast<size_t>(n) : 0);
  return path.substr(0, path.rfind('/')) + "/../bin/socklab-server";
}

int64_t VmRssKiB(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string key;
  while (in >> key) {
    if (key == "VmRSS:") {
      int64_t kib = -1;
      in >> kib;
      return kib;
    }
    std::getline(in, key);
  }
  return -1;
}

struct Child {
  pid_t pid = -1;
  SocketAddress address;
};

Child SpawnServer(const std::string& backend) {
  int out[2];
  if (pipe(out) != 0) {
    return {};
  }
  std::string bin = ServerBinary();
  pid_t pid = fork();
  if (pid == 0) {
    dup2(out[1], 1);
    int devnull = open("/dev/null", O_WRONLY);
    dup2(devnull, 2);
    execl(bin.c_str(), bin.c_str(), "--listen", "127.0.0.1:0", "--threads", "2", "--backend",
          backend.c_str(), static_cast<char*>(nullptr));
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
bool Touch(int fd) {
  char c = 'x';
  if (send(fd, &c, 1, MSG_NOSIGNAL) != 1) {
    return false;
  }
  return recv(fd, &c, 1, 0) == 1;
}

// Server RSS growth per connection in bytes, or a negative value on failure.
double MeasureBytesPerConnection(const std::string& backend, benchmark::State& state) {
  Child server = SpawnServer(backend);
  if (server.pid <= 0 || server.address.port() == 0) {
    state.SkipWithError("socklab-server did not start");
    return -1;
  }
  // Warm-up connections make the loops touch their fixed structures before the baseline.
  std::vector<UniqueFd> clients;
  for (int i = 0; i < 64; ++i) {
    absl::StatusOr<UniqueFd> fd = ConnectTcp(server.address);
    if (!fd.ok() || !Touch(fd->get())) {
      state.SkipWithError("warm-up connect failed");
      StopServer(server.pid);
      return -1;
    }
    clients.push_back(std::move(*fd));
  }
  // Every receive takes the next buffer of the loop's shared pool (the io_uring provided-buffer
  // ring cycles through all of them), so the pool's pages get touched by traffic, not by
  // connections: cycle through it before the baseline so it is not counted per connection.
  for (int i = 0; i < 8192; ++i) {
    if (!Touch(clients[i % clients.size()].get())) {
      state.SkipWithError("warm-up echo failed");
      StopServer(server.pid);
      return -1;
    }
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
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

}  // namespace
}  // namespace socklab

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], "--connections=", 14) == 0) {
      socklab::g_connections = std::atoi(argv[i] + 14);
    }
  }
  // 10,000 client sockets here, and the child inherits the raised limit for its 10,000.
  rlimit rl;
  getrlimit(RLIMIT_NOFILE, &rl);
  rl.rlim_cur = rl.rlim_max;
  setrlimit(RLIMIT_NOFILE, &rl);
  signal(SIGPIPE, SIG_IGN);
  benchmark::Initialize(&argc, argv);
  utsname u;
  uname(&u);
  benchmark::AddCustomContext("kernel", u.release);
  // The benchmark measures each backend in turn: name the ones this machine runs.
  absl::StatusOr<socklab::loop::BackendSelection> uring =
      socklab::loop::SelectBackend(socklab::loop::BackendChoice::kIoUring);
  benchmark::AddCustomContext(
      "backends",
      uring.ok() ? "epoll,io_uring"
                 : "epoll (io_uring unavailable: " + std::string(uring.status().message()) + ")");
  benchmark::AddCustomContext("connections", std::to_string(socklab::g_connections));
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}

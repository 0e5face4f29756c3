// Round trips of 64-byte messages over loopback between two event loops on two threads (a client
// loop on the benchmark thread, an echo server loop on its own thread), one message in flight
// per connection. Compares the backends, and io_uring with and without DEFER_TASKRUN, in one
// run; the ratios are printed at the end.
//
//   build/bench/loop_pingpong_benchmark --benchmark_repetitions=5
//       --benchmark_report_aggregates_only=true
// The ratios use the median over repetitions: these machines are shared and noisy.

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "bench/machine_context.h"
#include "benchmark/benchmark.h"
#include "core/base/clock.h"
#include "core/base/unique_fd.h"
#include "core/loop/event_loop.h"
#include "core/loop/uring_loop.h"
#include "core/net/socket.h"

namespace socklab::loop {
namespace {

constexpr size_t kMessageSize = 64;

enum class Variant { kEpoll, kIoUring, kIoUringNoDefer };

const char* VariantName(Variant v) {
  switch (v) {
    case Variant::kEpoll:
      return "epoll";
    case Variant::kIoUring:
      return "io_uring";
    case Variant::kIoUringNoDefer:
      return "io_uring_no_defer_taskrun";
  }
  return "?";
}

// Echoes every byte back on each accepted connection.
class EchoServer : public CompletionHandler {
 public:
  static constexpr Token kAccept = ~Token{0};

  void set_loop(EventLoop* loop) { loop_ = loop; }

  void OnCompletion(const Completion& c) override {
    if (c.token == kAccept) {
      if (c.res >= 0) {
        conns_.push_back(std::make_unique<Conn>());
        conns_.back()->fd.Reset(c.res);
        SetNoDelay(c.res, true).IgnoreError();
        loop_->Receive(c.res, conns_.size() - 1);
      }
      return;
    }
    Conn& conn = *conns_[c.token];
    if (c.op == Op::kReceive && c.res > 0) {
      bool idle = conn.out.empty();
      conn.out.append(reinterpret_cast<const char*>(c.data), c.res);
      if (idle) {
        loop_->Send(conn.fd.get(), conn.out.data(), conn.out.size(), c.token);
      }
    } else if (c.op == Op::kSend && c.res > 0) {
      conn.out.erase(0, c.res);
      if (!conn.out.empty()) {
        loop_->Send(conn.fd.get(), conn.out.data(), conn.out.size(), c.token);
      }
    }
  }

 private:
  struct Conn {
    UniqueFd fd;
    std::string out;
  };
  EventLoop* loop_ = nullptr;
  std::vector<std::unique_ptr<Conn>> conns_;
};

// Keeps one 64-byte message in flight per connection and counts completed round trips.
class PingClient : public CompletionHandler {
 public:
  void set_loop(EventLoop* loop) { loop_ = loop; }

  void Start(int connections, const SocketAddress& address) {
    conns_.resize(connections);
    for (int i = 0; i < connections; ++i) {
      auto fd = CreateTcpSocket(AF_INET, Blocking::kNonBlocking);
      if (!fd.ok()) {
        ++errors;
        return;
      }
      conns_[i].fd = std::move(*fd);
      SetNoDelay(conns_[i].fd.get(), true).IgnoreError();
      loop_->Connect(conns_[i].fd.get(), address, i);
    }
  }

  void OnCompletion(const Completion& c) override {
    Conn& conn = conns_[c.token];
    if (c.res < 0 || (c.op == Op::kReceive && c.res == 0)) {
      ++errors;
      return;
    }
    if (c.op == Op::kConnect) {
      ++connected;
      loop_->Receive(conn.fd.get(), c.token);
      loop_->Send(conn.fd.get(), message_, kMessageSize, c.token);
    } else if (c.op == Op::kReceive) {
      conn.received += c.res;
      if (conn.received >= kMessageSize) {
        conn.received -= kMessageSize;
        ++round_trips;
        loop_->Send(conn.fd.get(), message_, kMessageSize, c.token);
      }
    }
  }

  int64_t round_trips = 0;
  int connected = 0;
  int errors = 0;

 private:
  struct Conn {
    UniqueFd fd;
    size_t received = 0;
  };
  EventLoop* loop_ = nullptr;
  std::vector<Conn> conns_;
  char message_[kMessageSize] = {};
};

// msgs/s of every finished run, by "variant/connections".
std::map<std::string, std::vector<double>>& Rates() {
  static std::map<std::string, std::vector<double>> rates;
  return rates;
}

// The median over --benchmark_repetitions (the framework's sizing runs are short and few).
double MedianRate(const std::string& key) {
  std::vector<double> v = Rates()[key];
  if (v.empty()) {
    return 0;
  }
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

void BM_LoopPingPong(benchmark::State& state, Variant variant) {
  const int connections = static_cast<int>(state.range(0));
  Backend backend = variant == Variant::kEpoll ? Backend::kEpoll : Backend::kIoUring;
  if (backend == Backend::kIoUring && !SelectBackend(BackendChoice::kIoUring).ok()) {
    state.SkipWithError("io_uring unavailable");
    return;
  }
  LoopOptions options;
  options.io_uring_defer_taskrun = variant != Variant::kIoUringNoDefer;

  ListenOptions listen_options;
  listen_options.address = SocketAddress::Loopback(AF_INET, 0);
  listen_options.backlog = 1024;
  auto listener = ListenTcp(listen_options);
  if (!listener.ok()) {
    state.SkipWithError(listener.status().ToString().c_str());
    return;
  }
  SocketAddress address = *LocalAddressOf(listener->get());

  EchoServer server;
  auto server_loop = EventLoop::Create(backend, &server, options);
  PingClient client;
  auto client_loop = EventLoop::Create(backend, &client, options);
  if (!server_loop.ok() || !client_loop.ok()) {
    state.SkipWithError("loop creation failed");
    return;
  }
  server.set_loop(server_loop->get());
  client.set_loop(client_loop->get());
  (*server_loop)->Accept(listener->get(), EchoServer::kAccept);
  std::thread server_thread([&] { (*server_loop)->Run().IgnoreError(); });

  client.Start(connections, address);
  while (client.connected < connections && client.errors == 0) {
    (*client_loop)->RunOnce(10'000'000).IgnoreError();
  }
  // Warm up: every connection completes a few round trips before timing starts.
  int64_t warm = client.round_trips + 8 * connections;
  while (client.round_trips < warm && client.errors == 0) {
    (*client_loop)->RunOnce(10'000'000).IgnoreError();
  }

  int64_t start = client.round_trips;
  int64_t start_ns = MonotonicNanos();
  constexpr int64_t kPerIteration = 1000;
  for (auto _ : state) {
    int64_t target = client.round_trips + kPerIteration;
    while (client.round_trips < target && client.errors == 0) {
      (*client_loop)->RunOnce(10'000'000).IgnoreError();
    }
  }
  int64_t elapsed_ns = MonotonicNanos() - start_ns;
  int64_t done = client.round_trips - start;

  (*server_loop)->RequestStop();
  server_thread.join();
  if (client.errors > 0) {
    state.SkipWithError("connection errors");
    return;
  }
  state.counters["msgs_per_s"] =
      benchmark::Counter(static_cast<double>(done), benchmark::Counter::kIsRate);
  std::string label = VariantName(variant);
  if (backend == Backend::kIoUring) {
    label += " (" + static_cast<UringLoop&>(**client_loop).setup_mode() + ")";
  }
  state.SetLabel(label);
  // Only runs long enough to be reported count (the framework first sizes the iteration count
  // with short runs).
  if (elapsed_ns > 200'000'000) {
    Rates()[std::string(VariantName(variant)) + "/" + std::to_string(connections)].push_back(
        static_cast<double>(done) * 1e9 / static_cast<double>(elapsed_ns));
  }
}

void BM_LoopPingPong_Epoll(benchmark::State& state) { BM_LoopPingPong(state, Variant::kEpoll); }
void BM_LoopPingPong_IoUring(benchmark::State& state) { BM_LoopPingPong(state, Variant::kIoUring); }
void BM_LoopPingPong_IoUringNoDeferTaskrun(benchmark::State& state) {
  BM_LoopPingPong(state, Variant::kIoUringNoDefer);
}
BENCHMARK(BM_LoopPingPong_Epoll)->Arg(1)->Arg(64)->UseRealTime()->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_LoopPingPong_IoUring)->Arg(1)->Arg(64)->UseRealTime()->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_LoopPingPong_IoUringNoDeferTaskrun)
    ->Arg(1)
    ->Arg(64)
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);

void PrintRatio(const char* what, const std::string& a, const std::string& b) {
  double ra = MedianRate(a);
  double rb = MedianRate(b);
  if (ra <= 0 || rb <= 0) {
    return;
  }
  std::printf("ratio %-44s %.2f  (median %s %.0f msgs/s vs %s %.0f msgs/s)\n", what, ra / rb,
              a.c_str(), ra, b.c_str(), rb);
}

}  // namespace
}  // namespace socklab::loop

int main(int argc, char** argv) {
  using socklab::loop::BackendChoice;
  benchmark::Initialize(&argc, argv);
  socklab::bench::RecordMachineContext();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  for (const char* c : {"1", "64"}) {
    std::string n = c;
    socklab::loop::PrintRatio(("io_uring / epoll, " + n + " conn").c_str(), "io_uring/" + n,
                              "epoll/" + n);
    socklab::loop::PrintRatio(("io_uring defer_taskrun / without, " + n + " conn").c_str(),
                              "io_uring/" + n, "io_uring_no_defer_taskrun/" + n);
  }
  return 0;
}

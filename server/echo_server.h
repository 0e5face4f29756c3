#pragma once

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/base/unique_fd.h"
#include "core/loop/event_loop.h"
#include "core/net/address.h"
#include "server/echo_worker.h"
#include "server/server_options.h"
#include "server/server_stats.h"

namespace socklab::server {

// The RFC 862 echo server: `threads` workers, each an EventLoop on its own thread with its own
// SO_REUSEPORT listener (or one shared listener with reuse_port = false, a dup of it each).
//
// Thread affinity: Start/Wait/destructor from one controlling thread; Shutdown() and Stats()
// from any thread. Owns the workers, their threads and the listeners.
class EchoServer {
 public:
  // Resolves the backend (auto falls back to epoll with a reason), binds the listeners and
  // starts serving, with options validated and resolved once by ValidateAndResolve (nothing is
  // checked or read from /proc again; socklab-server prints the resolution's warnings and its
  // configuration from the same options). Setup failures are ErrnoErrors naming the address and
  // the errno ("bind 127.0.0.1:7007: Address already in use (EADDRINUSE). ...").
  static absl::StatusOr<std::unique_ptr<EchoServer>> Start(const ResolvedOptions& resolved);
  // ValidateAndResolve(options), then the above; for callers with no warnings to print.
  static absl::StatusOr<std::unique_ptr<EchoServer>> Start(const ServerOptions& options);
  // Shuts down (draining up to the drain timeout) and waits.
  ~EchoServer();

  // The bound address, with the real port when the options asked for port 0.
  const SocketAddress& address() const { return address_; }
  loop::Backend backend() const { return backend_; }
  // Why auto did not choose io_uring (empty when it did, or when epoll was asked for).
  const std::string& fallback_reason() const { return fallback_reason_; }
  int threads() const { return static_cast<int>(workers_.size()); }
  // The resolved options it runs with.
  const ServerOptions& options() const { return options_; }

  // Any thread: stop accepting and keep serving every open connection until its peer closes it
  // (the echo of everything received goes out before our FIN) or options().drain_timeout
  // passes, when the rest are closed and counted (StatsSnapshot::drain_cut). Returns at once;
  // Wait() for the end.
  void Shutdown();
  // Waits for every worker to finish (after Shutdown(), or a worker's fatal loop error). The
  // error is the first worker's loop failure, if any.
  absl::Status Wait();
  // Any thread: true once Shutdown() ran or a worker stopped on a loop failure.
  bool stopping() const { return shared_.draining.load(std::memory_order_acquire); }

  // Any thread: the counters summed over the workers.
  StatsSnapshot Stats() const;
  // Any thread: each worker's counters, index = loop (for per-loop metrics).
  std::vector<StatsSnapshot> LoopStats() const;

 private:
  EchoServer() = default;

  ServerOptions options_;
  SocketAddress address_;
  loop::Backend backend_ = loop::Backend::kEpoll;
  std::string fallback_reason_;
  SharedState shared_;
  std::vector<std::unique_ptr<EchoWorker>> workers_;
  std::vector<std::thread> threads_;
  std::vector<absl::Status> results_;
  bool waited_ = false;
};

}  // namespace socklab::server

#include "server/echo_server.h"

#include <errno.h>
#include <fcntl.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "core/base/clock.h"
#include "core/base/status.h"
#include "core/base/status_macros.h"
#include "core/net/socket.h"
#include "server/listener_takeover.h"

namespace socklab::server {
namespace {

// How long a restart waits for a dead predecessor's listener to go: far above the 20 to 50 ms an
// io_uring teardown takes, short enough that a real conflict is still reported promptly.
constexpr absl::Duration kTakeoverPatience = absl::Seconds(2);

// The options every connection gets, set once on the listener: accepted sockets inherit them.
absl::Status SetInheritedOptions(int fd, const ServerOptions& options) {
  if (options.nodelay) {
    SOCKLAB_RETURN_IF_ERROR(SetNoDelay(fd, true));
  }
  if (options.keepalive.has_value()) {
    SOCKLAB_RETURN_IF_ERROR(SetKeepalive(fd, *options.keepalive));
  }
  // --linger SECONDS is the worker's own wait (see StartLinger), not SO_LINGER on the socket.
  if (options.linger.mode == Linger::Mode::kReset) {
    SOCKLAB_RETURN_IF_ERROR(SetLinger(fd, options.linger));
  }
  // Validate() bounded both to 1 GiB.
  if (options.rcvbuf > 0) {
    SOCKLAB_RETURN_IF_ERROR(SetReceiveBuffer(fd, static_cast<int>(options.rcvbuf)));
  }
  if (options.sndbuf > 0) {
    SOCKLAB_RETURN_IF_ERROR(SetSendBuffer(fd, static_cast<int>(options.sndbuf)));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<EchoServer>> EchoServer::Start(const ServerOptions& options) {
  SOCKLAB_ASSIGN_OR_RETURN(ResolvedOptions resolved, ValidateAndResolve(options));
  return Start(resolved);
}

absl::StatusOr<std::unique_ptr<EchoServer>> EchoServer::Start(const ResolvedOptions& resolved) {
  std::unique_ptr<EchoServer> server(new EchoServer());
  server->options_ = resolved.options;
  const ServerOptions& opts = server->options_;

  SOCKLAB_ASSIGN_OR_RETURN(loop::BackendSelection selection, loop::SelectBackend(opts.backend));
  server->backend_ = selection.backend;
  server->fallback_reason_ = selection.fallback_reason;

  ListenOptions listen;
  listen.address = opts.listen;
  listen.backlog = static_cast<int>(opts.backlog);  // Validate() bounded it
  listen.reuse_addr = opts.reuse_addr;
  listen.reuse_port = opts.reuse_port;
  listen.blocking = Blocking::kNonBlocking;
  listen.before_listen = [&opts](int fd) { return SetInheritedOptions(fd, opts); };

  // The first listener resolves port 0; the others (reuseport) bind the same port. The first
  // binds before it sets SO_REUSEPORT: a port in use, even by another socklab-server of this
  // user (whose reuseport group a plain bind would silently join), is EADDRINUSE.
  std::vector<UniqueFd> listeners;
  int count = opts.reuse_port ? opts.threads : 1;
  for (int i = 0; i < count; ++i) {
    listen.exclusive_bind = i == 0;
    // The first bind may meet the listener of a server that died a moment ago (see
    // ListenAfterDeadOwner); the others join the group it created.
    SOCKLAB_ASSIGN_OR_RETURN(
        UniqueFd fd, i == 0 ? ListenAfterDeadOwner(listen, kTakeoverPatience) : ListenTcp(listen));
    if (i == 0) {
      SOCKLAB_ASSIGN_OR_RETURN(server->address_, LocalAddressOf(fd.get()));
      listen.address = server->address_;
    }
    listeners.push_back(std::move(fd));
  }
  // Each worker gets its own dup of its listener (with --no-reuseport, of the one shared
  // listener) and closes it through its own loop when it drains: an io_uring accept holds a
  // reference to the file it accepts on. The originals close when Start returns, so a socket
  // stops listening when the last worker's fd for it is closed, and a worker that failed to
  // start took nothing with it.
  auto listener_for = [&](int i) -> absl::StatusOr<UniqueFd> {
    UniqueFd dup(fcntl(listeners[opts.reuse_port ? i : 0].get(), F_DUPFD_CLOEXEC, 0));
    if (!dup) {
      return ErrnoError(errno, "dup listener");
    }
    return dup;
  };

  for (int i = 0; i < opts.threads; ++i) {
    SOCKLAB_ASSIGN_OR_RETURN(UniqueFd fd, listener_for(i));
    absl::StatusOr<std::unique_ptr<EchoWorker>> worker =
        EchoWorker::Create(server->options_, server->backend_, std::move(fd), &server->shared_);
    if (!worker.ok() && server->backend_ == loop::Backend::kIoUring &&
        opts.backend == loop::BackendChoice::kAuto && i == 0) {
      // The probe passed but the real ring did not (e.g. more entries than RLIMIT_MEMLOCK
      // allows on kernels before 5.12): auto still means "whatever works".
      server->fallback_reason_ =
          absl::StrCat("io_uring loop setup failed: ", worker.status().message());
      server->backend_ = loop::Backend::kEpoll;
      SOCKLAB_ASSIGN_OR_RETURN(UniqueFd again, listener_for(i));
      worker = EchoWorker::Create(server->options_, server->backend_, std::move(again),
                                  &server->shared_);
    }
    if (!worker.ok()) {
      return worker.status();
    }
    server->workers_.push_back(*std::move(worker));
  }
  for (const auto& worker : server->workers_) {
    server->shared_.workers.push_back(worker.get());
  }
  server->results_.resize(server->workers_.size());
  for (size_t i = 0; i < server->workers_.size(); ++i) {
    EchoServer* self = server.get();
    server->threads_.emplace_back([self, i] {
      self->results_[i] = self->workers_[i]->Run();
      if (!self->results_[i].ok()) {
        self->Shutdown();  // a dead loop leaves its connections unserved: stop the rest too
      }
    });
  }
  return server;
}

EchoServer::~EchoServer() {
  Shutdown();
  Wait().IgnoreError();
}

void EchoServer::Shutdown() {
  if (shared_.draining.load(std::memory_order_acquire)) {
    return;
  }
  int64_t deadline = MonotonicNanos() + absl::ToInt64Nanoseconds(options_.drain_timeout);
  shared_.drain_deadline_ns.store(deadline, std::memory_order_relaxed);
  shared_.draining.store(true, std::memory_order_release);
  for (const auto& worker : workers_) {
    worker->Wake();
  }
}

absl::Status EchoServer::Wait() {
  if (!waited_) {
    waited_ = true;
    for (std::thread& t : threads_) {
      t.join();
    }
  }
  for (const absl::Status& status : results_) {
    SOCKLAB_RETURN_IF_ERROR(status);
  }
  return absl::OkStatus();
}

StatsSnapshot EchoServer::Stats() const {
  StatsSnapshot total;
  for (const auto& worker : workers_) {
    total.Add(worker->stats().Snapshot());
  }
  return total;
}

std::vector<StatsSnapshot> EchoServer::LoopStats() const {
  std::vector<StatsSnapshot> loops;
  loops.reserve(workers_.size());
  for (const auto& worker : workers_) {
    loops.push_back(worker->stats().Snapshot());
  }
  return loops;
}

}  // namespace socklab::server

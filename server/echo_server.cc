#include "server/echo_server.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "core/base/clock.h"
#include "core/base/status_macros.h"
#include "core/net/socket.h"

namespace socklab::server {

absl::StatusOr<std::unique_ptr<EchoServer>> EchoServer::Start(const ServerOptions& options) {
  SOCKLAB_RETURN_IF_ERROR(options.Validate());
  std::unique_ptr<EchoServer> server(new EchoServer());
  server->options_ = ResolveDefaults(options).options;
  const ServerOptions& opts = server->options_;

  SOCKLAB_ASSIGN_OR_RETURN(loop::BackendSelection selection, loop::SelectBackend(opts.backend));
  server->backend_ = selection.backend;
  server->fallback_reason_ = selection.fallback_reason;

  ListenOptions listen;
  listen.address = opts.listen;
  listen.backlog = opts.backlog;
  listen.reuse_addr = opts.reuse_addr;
  listen.reuse_port = opts.reuse_port;
  listen.blocking = Blocking::kNonBlocking;

  // The first listener resolves port 0; the others (reuseport) bind the same port. The first
  // binds before it sets SO_REUSEPORT: a port in use, even by another socklab-server of this
  // user (whose reuseport group a plain bind would silently join), is EADDRINUSE.
  std::vector<UniqueFd> listeners;
  int count = opts.reuse_port ? opts.threads : 1;
  for (int i = 0; i < count; ++i) {
    listen.exclusive_bind = i == 0;
    SOCKLAB_ASSIGN_OR_RETURN(UniqueFd fd, ListenTcp(listen));
    if (i == 0) {
      SOCKLAB_ASSIGN_OR_RETURN(server->address_, LocalAddressOf(fd.get()));
      listen.address = server->address_;
    }
    listeners.push_back(std::move(fd));
  }
  if (!opts.reuse_port) {
    server->shared_listener_ = std::move(listeners[0]);
  }

  for (int i = 0; i < opts.threads; ++i) {
    int fd = opts.reuse_port ? listeners[i].get() : server->shared_listener_.get();
    absl::StatusOr<std::unique_ptr<EchoWorker>> worker = EchoWorker::Create(
        server->options_, server->backend_, fd, opts.reuse_port, &server->shared_);
    if (!worker.ok() && server->backend_ == loop::Backend::kIoUring &&
        opts.backend == loop::BackendChoice::kAuto && i == 0) {
      // The probe passed but the real ring did not (e.g. more entries than RLIMIT_MEMLOCK
      // allows on kernels before 5.12): auto still means "whatever works".
      server->fallback_reason_ =
          absl::StrCat("io_uring loop setup failed: ", worker.status().message());
      server->backend_ = loop::Backend::kEpoll;
      worker = EchoWorker::Create(server->options_, server->backend_, fd, opts.reuse_port,
                                  &server->shared_);
    }
    if (!worker.ok()) {
      return worker.status();
    }
    if (opts.reuse_port) {
      listeners[i].Release();  // the worker owns it now
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

}  // namespace socklab::server

#pragma once

#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "core/base/clock.h"
#include "core/base/unique_fd.h"
#include "core/loop/event_loop.h"
#include "core/net/address.h"
#include "core/net/socket.h"
#include "gtest/gtest.h"

namespace socklab::loop::testing {

// A completion with its received bytes copied out of the loop's buffer.
struct Record {
  Op op;
  Token token;
  int fd;
  int res;
  bool more;
  std::string data;
};

// Records every completion; `hook` (optional) runs inside OnCompletion, so tests can resubmit
// from the loop thread exactly as real callers do.
class Recorder : public CompletionHandler {
 public:
  void OnCompletion(const Completion& c) override {
    Record r{c.op, c.token, c.fd, c.res, c.more, {}};
    if (c.op == Op::kReceive && c.res > 0) {
      r.data.assign(reinterpret_cast<const char*>(c.data), static_cast<size_t>(c.res));
    }
    if (hook) {
      hook(c);
    }
    records.push_back(std::move(r));
  }

  std::deque<Record> records;
  std::function<void(const Completion&)> hook;
};

inline constexpr int64_t kTestTimeoutNs = 20'000'000'000;  // generous: 2 noisy cores

// Runs the loop until `done()` holds or kTestTimeoutNs passes; returns done().
inline bool RunUntil(EventLoop& loop, const std::function<bool()>& done,
                     int64_t timeout_ns = kTestTimeoutNs) {
  int64_t deadline = MonotonicNanos() + timeout_ns;
  while (!done()) {
    if (MonotonicNanos() > deadline) {
      return false;
    }
    absl::StatusOr<int> n = loop.RunOnce(10'000'000);
    if (!n.ok()) {
      ADD_FAILURE() << n.status();
      return false;
    }
  }
  return true;
}

// Runs the loop until a completion with `op` and `token` is recorded, then removes and returns
// the first such completion.
inline std::optional<Record> Take(EventLoop& loop, Recorder& rec, Op op, Token token,
                                  int64_t timeout_ns = kTestTimeoutNs) {
  std::optional<Record> found;
  auto match = [&] {
    for (auto it = rec.records.begin(); it != rec.records.end(); ++it) {
      if (it->op == op && it->token == token) {
        found = *it;
        rec.records.erase(it);
        return true;
      }
    }
    return false;
  };
  RunUntil(loop, match, timeout_ns);
  return found;
}

// A loopback connection: a new listener and a client connected to it, whose server end waits in
// the listener's queue until accepted (then `server`); empty fds on failure.
struct AcceptedConnection {
  UniqueFd listener;
  UniqueFd client;
  UniqueFd server;
};
inline AcceptedConnection ConnectToNewListener() {
  AcceptedConnection c;
  ListenOptions listen_options;
  listen_options.address = SocketAddress::Loopback(AF_INET, 0);
  absl::StatusOr<UniqueFd> listener = ListenTcp(listen_options);
  if (!listener.ok()) {
    ADD_FAILURE() << listener.status();
    return c;
  }
  c.listener = *std::move(listener);
  absl::StatusOr<UniqueFd> client = ConnectTcp(*LocalAddressOf(c.listener.get()));
  if (!client.ok()) {
    ADD_FAILURE() << client.status();
    return c;
  }
  c.client = *std::move(client);
  return c;
}

// ConnectToNewListener, with the server end accepted by `loop` with `accept_token` (its accept
// then stays armed). For tests that make their own loop, with its own options.
inline AcceptedConnection AcceptOneThrough(EventLoop& loop, Recorder& rec, Token accept_token) {
  AcceptedConnection c = ConnectToNewListener();
  if (!c.client.valid()) {
    return c;
  }
  loop.Accept(c.listener.get(), accept_token);
  std::optional<Record> accepted = Take(loop, rec, Op::kAccept, accept_token);
  if (accepted.has_value() && accepted->res >= 0) {
    c.server = UniqueFd(accepted->res);
  }
  return c;
}

// The backends to run a suite on; io_uring cases skip where SelectBackend says it is unavailable.
inline std::string BackendParamName(const ::testing::TestParamInfo<Backend>& info) {
  return std::string(BackendName(info.param));
}

// Skips the current test when `backend` cannot run here (io_uring refused or missing).
#define SOCKLAB_SKIP_IF_UNAVAILABLE(backend)                                                     \
  do {                                                                                           \
    if ((backend) == ::socklab::loop::Backend::kIoUring) {                                       \
      auto selection = ::socklab::loop::SelectBackend(::socklab::loop::BackendChoice::kIoUring); \
      if (!selection.ok()) {                                                                     \
        GTEST_SKIP() << selection.status();                                                      \
      }                                                                                          \
    }                                                                                            \
  } while (0)

}  // namespace socklab::loop::testing

#pragma once

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "core/base/clock.h"
#include "core/base/unique_fd.h"
#include "core/net/address.h"
#include "core/net/socket.h"

namespace socklab::testing {

// A small echo peer for the load tests, on loopback port 0, run by its own thread with poll():
// independent of core/loop so a loop bug cannot hide in both ends. It is the peer's witness of
// what the client did: it counts accepts, bytes in and out, the most connections open at once,
// and how each connection the client ended reached it (EOF: a FIN; reset: an RST). Modes:
//  - kEcho: echoes every byte.
//  - kResetWhenIdle: echoes, and resets (SO_LINGER {1,0} + close) any connection idle for
//    `idle_ms`, like socklab-server --linger rst --idle-timeout.
//  - kCloseWhenIdle: echoes, and closes (FIN) any connection idle for `idle_ms`, like
//    socklab-server --idle-timeout: a correct server that ends quiet connections.
//  - kNeverRead: accepts and never reads, so the client's sends fill the buffers and stall.
//  - kCorrupt: echoes, flipping one byte in every `corrupt_every` bytes of each connection's
//    stream (the last byte of each such block), like a server with a memory bug.
//  - kStallOnce: echoes, but once, on the first data received `stall_after_ms` after the first
//    accept, stops everything for `stall_ms` (a GC pause, a swapped-out server).
// Thread affinity: construct, port() and destroy from the test thread.
class EchoFixture {
 public:
  enum class Mode { kEcho, kResetWhenIdle, kCloseWhenIdle, kNeverRead, kCorrupt, kStallOnce };
  struct Config {
    Mode mode = Mode::kEcho;
    int family = AF_INET;
    int idle_ms = 0;             // kResetWhenIdle, kCloseWhenIdle
    uint64_t corrupt_every = 0;  // kCorrupt
    int stall_after_ms = 0;      // kStallOnce
    int stall_ms = 0;            // kStallOnce
    // TCP_NODELAY on accepted connections, so the echo leaves at once and a test of the client's
    // Nagle setting measures the client alone.
    bool nodelay = false;
  };

  explicit EchoFixture(Mode mode = Mode::kEcho, int idle_ms = 0, int family = AF_INET)
      : EchoFixture(Config{.mode = mode, .family = family, .idle_ms = idle_ms}) {}
  explicit EchoFixture(const Config& config)
      : config_(config), mode_(config.mode), idle_ms_(config.idle_ms) {
    ListenOptions options;
    options.address = SocketAddress::Loopback(config.family, 0);
    listener_ = std::move(*ListenTcp(options));
    port_ = LocalAddressOf(listener_.get())->port();
    thread_ = std::thread([this] { Loop(); });
  }
  ~EchoFixture() {
    stop_.store(true);
    thread_.join();
  }

  uint16_t port() const { return port_; }
  SocketAddress address() const {
    return SocketAddress::Loopback(LocalAddressOf(listener_.get())->family(), port_);
  }
  uint64_t accepted() const { return accepted_.load(); }
  uint64_t corrupted() const { return corrupted_.load(); }
  bool stalled() const { return stalled_.load(); }
  uint64_t bytes_in() const { return bytes_in_.load(); }
  uint64_t bytes_out() const { return bytes_out_.load(); }
  // Connections the client ended, by how the end reached this side.
  uint64_t eof_closes() const { return eof_closes_.load(); }
  uint64_t reset_closes() const { return reset_closes_.load(); }
  // Connections this side ended (idle modes), and those ended by anything else.
  uint64_t own_closes() const { return own_closes_.load(); }
  uint64_t other_closes() const { return other_closes_.load(); }
  uint64_t open() const { return open_.load(); }
  uint64_t max_open() const { return max_open_.load(); }

  // Polls until every connection the client made is accepted and closed again (its last
  // closes reach this side after its run returned); false after `timeout_ms`. Two full passes
  // of the fixture's loop after the call see anything still waiting in the accept queue.
  bool WaitForAllClosed(int timeout_ms) const {
    const int64_t deadline = MonotonicNanos() + int64_t{timeout_ms} * 1'000'000;
    const uint64_t passes = passes_.load();
    while (open_.load() > 0 || passes_.load() < passes + 2) {
      if (MonotonicNanos() >= deadline) {
        return false;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return true;
  }

 private:
  struct Peer {
    UniqueFd fd;
    std::string pending;  // received, not yet echoed
    int64_t last_active_ns = 0;
    uint64_t received = 0;  // stream offset, for kCorrupt
  };
  enum class End { kOpen, kEof, kReset, kOwn, kOther };

  void CountEnd(End end) {
    switch (end) {
      case End::kOpen:
        return;
      case End::kEof:
        eof_closes_.fetch_add(1);
        break;
      case End::kReset:
        reset_closes_.fetch_add(1);
        break;
      case End::kOwn:
        own_closes_.fetch_add(1);
        break;
      case End::kOther:
        other_closes_.fetch_add(1);
        break;
    }
    open_.fetch_sub(1);
  }

  // How a connection whose poll reported an error or hang-up ended: the pending error (RST) or
  // a read of 0 (FIN). Unread data ahead of the FIN is dropped: the peer is gone.
  static End EndOf(int fd) {
    int error = 0;
    socklen_t length = sizeof(error);
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) == 0 && error != 0) {
      return error == ECONNRESET || error == EPIPE ? End::kReset : End::kOther;
    }
    char sink[4096];
    for (int i = 0; i < 64; ++i) {
      const ssize_t n = recv(fd, sink, sizeof(sink), MSG_DONTWAIT);
      if (n == 0) {
        return End::kEof;
      }
      if (n < 0) {
        return errno == ECONNRESET ? End::kReset : End::kOther;
      }
    }
    return End::kOther;
  }

  void Loop() {
    std::vector<Peer> peers;
    std::vector<pollfd> fds;
    char buffer[64 * 1024];
    int64_t first_accept_ns = 0;
    while (!stop_.load()) {
      fds.clear();
      fds.push_back({listener_.get(), POLLIN, 0});
      for (const Peer& p : peers) {
        short events = 0;
        if (mode_ != Mode::kNeverRead) {
          events = p.pending.empty() ? POLLIN : POLLOUT;
        }
        fds.push_back({p.fd.get(), events, 0});
      }
      poll(fds.data(), fds.size(), 10);
      if (fds[0].revents & POLLIN) {
        for (;;) {
          int fd = accept4(listener_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
          if (fd < 0) {
            break;
          }
          if (config_.nodelay) {
            (void)SetNoDelay(fd, true);
          }
          accepted_.fetch_add(1);
          open_.fetch_add(1);
          peers.push_back({UniqueFd(fd), {}, MonotonicNanos()});
          if (first_accept_ns == 0) {
            first_accept_ns = MonotonicNanos();
          }
        }
        max_open_.store(std::max<uint64_t>(max_open_.load(), peers.size()));
      }
      const int64_t now = MonotonicNanos();
      for (size_t i = 0; i < peers.size(); ++i) {
        Peer& p = peers[i];
        const short revents = i + 1 < fds.size() ? fds[i + 1].revents : 0;
        End end = End::kOpen;
        if (revents & POLLIN) {
          ssize_t n = recv(p.fd.get(), buffer, sizeof(buffer), 0);
          if (n > 0) {
            bytes_in_.fetch_add(n);
            if (mode_ == Mode::kCorrupt) {
              Corrupt(buffer, n, p.received);
            }
            p.received += n;
            p.pending.append(buffer, n);
            p.last_active_ns = now;
            if (mode_ == Mode::kStallOnce && !stalled_.load() &&
                now - first_accept_ns >= int64_t{config_.stall_after_ms} * 1'000'000) {
              stalled_.store(true);
              std::this_thread::sleep_for(std::chrono::milliseconds(config_.stall_ms));
            }
          } else if (n == 0) {
            end = End::kEof;
          } else if (errno != EAGAIN) {
            end = errno == ECONNRESET ? End::kReset : End::kOther;
          }
        }
        if (end == End::kOpen && (revents & POLLOUT) && !p.pending.empty()) {
          ssize_t n = send(p.fd.get(), p.pending.data(), p.pending.size(), MSG_NOSIGNAL);
          if (n > 0) {
            bytes_out_.fetch_add(n);
            p.pending.erase(0, n);
          } else if (errno != EAGAIN) {
            end = errno == ECONNRESET || errno == EPIPE ? End::kReset : End::kOther;
          }
        }
        if (end == End::kOpen && (revents & (POLLERR | POLLHUP))) {
          end = EndOf(p.fd.get());
        }
        const bool idle_mode = mode_ == Mode::kResetWhenIdle || mode_ == Mode::kCloseWhenIdle;
        if (end == End::kOpen && idle_mode && p.pending.empty() &&
            now - p.last_active_ns >= int64_t{idle_ms_} * 1'000'000) {
          if (mode_ == Mode::kResetWhenIdle) {
            (void)SetLinger(p.fd.get(), Linger{Linger::Mode::kReset, 0});
          }
          end = End::kOwn;
        }
        if (end != End::kOpen) {
          CountEnd(end);
          peers.erase(peers.begin() + i);
          fds.erase(fds.begin() + i + 1);
          --i;
        }
      }
      passes_.fetch_add(1);
    }
  }

  // Flips the last byte of every `corrupt_every` block of the stream in buffer[0, n), which
  // holds stream bytes [offset, offset + n).
  void Corrupt(char* buffer, ssize_t n, uint64_t offset) {
    const uint64_t every = config_.corrupt_every;
    for (uint64_t k = (offset / every + 1) * every - 1; k < offset + n; k += every) {
      buffer[k - offset] ^= 0x5a;
      corrupted_.fetch_add(1);
    }
  }

  Config config_;
  Mode mode_;
  int idle_ms_;
  UniqueFd listener_;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> accepted_{0};
  std::atomic<uint64_t> corrupted_{0};
  std::atomic<bool> stalled_{false};
  std::atomic<uint64_t> bytes_in_{0};
  std::atomic<uint64_t> bytes_out_{0};
  std::atomic<uint64_t> eof_closes_{0};
  std::atomic<uint64_t> reset_closes_{0};
  std::atomic<uint64_t> own_closes_{0};
  std::atomic<uint64_t> other_closes_{0};
  std::atomic<uint64_t> open_{0};
  std::atomic<uint64_t> max_open_{0};
  std::atomic<uint64_t> passes_{0};  // iterations of Loop() completed
  std::thread thread_;
};

}  // namespace socklab::testing

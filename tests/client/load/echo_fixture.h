#pragma once

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

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
// independent of core/loop so a loop bug cannot hide in both ends. Modes:
//  - kEcho: echoes every byte.
//  - kResetWhenIdle: echoes, and resets (SO_LINGER {1,0} + close) any connection idle for
//    `idle_ms`, like socklab-server --linger rst --idle-timeout.
//  - kNeverRead: accepts and never reads, so the client's sends fill the buffers and stall.
//  - kCorrupt: echoes, flipping one byte in every `corrupt_every` bytes of each connection's
//    stream (the last byte of each such block), like a server with a memory bug.
//  - kStallOnce: echoes, but once, on the first data received `stall_after_ms` after the first
//    accept, stops everything for `stall_ms` (a GC pause, a swapped-out server).
// Thread affinity: construct, port() and destroy from the test thread.
class EchoFixture {
 public:
  enum class Mode { kEcho, kResetWhenIdle, kNeverRead, kCorrupt, kStallOnce };
  struct Config {
    Mode mode = Mode::kEcho;
    int family = AF_INET;
    int idle_ms = 0;             // kResetWhenIdle
    uint64_t corrupt_every = 0;  // kCorrupt
    int stall_after_ms = 0;      // kStallOnce
    int stall_ms = 0;            // kStallOnce
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

 private:
  struct Peer {
    UniqueFd fd;
    std::string pending;  // received, not yet echoed
    int64_t last_active_ns = 0;
    uint64_t received = 0;  // stream offset, for kCorrupt
  };

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
          accepted_.fetch_add(1);
          peers.push_back({UniqueFd(fd), {}, MonotonicNanos()});
          if (first_accept_ns == 0) {
            first_accept_ns = MonotonicNanos();
          }
        }
      }
      const int64_t now = MonotonicNanos();
      for (size_t i = 0; i < peers.size(); ++i) {
        Peer& p = peers[i];
        const short revents = i + 1 < fds.size() ? fds[i + 1].revents : 0;
        bool drop = false;
        if (revents & POLLIN) {
          ssize_t n = recv(p.fd.get(), buffer, sizeof(buffer), 0);
          if (n > 0) {
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
          } else if (n == 0 || errno != EAGAIN) {
            drop = true;
          }
        }
        if (!drop && (revents & POLLOUT) && !p.pending.empty()) {
          ssize_t n = send(p.fd.get(), p.pending.data(), p.pending.size(), MSG_NOSIGNAL);
          if (n > 0) {
            p.pending.erase(0, n);
          } else if (errno != EAGAIN) {
            drop = true;
          }
        }
        if (revents & (POLLERR | POLLHUP)) {
          drop = true;
        }
        if (!drop && mode_ == Mode::kResetWhenIdle && p.pending.empty() &&
            now - p.last_active_ns >= int64_t{idle_ms_} * 1'000'000) {
          (void)SetLinger(p.fd.get(), Linger{Linger::Mode::kReset, 0});
          drop = true;
        }
        if (drop) {
          peers.erase(peers.begin() + i);
          fds.erase(fds.begin() + i + 1);
          --i;
        }
      }
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
  std::thread thread_;
};

}  // namespace socklab::testing

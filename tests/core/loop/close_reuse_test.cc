// Churn through the loop: clients that connect, arm a receive, send, close, and reconnect from
// inside the kClose completion. The kernel frees an fd number when the close runs, before its
// completion is reaped, so with several connections closing in one batch the reconnect of one
// takes the number of another whose kClose is still to come: the exact reuse pattern of a
// churning load generator. The kernel's socket table is the witness: a socket the loop failed to
// close stays ESTABLISHED.
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "core/base/clock.h"
#include "core/base/unique_fd.h"
#include "core/loop/event_loop.h"
#include "core/net/address.h"
#include "core/net/socket.h"
#include "core/tcpstat/reader.h"
#include "gtest/gtest.h"
#include "tests/core/loop/loop_test_util.h"

namespace socklab::loop {
namespace {

using tcpstat::TcpState;

// Accepts every connection on `listener` (blocking, not owned) and closes each on EOF or error,
// reading and discarding what arrives, until destroyed.
class ClosingPeer {
 public:
  explicit ClosingPeer(int listener) : thread_([this, listener] { Run(listener); }) {}
  ~ClosingPeer() {
    stop_ = true;
    thread_.join();
  }

 private:
  void Run(int listener) {
    std::vector<UniqueFd> peers;
    std::vector<pollfd> fds;
    char buffer[4096];
    while (!stop_) {
      fds.assign(1, pollfd{listener, POLLIN, 0});
      for (const UniqueFd& p : peers) {
        fds.push_back(pollfd{p.get(), POLLIN, 0});
      }
      if (poll(fds.data(), fds.size(), 10) <= 0) {
        continue;
      }
      std::vector<UniqueFd> kept;
      for (size_t i = 1; i < fds.size(); ++i) {
        bool done = false;
        if (fds[i].revents != 0) {
          ssize_t n = ::recv(fds[i].fd, buffer, sizeof(buffer), MSG_DONTWAIT);
          done = n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR);
        }
        if (!done) {
          kept.push_back(std::move(peers[i - 1]));
        }
      }
      peers = std::move(kept);
      if (fds[0].revents & POLLIN) {
        // The listener is nonblocking: take every connection waiting.
        int fd;
        while ((fd = accept4(listener, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
          peers.emplace_back(fd);
        }
      }
    }
  }

  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// Samples, every few milliseconds until destroyed, how many sockets of this machine are
// ESTABLISHED with `port` as their remote port (the client ends of connections to a listener on
// `port`), as netlink reports them.
class EstablishedSampler {
 public:
  explicit EstablishedSampler(uint16_t port) : thread_([this, port] { Run(port); }) {}
  ~EstablishedSampler() { Stop(); }

  void Stop() {
    stop_ = true;
    if (thread_.joinable()) {
      thread_.join();
    }
  }
  uint32_t max() const { return max_; }
  int samples() const { return samples_; }
  int failures() const { return failures_; }

 private:
  void Run(uint16_t port) {
    while (!stop_) {
      absl::StatusOr<uint32_t> n = CountClientsEstablished(port);
      if (n.ok()) {
        max_ = std::max(max_.load(), *n);
        ++samples_;
      } else {
        ++failures_;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  }

 public:
  static absl::StatusOr<uint32_t> CountClientsEstablished(uint16_t port) {
    tcpstat::Filter filter;
    filter.remote = tcpstat::Endpoint{std::nullopt, port};
    filter.states = tcpstat::TcpStateSet::Of({TcpState::kEstablished});
    absl::StatusOr<tcpstat::TcpSnapshot> snapshot = tcpstat::ReadTcpSnapshot(
        filter, {.source = tcpstat::Source::kNetlink, .keep_sockets = false});
    if (!snapshot.ok()) {
      return snapshot.status();
    }
    return snapshot->tally.Count(TcpState::kEstablished);
  }

 private:
  std::atomic<bool> stop_{false};
  std::atomic<uint32_t> max_{0};
  std::atomic<int> samples_{0};
  std::atomic<int> failures_{0};
  std::thread thread_;
};

// `connections` clients that each run connect -> receive armed -> send 64 B -> Close, and open
// the next connection from inside the kClose completion, until `cycles` connections were closed.
// Every third cycle closes with the send still pending, every other one with RST.
class ChurningClients : public CompletionHandler {
 public:
  ChurningClients(int connections, int cycles, const SocketAddress& target)
      : cycles_(cycles), target_(target), slots_(static_cast<size_t>(connections)) {}

  void Start(EventLoop* loop) {
    loop_ = loop;
    for (size_t i = 0; i < slots_.size(); ++i) {
      Open(i);
    }
  }

  void OnCompletion(const Completion& c) override {
    size_t index = static_cast<size_t>(c.token & 0xffffffff);
    uint32_t generation = static_cast<uint32_t>(c.token >> 32);
    Slot& slot = slots_[index];
    if (generation != slot.generation || c.fd != slot.fd) {
      ++stray_;  // a completion for a connection that is already closed
      return;
    }
    switch (c.op) {
      case Op::kConnect:
        --slot.pending;
        if (c.res != 0) {
          ++errors_;
          CloseSlot(index);
          return;
        }
        ++slot.pending;
        loop_->Receive(slot.fd, c.token);
        ++slot.pending;
        loop_->Send(slot.fd, kMessage, sizeof(kMessage), c.token);
        if (opened_ % 3 == 0) {
          CloseSlot(index);  // with the send (and the receive) still pending
        }
        return;
      case Op::kSend:
        --slot.pending;
        if (!slot.closing) {
          if (c.res != static_cast<int>(sizeof(kMessage))) {
            ++errors_;
          }
          CloseSlot(index);
        }
        return;
      case Op::kReceive:
        if (!c.more) {
          --slot.pending;
        }
        if (!slot.closing || c.res != -ECANCELED) {
          ++errors_;  // the peer sends nothing and closes only after our FIN
        }
        return;
      case Op::kClose:
        ++closed_;
        if (c.res != 0 || slot.pending != 0) {
          ++errors_;  // every operation completes before the close
        }
        slot.fd = -1;
        if (opened_ < cycles_) {
          Open(index);  // the reconnect from inside the kClose handler
        }
        return;
      default:
        ++errors_;
    }
  }

  bool finished() const { return closed_ == opened_ && opened_ == cycles_; }
  int closed() const { return closed_; }
  int errors() const { return errors_; }
  int stray() const { return stray_; }

 private:
  static constexpr char kMessage[64] = "churn";
  struct Slot {
    int fd = -1;
    uint32_t generation = 0;
    int pending = 0;  // operations submitted and not completed
    bool closing = false;
  };

  Token TokenOf(size_t index) const {
    return (Token{slots_[index].generation} << 32) | static_cast<Token>(index);
  }

  void Open(size_t index) {
    Slot& slot = slots_[index];
    absl::StatusOr<UniqueFd> fd = CreateTcpSocket(AF_INET, Blocking::kNonBlocking);
    if (!fd.ok()) {
      ++errors_;
      return;
    }
    ++opened_;
    ++slot.generation;
    slot.fd = fd->Release();
    slot.closing = false;
    slot.pending = 1;
    loop_->Connect(slot.fd, target_, TokenOf(index));
  }

  void CloseSlot(size_t index) {
    Slot& slot = slots_[index];
    slot.closing = true;
    if (opened_ % 2 == 0) {
      (void)SetLinger(slot.fd, Linger{Linger::Mode::kReset, 0});
    }
    loop_->Close(slot.fd, TokenOf(index));
  }

  const int cycles_;
  const SocketAddress target_;
  EventLoop* loop_ = nullptr;
  std::vector<Slot> slots_;
  int opened_ = 0;
  int closed_ = 0;
  int errors_ = 0;
  int stray_ = 0;
};

class CloseReuseTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override { SOCKLAB_SKIP_IF_UNAVAILABLE(GetParam()); }
};

TEST_P(CloseReuseTest, ReconnectFromCloseHandlersLeavesNoSocketOpen) {
  constexpr int kConnections = 16;
  constexpr int kCycles = 3000;
  ListenOptions options;
  options.address = SocketAddress::Loopback(AF_INET, 0);
  options.backlog = 1024;
  absl::StatusOr<UniqueFd> listener = ListenTcp(options);
  ASSERT_TRUE(listener.ok()) << listener.status();
  absl::StatusOr<SocketAddress> target = LocalAddressOf(listener->get());
  ASSERT_TRUE(target.ok());
  absl::StatusOr<uint32_t> before = EstablishedSampler::CountClientsEstablished(target->port());
  ASSERT_TRUE(before.ok()) << before.status();
  ASSERT_EQ(*before, 0u);

  ChurningClients clients(kConnections, kCycles, *target);
  absl::StatusOr<std::unique_ptr<EventLoop>> loop = EventLoop::Create(GetParam(), &clients);
  ASSERT_TRUE(loop.ok()) << loop.status();
  ASSERT_TRUE(SetNonBlocking(listener->get(), true).ok());
  ClosingPeer peer(listener->get());
  EstablishedSampler sampler(target->port());
  clients.Start(loop->get());
  // Every Close must complete: a socket whose close never reached the kernel also never
  // completes, and the run would end at the time bound with fewer closes.
  bool finished = testing::RunUntil(**loop, [&] { return clients.finished(); });
  sampler.Stop();
  EXPECT_TRUE(finished) << clients.closed() << " of " << kCycles << " closes completed";
  EXPECT_EQ(clients.errors(), 0);
  EXPECT_EQ(clients.stray(), 0);
  EXPECT_GT(sampler.samples(), 0);
  EXPECT_EQ(sampler.failures(), 0);
  EXPECT_LE(sampler.max(), static_cast<uint32_t>(kConnections))
      << "more client sockets ESTABLISHED than connections open";
  // With the loop still alive (its teardown would close whatever it leaked): every socket it
  // was asked to close has left ESTABLISHED.
  absl::StatusOr<uint32_t> after = EstablishedSampler::CountClientsEstablished(target->port());
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ(*after, 0u);
}

INSTANTIATE_TEST_SUITE_P(Backends, CloseReuseTest,
                         ::testing::Values(Backend::kEpoll, Backend::kIoUring),
                         testing::BackendParamName);

}  // namespace
}  // namespace socklab::loop

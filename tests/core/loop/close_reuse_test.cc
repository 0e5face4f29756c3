// Churn through the loop: clients that connect, arm a receive, send, close, and reconnect from
// inside the kClose completion. The kernel frees an fd number when the close runs, before its
// completion is reaped, so with several connections closing in one batch the reconnect of one
// takes the number of another whose kClose is still to come: the exact reuse pattern of a
// churning load generator. The kernel's socket table is the witness: a socket the loop failed to
// close stays ESTABLISHED.
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "core/base/clock.h"
#include "core/base/unique_fd.h"
#include "core/loop/event_loop.h"
#include "core/loop/slot_token.h"
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

// Samples, every few milliseconds until stopped, the sockets of this machine that are
// ESTABLISHED with `port` as their remote port (the client ends of connections to a listener on
// `port`), as netlink reports them, with the time each dump started. A dump is no atomic
// snapshot (it walks the hash table while connections come and go, so under fast churn it can
// see a socket and its successor), so what is checked against it is per socket: see
// EstablishedAfterClose.
class EstablishedSampler {
 public:
  struct Sample {
    int64_t start_ns;
    std::vector<uint64_t> inodes;
  };

  explicit EstablishedSampler(uint16_t port) : thread_([this, port] { Run(port); }) {}
  ~EstablishedSampler() { Stop(); }

  // Joins the sampling thread; the accessors below are valid after it.
  void Stop() {
    stop_ = true;
    if (thread_.joinable()) {
      thread_.join();
    }
  }
  const std::vector<Sample>& samples() const { return samples_; }
  // Any thread: dumps taken so far.
  int taken() const { return taken_; }
  int failures() const { return failures_; }

  static absl::StatusOr<std::vector<uint64_t>> ClientsEstablished(uint16_t port) {
    tcpstat::Filter filter;
    filter.remote = tcpstat::Endpoint{std::nullopt, port};
    filter.states = tcpstat::TcpStateSet::Of({TcpState::kEstablished});
    absl::StatusOr<tcpstat::TcpSnapshot> snapshot =
        tcpstat::ReadTcpSnapshot(filter, {.source = tcpstat::Source::kNetlink});
    if (!snapshot.ok()) {
      return snapshot.status();
    }
    std::vector<uint64_t> inodes;
    for (const tcpstat::TcpSocket& socket : snapshot->sockets) {
      inodes.push_back(socket.inode);
    }
    return inodes;
  }

 private:
  void Run(uint16_t port) {
    while (!stop_) {
      int64_t start = MonotonicNanos();
      absl::StatusOr<std::vector<uint64_t>> inodes = ClientsEstablished(port);
      if (inodes.ok()) {
        samples_.push_back(Sample{start, *std::move(inodes)});
        ++taken_;
      } else {
        ++failures_;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  }

  std::atomic<bool> stop_{false};
  std::vector<Sample> samples_;
  std::atomic<int> taken_{0};
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
    size_t index = SlotOf(c.token);
    Slot& slot = slots_[index];
    if (GenerationOf(c.token) != slot.generation || c.fd != slot.fd) {
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
        closed_at_[slot.inode] = MonotonicNanos();
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
  // Socket inode -> when its kClose was delivered (MonotonicNanos), for every socket closed.
  const absl::flat_hash_map<uint64_t, int64_t>& closed_at() const { return closed_at_; }
  int closed() const { return closed_; }
  int errors() const { return errors_; }
  int stray() const { return stray_; }

 private:
  static constexpr char kMessage[64] = "churn";
  struct Slot {
    int fd = -1;
    uint64_t inode = 0;  // the socket's, from fstat: what netlink reports it by
    uint32_t generation = 0;
    int pending = 0;  // operations submitted and not completed
    bool closing = false;
  };

  Token TokenOf(size_t index) const {
    return MakeToken(static_cast<uint32_t>(index), slots_[index].generation);
  }

  void Open(size_t index) {
    Slot& slot = slots_[index];
    absl::StatusOr<UniqueFd> fd = CreateTcpSocket(AF_INET, Blocking::kNonBlocking);
    if (!fd.ok()) {
      ++errors_;
      return;
    }
    struct stat st {};
    if (fstat(fd->get(), &st) != 0) {
      ++errors_;
      return;
    }
    ++opened_;
    slot.generation = NextGeneration(slot.generation);
    slot.inode = st.st_ino;
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
  absl::flat_hash_map<uint64_t, int64_t> closed_at_;
};

class CloseReuseTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override { SOCKLAB_SKIP_IF_UNAVAILABLE(GetParam()); }

  // `loops` loops, each on its own thread with `connections` churning clients, all against one
  // peer; the netlink witness bounds the client sockets ESTABLISHED by all connections together.
  void RunChurn(int loops, int connections) {
    constexpr int kCycles = 8000;  // per loop: long enough for the sampler to see it run
    ListenOptions options;
    options.address = SocketAddress::Loopback(AF_INET, 0);
    options.backlog = 1024;
    absl::StatusOr<UniqueFd> listener = ListenTcp(options);
    ASSERT_TRUE(listener.ok()) << listener.status();
    absl::StatusOr<SocketAddress> target = LocalAddressOf(listener->get());
    ASSERT_TRUE(target.ok());
    absl::StatusOr<std::vector<uint64_t>> before =
        EstablishedSampler::ClientsEstablished(target->port());
    ASSERT_TRUE(before.ok()) << before.status();
    ASSERT_TRUE(before->empty());

    std::vector<std::unique_ptr<ChurningClients>> clients;
    std::vector<std::unique_ptr<EventLoop>> event_loops;
    for (int i = 0; i < loops; ++i) {
      clients.push_back(std::make_unique<ChurningClients>(connections, kCycles, *target));
      absl::StatusOr<std::unique_ptr<EventLoop>> loop =
          EventLoop::Create(GetParam(), clients.back().get());
      ASSERT_TRUE(loop.ok()) << loop.status();
      event_loops.push_back(*std::move(loop));
    }
    ASSERT_TRUE(SetNonBlocking(listener->get(), true).ok());
    ClosingPeer peer(listener->get());
    EstablishedSampler sampler(target->port());
    while (sampler.taken() == 0 && sampler.failures() == 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    std::vector<std::thread> runners;
    std::vector<char> finished(static_cast<size_t>(loops), 0);
    for (size_t i = 0; i < event_loops.size(); ++i) {
      runners.emplace_back([&, i] {
        clients[i]->Start(event_loops[i].get());
        // Every Close must complete: a socket whose close never reached the kernel also never
        // completes, and the run would end at the time bound with fewer closes.
        finished[i] = testing::RunUntil(*event_loops[i], [&] { return clients[i]->finished(); });
      });
    }
    for (std::thread& runner : runners) {
      runner.join();
    }
    sampler.Stop();
    for (size_t i = 0; i < clients.size(); ++i) {
      EXPECT_TRUE(finished[i]) << "loop " << i << ": " << clients[i]->closed() << " of " << kCycles
                               << " closes completed";
      EXPECT_EQ(clients[i]->errors(), 0);
      EXPECT_EQ(clients[i]->stray(), 0);
    }
    EXPECT_GT(sampler.samples().size(), 2u);
    EXPECT_EQ(sampler.failures(), 0);
    // No socket is ESTABLISHED in a dump that started after its kClose was delivered: the close
    // ended the socket, not only its fd.
    int established_after_close = 0;
    for (const EstablishedSampler::Sample& sample : sampler.samples()) {
      for (uint64_t inode : sample.inodes) {
        for (const auto& c : clients) {
          auto it = c->closed_at().find(inode);
          if (it != c->closed_at().end() && it->second < sample.start_ns) {
            ++established_after_close;
          }
        }
      }
    }
    EXPECT_EQ(established_after_close, 0) << "sockets still ESTABLISHED after their kClose";
    // With the loops still alive (their teardown would close whatever they leaked): every
    // socket they were asked to close has left ESTABLISHED.
    absl::StatusOr<std::vector<uint64_t>> after =
        EstablishedSampler::ClientsEstablished(target->port());
    ASSERT_TRUE(after.ok()) << after.status();
    EXPECT_EQ(after->size(), 0u);
  }
};

TEST_P(CloseReuseTest, ReconnectFromCloseHandlersLeavesNoSocketOpen) { RunChurn(1, 16); }

// Two loops share the process's fd table, as a server's or a load generator's threads do: one
// loop's socket() takes a number whose close completion the other loop has not reaped.
TEST_P(CloseReuseTest, TwoLoopsSharingTheFdTableLeaveNoSocketOpen) { RunChurn(2, 8); }

INSTANTIATE_TEST_SUITE_P(Backends, CloseReuseTest,
                         ::testing::Values(Backend::kEpoll, Backend::kIoUring),
                         testing::BackendParamName);

}  // namespace
}  // namespace socklab::loop

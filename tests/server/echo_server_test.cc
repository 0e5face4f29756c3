#include "server/echo_server.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "core/base/status.h"
#include "core/loop/event_loop.h"
#include "core/tcpstat/reader.h"
#include "gtest/gtest.h"
#include "tests/server/kernel_view.h"
#include "tests/server/test_client.h"

namespace socklab::server {
namespace {

using namespace socklab::server::testing;

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr bool kSanitized = true;
#else
constexpr bool kSanitized = false;
#endif

class EchoServerTest : public ::testing::TestWithParam<loop::BackendChoice> {
 protected:
  void SetUp() override {
    if (GetParam() == loop::BackendChoice::kIoUring) {
      absl::StatusOr<loop::BackendSelection> s = loop::SelectBackend(GetParam());
      if (!s.ok()) {
        GTEST_SKIP() << "io_uring unavailable: " << s.status().message();
      }
    }
  }

  ServerOptions BaseOptions() {
    ServerOptions o;
    o.listen = *SocketAddress::Parse("127.0.0.1:0");
    o.backend = GetParam();
    o.threads = 2;
    o.drain_timeout = absl::Seconds(2);
    return o;
  }

  void StartServer(const ServerOptions& options) {
    absl::StatusOr<std::unique_ptr<EchoServer>> s = EchoServer::Start(options);
    ASSERT_TRUE(s.ok()) << s.status();
    server_ = *std::move(s);
    ASSERT_NE(server_->address().port(), 0);
  }

  // A blocking peer of the server with a 4 KiB receive buffer, set before the connect so that the
  // window it offers stays that small: a peer that reads slowly or not at all.
  UniqueFd ConnectSlowPeer() {
    absl::StatusOr<UniqueFd> peer = CreateTcpSocket(AF_INET, Blocking::kBlocking);
    if (!peer.ok()) {
      ADD_FAILURE() << peer.status();
      return UniqueFd();
    }
    if (absl::Status set = SetReceiveBuffer(peer->get(), 4096); !set.ok()) {
      ADD_FAILURE() << set;
      return UniqueFd();
    }
    if (connect(peer->get(), server_->address().sockaddr_ptr(), server_->address().length()) != 0) {
      ADD_FAILURE() << "connect: " << std::strerror(errno);
      return UniqueFd();
    }
    return *std::move(peer);
  }

  // Polls `cond` every 10 ms for up to 20 s.
  template <typename Cond>
  bool Eventually(Cond cond) {
    for (int i = 0; i < 2000; ++i) {
      if (cond()) {
        return true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return cond();
  }

  std::unique_ptr<EchoServer> server_;
};

// Sends `data` from a second thread (so a large echo cannot deadlock on full buffers), then
// half-closes; returns everything read until EOF.
std::string EchoThroughHalfClose(const SocketAddress& address, const std::string& data) {
  UniqueFd fd = Connect(address);
  if (!fd) {
    return "<connect failed>";
  }
  std::thread writer([&] {
    SendAll(fd.get(), data);
    shutdown(fd.get(), SHUT_WR);
  });
  std::string got = RecvUntilEof(fd.get());
  writer.join();
  return got;
}

TEST_P(EchoServerTest, ByteExactEchoFromOneByteToFourMiB) {
  StartServer(BaseOptions());
  uint32_t seed = 1;
  for (size_t size : {size_t{1}, size_t{7}, size_t{1000}, size_t{16384}, size_t{65537},
                      size_t{1} << 20, size_t{4} << 20}) {
    std::string data = RandomBytes(size, seed++);
    std::string got = EchoThroughHalfClose(server_->address(), data);
    ASSERT_EQ(got.size(), data.size()) << "size " << size;
    ASSERT_TRUE(got == data) << "echo differs for size " << size;
  }
  EXPECT_TRUE(Eventually([&] { return server_->Stats().closed == 7; }));
  StatsSnapshot s = server_->Stats();
  EXPECT_EQ(s.bytes_in, s.bytes_out);
  EXPECT_EQ(s.errors.Total(), 0u) << s.errors.ToText();
}

TEST_P(EchoServerTest, FiveHundredConcurrentConnections) {
  StartServer(BaseOptions());
  constexpr int kClients = 500;
  std::vector<UniqueFd> clients;
  for (int i = 0; i < kClients; ++i) {
    clients.push_back(Connect(server_->address()));
    ASSERT_TRUE(clients.back().valid()) << "client " << i;
  }
  std::vector<std::string> sent;
  for (int i = 0; i < kClients; ++i) {
    sent.push_back(RandomBytes(64 + i % 7, 1000 + i));
    ASSERT_TRUE(SendAll(clients[i].get(), sent[i]));
  }
  EXPECT_TRUE(Eventually([&] { return server_->Stats().open == kClients; }));
  for (int i = 0; i < kClients; ++i) {
    ASSERT_EQ(RecvExactly(clients[i].get(), sent[i].size()), sent[i]) << "client " << i;
  }
  clients.clear();
  EXPECT_TRUE(Eventually([&] { return server_->Stats().open == 0; }));
  EXPECT_EQ(server_->Stats().accepted, static_cast<uint64_t>(kClients));
}

TEST_P(EchoServerTest, PipelinedWritesComeBackInOrder) {
  StartServer(BaseOptions());
  UniqueFd fd = Connect(server_->address());
  ASSERT_TRUE(fd.valid());
  std::string all;
  for (int i = 0; i < 2000; ++i) {
    std::string msg = RandomBytes(1 + i % 97, 77 + i);
    ASSERT_TRUE(SendAll(fd.get(), msg));  // many small writes, none read yet
    all += msg;
  }
  EXPECT_EQ(RecvExactly(fd.get(), all.size()), all);
}

TEST_P(EchoServerTest, InterleavedWritesOnTwoConnectionsStaySeparate) {
  StartServer(BaseOptions());
  UniqueFd a = Connect(server_->address());
  UniqueFd b = Connect(server_->address());
  ASSERT_TRUE(a.valid() && b.valid());
  std::string sent_a;
  std::string sent_b;
  for (int i = 0; i < 200; ++i) {
    std::string x = RandomBytes(1 + (i * 37) % 500, 5000 + i);
    std::string y = RandomBytes(1 + (i * 53) % 500, 9000 + i);
    ASSERT_TRUE(SendAll(a.get(), x));
    ASSERT_TRUE(SendAll(b.get(), y));
    sent_a += x;
    sent_b += y;
    if (i % 10 == 9) {  // read some back mid-stream too
      ASSERT_EQ(RecvExactly(b.get(), sent_b.size()), sent_b);
      sent_b.clear();
    }
  }
  EXPECT_EQ(RecvExactly(a.get(), sent_a.size()), sent_a);
  EXPECT_EQ(RecvExactly(b.get(), sent_b.size()), sent_b);
}

TEST_P(EchoServerTest, HalfCloseSendsTheRestThenCloses) {
  StartServer(BaseOptions());
  UniqueFd fd = Connect(server_->address());
  ASSERT_TRUE(fd.valid());
  // 2 MiB, more than the server holds before backpressure, then FIN at once: the server must
  // still send everything back before its own FIN.
  std::string data = RandomBytes(2 << 20, 42);
  std::thread writer([&] {
    SendAll(fd.get(), data);
    shutdown(fd.get(), SHUT_WR);
  });
  int error = -1;
  std::string got = RecvUntilEof(fd.get(), &error);
  writer.join();
  EXPECT_EQ(error, 0);
  EXPECT_EQ(got.size(), data.size());
  EXPECT_TRUE(got == data);
}

TEST_P(EchoServerTest, ClientThatNeverReadsCannotGrowServerMemory) {
  ServerOptions options = BaseOptions();
  options.threads = 1;
  StartServer(options);
  // Warm up: the loop's shared receive buffers and the chunk pool get touched by any traffic,
  // so take the baseline after an echo of a few MiB.
  ASSERT_EQ(EchoThroughHalfClose(server_->address(), RandomBytes(20 << 20, 3)).size(),
            size_t{20} << 20);
  int64_t rss_before = VmRssKiB();

  UniqueFd hog = Connect(server_->address());
  ASSERT_TRUE(hog.valid());
  fcntl(hog.get(), F_SETFL, O_NONBLOCK);
  std::string block = RandomBytes(1 << 20, 4);
  uint64_t sent = 0;
  constexpr uint64_t kTarget = uint64_t{64} << 20;
  auto last_progress = std::chrono::steady_clock::now();
  // Send until 64 MiB went out or the peer's window stayed shut for 2 s (bounded loop).
  while (sent < kTarget &&
         std::chrono::steady_clock::now() - last_progress < std::chrono::seconds(2)) {
    size_t off = sent % block.size();
    ssize_t n = send(hog.get(), block.data() + off, block.size() - off, MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<uint64_t>(n);
      last_progress = std::chrono::steady_clock::now();
    } else {
      pollfd p{hog.get(), POLLOUT, 0};
      poll(&p, 1, 100);
    }
  }
  // Another client is served meanwhile.
  UniqueFd other = Connect(server_->address());
  ASSERT_TRUE(other.valid());
  std::string msg = RandomBytes(1000, 5);
  ASSERT_TRUE(SendAll(other.get(), msg));
  EXPECT_EQ(RecvExactly(other.get(), msg.size()), msg);

  int64_t rss_after = VmRssKiB();
  StatsSnapshot s = server_->Stats();
  uint64_t held = s.bytes_in - s.bytes_out;  // echo bytes the server holds in memory
  // The cap (256 KiB) plus the overshoot of receives completed before the cancel took effect:
  // one chunk on epoll; on io_uring, the completions the multishot receive had already posted
  // (a few hundred KiB at most here, where the client pushed ~10 MiB into socket buffers).
  EXPECT_LE(held, options.max_pending_bytes + (1u << 20)) << "sent " << sent;
  EXPECT_LT(held * 4, sent) << "the server held most of what was sent";
  EXPECT_GE(s.backpressure_pauses, 1u);
  // The whole process (test client included) grows far less than what the client pushed.
  // Sanitizer builds are exempt: their shadow memory is not the program's.
  if (!kSanitized) {
    EXPECT_LT(rss_after - rss_before, 16 * 1024) << "sent " << sent << " bytes";
  }
  RecordProperty("hog_sent_bytes", std::to_string(sent));
  RecordProperty("server_held_bytes", std::to_string(held));
}

TEST_P(EchoServerTest, IdleTimeoutClosesAndClientReadsEof) {
  ServerOptions options = BaseOptions();
  options.idle_timeout = absl::Milliseconds(300);
  StartServer(options);
  UniqueFd fd = Connect(server_->address());
  ASSERT_TRUE(fd.valid());
  ASSERT_TRUE(SendAll(fd.get(), "ping"));
  ASSERT_EQ(RecvExactly(fd.get(), 4), "ping");
  int error = -1;
  EXPECT_EQ(RecvUntilEof(fd.get(), &error), "");
  EXPECT_EQ(error, 0);
  EXPECT_TRUE(Eventually([&] { return server_->Stats().idle_timeouts == 1; }));
  // Counted once: a timeout is the server's decision, not an error the kernel reported.
  EXPECT_EQ(server_->Stats().errors.Total(), 0u) << server_->Stats().errors.ToText();
}

TEST_P(EchoServerTest, WriteTimeoutClosesAPeerThatDoesNotRead) {
  ServerOptions options = BaseOptions();
  options.write_timeout = absl::Milliseconds(300);
  StartServer(options);
  UniqueFd fd = Connect(server_->address());
  ASSERT_TRUE(fd.valid());
  fcntl(fd.get(), F_SETFL, O_NONBLOCK);
  // Push until the windows are shut (bounded), without reading: the echo cannot go out.
  std::string block = RandomBytes(1 << 20, 8);
  for (int i = 0; i < 64; ++i) {
    if (send(fd.get(), block.data(), block.size(), MSG_NOSIGNAL) <= 0) {
      pollfd p{fd.get(), POLLOUT, 0};
      if (poll(&p, 1, 200) == 0) {
        break;
      }
    }
  }
  EXPECT_TRUE(Eventually([&] { return server_->Stats().write_timeouts == 1; }));
  EXPECT_TRUE(Eventually([&] { return server_->Stats().open == 0; }));
  EXPECT_EQ(server_->Stats().errors.Total(), 0u) << server_->Stats().errors.ToText();
}

TEST_P(EchoServerTest, WriteTimeoutCountsEchoBytesWaitingInTheKernelSendQueue) {
  // The whole echo fits into the server's socket send buffer and the peer's 4 KiB receive
  // buffer: the server's own queue is empty, and the bytes wait in the kernel, where the peer,
  // which never reads, takes none of them.
  ServerOptions options = BaseOptions();
  options.write_timeout = absl::Milliseconds(500);
  StartServer(options);
  UniqueFd peer = ConnectSlowPeer();
  ASSERT_TRUE(peer.valid());
  SocketAddress peer_address = *LocalAddressOf(peer.get());
  constexpr size_t kSent = 200'000;
  ASSERT_TRUE(SendAll(peer.get(), RandomBytes(kSent, 13)));
  // The kernel's view of the server's end: echo bytes in its send queue, unacknowledged.
  std::optional<tcpstat::TcpSocket> held;
  ASSERT_TRUE(Eventually([&] {
    held = ServerEndOf(server_->address(), peer_address);
    return held.has_value() && held->tx_queue > 0;
  })) << "the echo never queued in the server's socket";
  ASSERT_EQ(server_->Stats().bytes_in, kSent);  // everything read: none waits in our queue
  // Closed by the write timeout: the kernel's socket leaves ESTABLISHED (FIN_WAIT1 behind the
  // unacknowledged bytes, or gone). 20 s only bounds a broken server; the timeout is 0.5 s.
  EXPECT_TRUE(Eventually([&] {
    std::optional<tcpstat::TcpSocket> now = ServerEndOf(server_->address(), peer_address);
    return !now.has_value() || now->state != tcpstat::TcpState::kEstablished;
  })) << "still ESTABLISHED with "
      << held->tx_queue << " B unacknowledged";
  EXPECT_EQ(server_->Stats().write_timeouts, 1u);
  EXPECT_EQ(server_->Stats().open, 0u);
}

TEST_P(EchoServerTest, WriteTimeoutSparesAPeerThatReadsSlowly) {
  // The peer takes a little every 100 ms: a write timeout of 400 ms must never fire, though our
  // queue and the kernel's send queue stay non-empty throughout.
  ServerOptions options = BaseOptions();
  options.write_timeout = absl::Milliseconds(400);
  StartServer(options);
  UniqueFd peer = ConnectSlowPeer();
  ASSERT_TRUE(peer.valid());
  std::string sent = RandomBytes(400'000, 14);
  std::thread writer([&] { SendAll(peer.get(), sent); });
  std::string got;
  for (int i = 0; i < 20; ++i) {  // 2 s, five write timeouts long
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    got += RecvExactly(peer.get(), 2048);
  }
  EXPECT_EQ(server_->Stats().write_timeouts, 0u);
  shutdown(peer.get(), SHUT_WR);
  writer.join();
  got += RecvUntilEof(peer.get());
  EXPECT_TRUE(got == sent) << got.size() << " of " << sent.size();
}

TEST_P(EchoServerTest, LargeMessagesEchoByteExactToAPeerThatReadsSlowly) {
  // One message at a time, 16 KiB to 1 MiB, to a peer that takes 3000 bytes a millisecond, with
  // a tiny server send buffer: each message's echo starts with nothing queued (sent straight
  // from a receive buffer), comes up short, and the rest of the message arrives and queues behind
  // it; the 1 MiB ones also fill the queue past its cap. Every byte must come back once and in
  // order, as the peer itself counts them.
  ServerOptions options = BaseOptions();
  options.threads = 1;
  options.sndbuf = 4096;  // smaller than any receive buffer: every direct send is short
  StartServer(options);
  UniqueFd peer = ConnectSlowPeer();
  ASSERT_TRUE(peer.valid());
  constexpr size_t kSizes[] = {16384, 65537, 100000, 40000, size_t{1} << 20};
  uint64_t sent = 0;
  uint64_t received = 0;
  for (uint32_t i = 0; i < 10; ++i) {
    std::string message = RandomBytes(kSizes[i % 5], 100 + i);
    std::thread writer([&] { SendAll(peer.get(), message); });
    std::string got;
    char buf[3000];
    // Must not hang; generous for 2 noisy cores (a few hundred ms when quiet).
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (got.size() < message.size() && std::chrono::steady_clock::now() < deadline) {
      ssize_t n = recv(peer.get(), buf, std::min(sizeof(buf), message.size() - got.size()), 0);
      if (n <= 0) {
        break;
      }
      got.append(buf, static_cast<size_t>(n));
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    writer.join();
    sent += message.size();
    received += got.size();
    ASSERT_EQ(got.size(), message.size()) << "message " << i;
    ASSERT_TRUE(got == message) << "echo of message " << i << " reordered or corrupted";
  }
  shutdown(peer.get(), SHUT_WR);
  EXPECT_EQ(RecvUntilEof(peer.get()), "");
  EXPECT_TRUE(Eventually([&] { return server_->Stats().closed == 1; }));
  StatsSnapshot s = server_->Stats();
  EXPECT_EQ(s.bytes_in, sent);
  EXPECT_EQ(s.bytes_out, received);
  EXPECT_GE(s.backpressure_pauses, 1u) << "the queue behind the sends never filled";
  EXPECT_EQ(s.errors.Total(), 0u) << s.errors.ToText();
}

TEST_P(EchoServerTest, AcceptedSocketsGetNodelayByDefaultAndTheKeepaliveAsked) {
  // The kernel's own view of the server's accepted sockets: getsockopt on them (they are fds of
  // this process) and, for keepalive, the timer netlink shows armed on the server's end.
  for (bool nodelay : {true, false}) {
    ServerOptions options = BaseOptions();
    options.nodelay = nodelay;
    if (nodelay) {
      EXPECT_TRUE(options.nodelay) << "the default";
      options.keepalive = Keepalive{30, 5, 3};
    }
    StartServer(options);
    UniqueFd client = Connect(server_->address());
    ASSERT_TRUE(client.valid());
    ASSERT_TRUE(SendAll(client.get(), "opt"));
    ASSERT_EQ(RecvExactly(client.get(), 3), "opt");  // accepted and set up by now
    SocketAddress peer = *LocalAddressOf(client.get());
    int fd = ServerFdInThisProcess(server_->address(), peer);
    ASSERT_GE(fd, 0);
    EXPECT_EQ(*GetIntOption(fd, IPPROTO_TCP, TCP_NODELAY, "TCP_NODELAY") != 0, nodelay);
    EXPECT_EQ(*GetIntOption(fd, SOL_SOCKET, SO_KEEPALIVE, "SO_KEEPALIVE") != 0, nodelay);
    if (nodelay) {
      EXPECT_EQ(*GetIntOption(fd, IPPROTO_TCP, TCP_KEEPIDLE, "TCP_KEEPIDLE"), 30);
      EXPECT_EQ(*GetIntOption(fd, IPPROTO_TCP, TCP_KEEPINTVL, "TCP_KEEPINTVL"), 5);
      EXPECT_EQ(*GetIntOption(fd, IPPROTO_TCP, TCP_KEEPCNT, "TCP_KEEPCNT"), 3);
      std::optional<tcpstat::TcpSocket> end = ServerEndOf(server_->address(), peer);
      ASSERT_TRUE(end.has_value());
      EXPECT_EQ(end->timer, tcpstat::TcpTimer::kKeepalive);
      EXPECT_LE(end->timer_ms, 30'000);
    }
    client.Reset();
    server_.reset();
  }
}

TEST_P(EchoServerTest, RcvbufSizesTheWindowScaleTheServerOffers) {
  // The window scale is fixed by the SYN-ACK, from the listener's receive buffer: a --rcvbuf
  // set on each socket after accept() came too late for it. The client's TCP_INFO holds the
  // scale the server's end announced, and the server's fd its buffer.
  struct ServerEnd {
    int offered_scale = -1;  // as the client's TCP_INFO has it
    int rcvbuf = -1;         // SO_RCVBUF of the server's socket
  };
  auto server_end = [&](int64_t rcvbuf) {
    ServerOptions options = BaseOptions();
    options.rcvbuf = rcvbuf;
    StartServer(options);
    ServerEnd end;
    UniqueFd client = Connect(server_->address());
    EXPECT_TRUE(SendAll(client.get(), "w"));
    EXPECT_EQ(RecvExactly(client.get(), 1), "w");
    tcp_info info{};
    socklen_t len = sizeof(info);
    if (getsockopt(client.get(), IPPROTO_TCP, TCP_INFO, &info, &len) == 0) {
      end.offered_scale = info.tcpi_snd_wscale;
    }
    int fd = ServerFdInThisProcess(server_->address(), *LocalAddressOf(client.get()));
    EXPECT_GE(fd, 0);
    if (fd >= 0) {
      end.rcvbuf = GetIntOption(fd, SOL_SOCKET, SO_RCVBUF, "SO_RCVBUF").value_or(-1);
    }
    client.Reset();
    server_.reset();
    return end;
  };
  const ServerEnd by_default = server_end(0);
  const ServerEnd small = server_end(4096);
  EXPECT_EQ(small.rcvbuf, 2 * 4096) << "the kernel doubles SO_RCVBUF for its bookkeeping";
  EXPECT_GT(by_default.offered_scale, 0)
      << "window scaling is on by default (net.ipv4.tcp_window_scaling)";
  EXPECT_GE(small.offered_scale, 0);
  EXPECT_LT(small.offered_scale, by_default.offered_scale)
      << "a 4 KiB buffer needs no scale, yet the server offered the default's";
}

TEST_P(EchoServerTest, LingerRstMakesClientReadFailWithReset) {
  ServerOptions options = BaseOptions();
  options.linger.mode = Linger::Mode::kReset;
  options.idle_timeout = absl::Milliseconds(200);
  StartServer(options);
  UniqueFd fd = Connect(server_->address());
  ASSERT_TRUE(fd.valid());
  ASSERT_TRUE(SendAll(fd.get(), "x"));
  ASSERT_EQ(RecvExactly(fd.get(), 1), "x");
  int error = 0;
  RecvUntilEof(fd.get(), &error);
  EXPECT_EQ(error, ECONNRESET);
}

TEST_P(EchoServerTest, MaxConnectionsHolds) {
  ServerOptions options = BaseOptions();
  options.max_connections = 3;
  StartServer(options);
  std::vector<UniqueFd> clients;
  for (int i = 0; i < 5; ++i) {
    clients.push_back(Connect(server_->address()));
    ASSERT_TRUE(clients.back().valid());
    ASSERT_TRUE(SendAll(clients.back().get(), "m"));
  }
  // Exactly three are served; the other two wait (in the backlog, or parked unread by a worker
  // that accepted them concurrently), and none is closed.
  std::vector<int> served;
  std::vector<int> waiting;
  ASSERT_TRUE(Eventually([&] {
    int n = 0;
    for (auto& c : clients) {
      n += Readable(c.get(), 0) ? 1 : 0;
    }
    return n >= 3;
  }));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  for (int i = 0; i < 5; ++i) {
    if (!Readable(clients[i].get(), 0)) {
      waiting.push_back(i);
      continue;
    }
    EXPECT_EQ(RecvExactly(clients[i].get(), 1), "m") << "client " << i;
    served.push_back(i);
  }
  EXPECT_EQ(served.size(), 3u);
  EXPECT_EQ(waiting.size(), 2u);
  EXPECT_EQ(server_->Stats().open, 3u);
  EXPECT_GE(server_->Stats().accept_pauses_limit, 1u);

  // Room again: close the served ones; the waiting ones and a newcomer are served.
  for (int i : served) {
    clients[i].Reset();
  }
  UniqueFd newcomer = Connect(server_->address());
  ASSERT_TRUE(newcomer.valid());
  ASSERT_TRUE(SendAll(newcomer.get(), "n"));
  for (int i : waiting) {
    EXPECT_EQ(RecvExactly(clients[i].get(), 1), "m") << "waiting client " << i;
  }
  EXPECT_EQ(RecvExactly(newcomer.get(), 1), "n");
  EXPECT_LE(server_->Stats().open, 3u);
}

TEST_P(EchoServerTest, ShutdownServesAnIdleConnectionUntilTheDeadlineThenEndsItWithFin) {
  StartServer(BaseOptions());
  UniqueFd fd = Connect(server_->address());
  ASSERT_TRUE(fd.valid());
  ASSERT_TRUE(SendAll(fd.get(), "abc"));
  ASSERT_EQ(RecvExactly(fd.get(), 3), "abc");
  server_->Shutdown();
  EXPECT_TRUE(server_->Wait().ok());
  int error = -1;
  RecvUntilEof(fd.get(), &error);
  EXPECT_EQ(error, 0);
  StatsSnapshot s = server_->Stats();
  EXPECT_EQ(s.open, 0u);
  EXPECT_EQ(s.drain_cut, 1u);
  EXPECT_EQ(s.drain_unechoed_bytes, 0u);
}

TEST_P(EchoServerTest, ShutdownKeepsServingAClientThatPausesBetweenRequests) {
  // A request/response client: every request sent after the shutdown began, 200 ms apart (far
  // longer than any "quiet" guess), is echoed in full, and the connection ends when the client
  // closes it, long before the deadline.
  ServerOptions options = BaseOptions();
  options.drain_timeout = absl::Seconds(30);
  StartServer(options);
  UniqueFd fd = Connect(server_->address());
  ASSERT_TRUE(fd.valid());
  ASSERT_TRUE(SendAll(fd.get(), "before"));
  ASSERT_EQ(RecvExactly(fd.get(), 6), "before");
  server_->Shutdown();
  for (int i = 0; i < 4; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    std::string request = RandomBytes(16 * 1024, 100 + i);
    ASSERT_TRUE(SendAll(fd.get(), request)) << "request " << i;
    ASSERT_EQ(RecvExactly(fd.get(), request.size()), request) << "request " << i;
  }
  shutdown(fd.get(), SHUT_WR);
  int error = -1;
  EXPECT_EQ(RecvUntilEof(fd.get(), &error), "");
  EXPECT_EQ(error, 0);
  EXPECT_TRUE(server_->Wait().ok());
  StatsSnapshot s = server_->Stats();
  EXPECT_EQ(s.drain_cut, 0u);
  EXPECT_EQ(s.bytes_out, 6u + 4 * 16 * 1024);
}

TEST_P(EchoServerTest, ShutdownDeadlineCountsTheConnectionsCutAndTheirUnechoedBytes) {
  // A peer that sends and never reads holds its echo in our queue and the socket buffers: at the
  // deadline it is cut, and the summary says how much of its echo it never got. The peer's own
  // count is the witness: everything it sent minus what it can still read.
  ServerOptions options = BaseOptions();
  options.threads = 1;
  options.drain_timeout = absl::Milliseconds(500);
  StartServer(options);
  UniqueFd fd = Connect(server_->address());
  ASSERT_TRUE(fd.valid());
  std::string sent = FillWithoutReading(fd.get(), size_t{32} << 20, 15);
  ASSERT_GT(sent.size(), options.max_pending_bytes);
  server_->Shutdown();
  EXPECT_TRUE(server_->Wait().ok());
  // What reached the peer before the cut (echo bytes on their way, then EOF or RST).
  fcntl(fd.get(), F_SETFL, fcntl(fd.get(), F_GETFL) & ~O_NONBLOCK);
  std::string got = RecvUntilEof(fd.get());
  StatsSnapshot s = server_->Stats();
  EXPECT_EQ(s.drain_cut, 1u);
  ASSERT_LE(got.size(), sent.size());
  EXPECT_TRUE(got == sent.substr(0, got.size()));
  // Every byte is either echoed to the peer or counted as unechoed; bytes still on the wire or
  // in the peer's send queue at the cut never reached the server and are neither.
  // (The slack: bytes the peer's kernel received and had not acknowledged yet at the cut count
  // as both, SIOCOUTQ being write_seq - snd_una.)
  EXPECT_LE(got.size() + s.drain_unechoed_bytes, sent.size() + 64 * 1024);
  EXPECT_GT(s.drain_unechoed_bytes, 0u);
  EXPECT_GE(got.size() + s.drain_unechoed_bytes, s.bytes_in) << "bytes read and then lost";
}

TEST_P(EchoServerTest, ShutdownWithBytesInFlightEchoesThemAllThenEndsWithFin) {
  // At shutdown the client's bytes sit everywhere at once: in the server's receive buffer,
  // its echo queue (backpressured), its send buffer and the client's receive buffer. Closing
  // when the echo queue is momentarily empty would find bytes unread and send RST.
  ServerOptions options = BaseOptions();
  options.drain_timeout = absl::Seconds(30);  // generous: the test does not time the drain
  StartServer(options);
  UniqueFd fd = Connect(server_->address());
  ASSERT_TRUE(fd.valid());
  std::string sent = FillWithoutReading(fd.get(), size_t{32} << 20, 11);
  ASSERT_GT(sent.size(), options.max_pending_bytes);
  server_->Shutdown();
  ExpectEverythingEchoedThenEof(fd.get(), sent);
  EXPECT_TRUE(server_->Wait().ok());
  StatsSnapshot s = server_->Stats();
  EXPECT_EQ(s.bytes_out, sent.size());
  EXPECT_EQ(s.open, 0u);
}

TEST_P(EchoServerTest, ClientsConnectingDuringShutdownAreNeverLeftHanging) {
  // Connections the kernel completes while the workers drain are served, refused, reset from
  // the closed listener's backlog, or closed by the loop along with the listener; none stays
  // open unserved until the server object goes away.
  for (bool reuse_port : {true, false}) {
    ServerOptions options = BaseOptions();
    options.reuse_port = reuse_port;
    StartServer(options);
    SocketAddress address = server_->address();
    std::vector<UniqueFd> clients;
    std::atomic<bool> stop{false};
    std::thread connector([&] {
      for (int i = 0; i < 300 && !stop.load(); ++i) {
        UniqueFd c = Connect(address, 5);
        if (c.valid()) {
          clients.push_back(std::move(c));
        }
      }
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    server_->Shutdown();
    EXPECT_TRUE(server_->Wait().ok());
    stop.store(true);
    connector.join();
    int hanging = 0;
    for (const UniqueFd& c : clients) {
      // EOF or RST: readable at once. 5 s is only a bound for a broken server.
      if (!Readable(c.get(), 5000)) {
        ++hanging;
      }
    }
    EXPECT_EQ(hanging, 0) << "of " << clients.size() << " clients, reuse_port " << reuse_port;
    server_.reset();
  }
}

TEST_P(EchoServerTest, LingeringCloseOfAStalledPeerDoesNotStallOtherConnections) {
  // --linger 3: closing a connection whose echo the peer never takes lingers 3 s (data and FIN
  // unacknowledged in the send queue, none unread: unread bytes would make it an immediate RST
  // instead). One thread, so both connections share one loop, which must not wait with it.
  constexpr int kLingerS = 3;
  ServerOptions options = BaseOptions();
  options.threads = 1;
  options.linger = Linger{Linger::Mode::kSeconds, kLingerS};
  options.write_timeout = absl::Milliseconds(300);
  options.sndbuf = 64 * 1024;
  options.max_pending_bytes = 4 << 20;  // the server reads everything the peer sends
  StartServer(options);
  UniqueFd other = Connect(server_->address());
  ASSERT_TRUE(other.valid());
  ASSERT_TRUE(SendAll(other.get(), "warm"));
  ASSERT_EQ(RecvExactly(other.get(), 4), "warm");
  // A small receive buffer and 1 MiB sent: the echo cannot all fit into the windows and the
  // server's send buffer, so it waits in the server's queue and the write timeout fires.
  absl::StatusOr<UniqueFd> stalled = CreateTcpSocket(AF_INET, Blocking::kBlocking);
  ASSERT_TRUE(stalled.ok());
  ASSERT_TRUE(SetReceiveBuffer(stalled->get(), 4096).ok());
  ASSERT_EQ(connect(stalled->get(), server_->address().sockaddr_ptr(), server_->address().length()),
            0);
  ASSERT_TRUE(SendAll(stalled->get(), RandomBytes(1 << 20, 12)));
  ASSERT_TRUE(Eventually([&] { return server_->Stats().write_timeouts == 1; }));
  auto timed_out = std::chrono::steady_clock::now();
  // The server is closing the stalled connection now, which lingers; the loop serves on.
  ASSERT_TRUE(SendAll(other.get(), "ping"));
  EXPECT_EQ(RecvExactly(other.get(), 4), "ping");
  double echo_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - timed_out).count();
  // A correctness bound, not a speed claim: a loop that waited with the close answers after 3 s.
  EXPECT_LT(echo_s, kLingerS / 2.0) << "the echo waited for the lingering close";
  // And the close did linger, as the kernel does it (a lower bound, safe on a slow machine).
  ASSERT_TRUE(Eventually([&] { return server_->Stats().closed == 1; }));
  double close_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - timed_out).count();
  EXPECT_GE(close_s, kLingerS * 0.75) << "the close did not linger";
  EXPECT_EQ(server_->Stats().open, 1u);
  EXPECT_EQ(server_->Stats().errors.count(Phase::kRead, ErrorClass::kReset), 0u);
}

TEST_P(EchoServerTest, SharedListenerWithoutReuseport) {
  ServerOptions options = BaseOptions();
  options.reuse_port = false;
  StartServer(options);
  for (int i = 0; i < 20; ++i) {
    std::string data = RandomBytes(5000, 600 + i);
    ASSERT_EQ(EchoThroughHalfClose(server_->address(), data), data);
  }
}

TEST_P(EchoServerTest, PortInUseIsAnAddrInUseError) {
  // Default flags on both (SO_REUSEPORT listeners, same user): the second server must not join
  // the first one's reuseport group and share its traffic.
  for (bool first_reuse_port : {true, false}) {
    for (bool second_reuse_port : {true, false}) {
      ServerOptions first = BaseOptions();
      first.reuse_port = first_reuse_port;
      StartServer(first);
      ServerOptions again = BaseOptions();
      again.listen = server_->address();
      again.reuse_port = second_reuse_port;
      absl::StatusOr<std::unique_ptr<EchoServer>> second = EchoServer::Start(again);
      ASSERT_FALSE(second.ok()) << "reuse_port " << first_reuse_port << "/" << second_reuse_port;
      EXPECT_EQ(ErrnoOf(second.status()).value_or(0), EADDRINUSE);
      EXPECT_NE(second.status().message().find("EADDRINUSE"), absl::string_view::npos)
          << second.status();
      EXPECT_NE(second.status().message().find(server_->address().ToString()),
                absl::string_view::npos)
          << second.status();
      server_.reset();
    }
  }
}

TEST_P(EchoServerTest, RestartOnTheSamePortPassesOverTimeWait) {
  StartServer(BaseOptions());
  SocketAddress address = server_->address();
  UniqueFd fd = Connect(address);
  ASSERT_TRUE(fd.valid());
  ASSERT_TRUE(SendAll(fd.get(), "tw"));
  ASSERT_EQ(RecvExactly(fd.get(), 2), "tw");
  server_->Shutdown();  // the server closes first: its end of the connection is in TIME_WAIT
  ASSERT_TRUE(server_->Wait().ok());
  EXPECT_EQ(RecvUntilEof(fd.get()), "");
  fd.Reset();
  server_.reset();
  ServerOptions again = BaseOptions();
  again.listen = address;
  StartServer(again);
  EXPECT_EQ(server_->address(), address);
}

// Start runs with the options ValidateAndResolve made, as they are (/proc is read once, by the
// resolution): with a /proc whose net.core.somaxconn is 37, each listener's accept queue limit,
// as the kernel reports it, is 37, not the machine's own somaxconn.
TEST_P(EchoServerTest, StartRunsWithTheResolvedOptionsAsGiven) {
  const std::filesystem::path root =
      std::filesystem::temp_directory_path() /
      absl::StrCat("socklab_echo_resolved_", getpid(), "_", static_cast<int>(GetParam()));
  std::filesystem::create_directories(root / "proc/sys/net/core");
  std::ofstream(root / "proc/sys/net/core/somaxconn") << "37\n";
  absl::StatusOr<ResolvedOptions> resolved = ValidateAndResolve(BaseOptions(), ProcFs(root));
  std::filesystem::remove_all(root);
  ASSERT_TRUE(resolved.ok()) << resolved.status();
  ASSERT_EQ(resolved->options.backlog, 37);
  absl::StatusOr<std::unique_ptr<EchoServer>> server = EchoServer::Start(*resolved);
  ASSERT_TRUE(server.ok()) << server.status();
  EXPECT_EQ((*server)->options().backlog, 37);
  const std::vector<tcpstat::TcpSocket> listeners =
      ServerSocketsOnPort((*server)->address().port());
  ASSERT_EQ(listeners.size(), 2u) << "one SO_REUSEPORT listener per thread";
  for (const tcpstat::TcpSocket& listener : listeners) {
    ASSERT_TRUE(listener.accept_backlog.has_value());
    EXPECT_EQ(*listener.accept_backlog, 37);
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, EchoServerTest,
                         ::testing::Values(loop::BackendChoice::kEpoll,
                                           loop::BackendChoice::kIoUring),
                         [](const auto& info) {
                           return info.param == loop::BackendChoice::kEpoll ? "epoll" : "io_uring";
                         });

}  // namespace
}  // namespace socklab::server

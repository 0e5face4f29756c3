#include "core/loop/event_loop.h"

#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "core/base/clock.h"
#include "core/base/unique_fd.h"
#include "core/net/address.h"
#include "core/net/socket.h"
#include "gtest/gtest.h"
#include "tests/core/loop/loop_test_util.h"

namespace socklab::loop {
namespace {

using testing::AcceptedConnection;
using testing::AcceptOneThrough;
using testing::Record;
using testing::Recorder;
using testing::RunUntil;
using testing::Take;

constexpr Token kAcceptToken = 1;
constexpr Token kConnectToken = 2;
constexpr Token kServerRecv = 3;
constexpr Token kClientRecv = 4;
constexpr Token kServerSend = 5;
constexpr Token kClientSend = 6;
constexpr Token kCloseToken = 7;

// Sends `payload` from a plain blocking socket on its own thread (the peer the loop serves).
class BlockingWriter {
 public:
  BlockingWriter(int fd, const std::string& payload)
      : thread_([fd, &payload] {
          size_t off = 0;
          while (off < payload.size()) {
            ssize_t n = ::send(fd, payload.data() + off, payload.size() - off, MSG_NOSIGNAL);
            if (n <= 0) {
              return;
            }
            off += static_cast<size_t>(n);
          }
        }) {}
  ~BlockingWriter() { thread_.join(); }

 private:
  std::thread thread_;
};

std::string Pattern(size_t size) {
  std::string s(size, '\0');
  for (size_t i = 0; i < size; ++i) {
    s[i] = static_cast<char>((i * 7 + i / 1000) & 0xff);
  }
  return s;
}

class EventLoopTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    SOCKLAB_SKIP_IF_UNAVAILABLE(GetParam());
    auto loop = EventLoop::Create(GetParam(), &rec_);
    ASSERT_TRUE(loop.ok()) << loop.status();
    loop_ = *std::move(loop);
    ASSERT_EQ(loop_->backend(), GetParam());
  }

  UniqueFd Listen() {
    ListenOptions options;
    options.address = SocketAddress::Loopback(AF_INET, 0);
    auto fd = ListenTcp(options);
    EXPECT_TRUE(fd.ok()) << fd.status();
    auto local = LocalAddressOf(fd->get());
    EXPECT_TRUE(local.ok());
    address_ = *local;
    return *std::move(fd);
  }

  UniqueFd NewSocket() {
    auto fd = CreateTcpSocket(AF_INET, Blocking::kNonBlocking);
    EXPECT_TRUE(fd.ok()) << fd.status();
    return *std::move(fd);
  }

  // Accept + connect through the loop; returns {server fd, client fd}, both owned by the caller.
  std::pair<UniqueFd, UniqueFd> ConnectedPair(int listen_fd) {
    UniqueFd client = NewSocket();
    loop_->Accept(listen_fd, kAcceptToken);
    loop_->Connect(client.get(), address_, kConnectToken);
    auto accepted = Take(*loop_, rec_, Op::kAccept, kAcceptToken);
    auto connected = Take(*loop_, rec_, Op::kConnect, kConnectToken);
    EXPECT_TRUE(accepted.has_value());
    EXPECT_TRUE(connected.has_value());
    if (!accepted || !connected) {
      return {};
    }
    EXPECT_GE(accepted->res, 0);
    EXPECT_TRUE(accepted->more);
    EXPECT_EQ(connected->res, 0);
    loop_->CancelAccept(listen_fd);
    auto cancelled = Take(*loop_, rec_, Op::kAccept, kAcceptToken);
    EXPECT_TRUE(cancelled.has_value() && cancelled->res == -ECANCELED && !cancelled->more);
    return {UniqueFd(accepted->res), std::move(client)};
  }

  // Collects `want` bytes of kReceive data for `token`.
  std::string ReceiveBytes(Token token, size_t want) {
    std::string got;
    RunUntil(*loop_, [&] {
      for (auto it = rec_.records.begin(); it != rec_.records.end();) {
        if (it->op == Op::kReceive && it->token == token && it->res > 0) {
          got += it->data;
          it = rec_.records.erase(it);
        } else {
          ++it;
        }
      }
      return got.size() >= want;
    });
    return got;
  }

  Recorder rec_;
  std::unique_ptr<EventLoop> loop_;
  SocketAddress address_;
};

TEST_P(EventLoopTest, AcceptConnectAndEcho) {
  UniqueFd listener = Listen();
  auto [server, client] = ConnectedPair(listener.get());
  ASSERT_TRUE(server.valid());
  loop_->Receive(server.get(), kServerRecv);
  loop_->Receive(client.get(), kClientRecv);
  for (int i = 0; i < 5; ++i) {
    std::string message = "message " + std::to_string(i);
    loop_->Send(client.get(), message.data(), message.size(), kClientSend);
    auto sent = Take(*loop_, rec_, Op::kSend, kClientSend);
    ASSERT_TRUE(sent.has_value());
    ASSERT_EQ(sent->res, static_cast<int>(message.size()));
    std::string at_server = ReceiveBytes(kServerRecv, message.size());
    ASSERT_EQ(at_server, message);
    loop_->Send(server.get(), at_server.data(), at_server.size(), kServerSend);
    auto echoed = Take(*loop_, rec_, Op::kSend, kServerSend);
    ASSERT_TRUE(echoed.has_value());
    ASSERT_EQ(echoed->res, static_cast<int>(message.size()));
    EXPECT_EQ(ReceiveBytes(kClientRecv, message.size()), message);
  }
}

TEST_P(EventLoopTest, LargeSendCompletesThroughShortSends) {
  UniqueFd listener = Listen();
  auto [server, client] = ConnectedPair(listener.get());
  ASSERT_TRUE(server.valid());
  // Small kernel buffers force short sends.
  ASSERT_TRUE(SetSendBuffer(client.get(), 16 * 1024).ok());
  ASSERT_TRUE(SetReceiveBuffer(server.get(), 16 * 1024).ok());
  const size_t total = 8 * 1024 * 1024;
  std::string payload(total, '\0');
  for (size_t i = 0; i < total; ++i) {
    payload[i] = static_cast<char>((i * 131 + i / 4096) & 0xff);
  }
  size_t offset = 0;
  int sends = 0;
  bool send_failed = false;
  rec_.hook = [&](const Completion& c) {
    if (c.op == Op::kSend && c.token == kClientSend) {
      ++sends;
      if (c.res <= 0) {
        send_failed = true;
        return;
      }
      offset += static_cast<size_t>(c.res);
      if (offset < total) {
        loop_->Send(client.get(), payload.data() + offset, total - offset, kClientSend);
      }
    }
  };
  loop_->Send(client.get(), payload.data(), total, kClientSend);
  loop_->Receive(server.get(), kServerRecv);
  std::string got = ReceiveBytes(kServerRecv, total);
  EXPECT_FALSE(send_failed);
  EXPECT_EQ(offset, total);
  EXPECT_GT(sends, 1) << "expected at least one short send with 16 KiB buffers";
  ASSERT_EQ(got.size(), total);
  EXPECT_TRUE(got == payload) << "payload corrupted or reordered";
}

TEST_P(EventLoopTest, EofEndsReceive) {
  UniqueFd listener = Listen();
  auto [server, client] = ConnectedPair(listener.get());
  ASSERT_TRUE(server.valid());
  loop_->Receive(server.get(), kServerRecv);
  ASSERT_EQ(::send(client.get(), "bye", 3, MSG_NOSIGNAL), 3);
  ASSERT_EQ(::shutdown(client.get(), SHUT_WR), 0);
  EXPECT_EQ(ReceiveBytes(kServerRecv, 3), "bye");
  std::optional<Record> eof = Take(*loop_, rec_, Op::kReceive, kServerRecv);
  ASSERT_TRUE(eof.has_value());
  EXPECT_EQ(eof->res, 0);
  EXPECT_FALSE(eof->more);
}

TEST_P(EventLoopTest, BatchClockIsReadAfterTheWaitThatBroughtTheCompletion) {
  UniqueFd listener = Listen();
  auto [server, client] = ConnectedPair(listener.get());
  ASSERT_TRUE(server.valid());
  loop_->Receive(server.get(), kServerRecv);
  // The loop waits with nothing to do, then the bytes come: the handler must see a batch time
  // taken after they were sent, not one left from before the wait.
  std::thread sender([fd = client.get()] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    ASSERT_EQ(::send(fd, "x", 1, MSG_NOSIGNAL), 1);
  });
  const int64_t before_wait = MonotonicNanos();
  int64_t seen_in_handler = 0;
  rec_.hook = [&](const Completion& c) {
    if (c.op == Op::kReceive && c.res > 0) {
      seen_in_handler = loop_->BatchNanos();
    }
  };
  EXPECT_EQ(ReceiveBytes(kServerRecv, 1), "x");
  const int64_t after = MonotonicNanos();
  sender.join();
  EXPECT_GE(seen_in_handler, before_wait + 40'000'000) << "a batch time from before the wait";
  EXPECT_LE(seen_in_handler, after);
}

TEST_P(EventLoopTest, ConnectToClosedPortIsRefused) {
  // Bound but not listening: the kernel answers the SYN with RST.
  auto bound = CreateTcpSocket(AF_INET, Blocking::kNonBlocking);
  ASSERT_TRUE(bound.ok());
  ASSERT_TRUE(Bind(bound->get(), SocketAddress::Loopback(AF_INET, 0)).ok());
  auto target = LocalAddressOf(bound->get());
  ASSERT_TRUE(target.ok());
  UniqueFd client = NewSocket();
  loop_->Connect(client.get(), *target, kConnectToken);
  auto done = Take(*loop_, rec_, Op::kConnect, kConnectToken);
  ASSERT_TRUE(done.has_value());
  EXPECT_EQ(done->res, -ECONNREFUSED);
}

TEST_P(EventLoopTest, PeerResetGivesConnReset) {
  UniqueFd listener = Listen();
  auto [server, client] = ConnectedPair(listener.get());
  ASSERT_TRUE(server.valid());
  loop_->Receive(server.get(), kServerRecv);
  ASSERT_TRUE(SetLinger(client.get(), Linger{Linger::Mode::kReset, 0}).ok());
  client.Reset();
  auto reset = Take(*loop_, rec_, Op::kReceive, kServerRecv);
  ASSERT_TRUE(reset.has_value());
  EXPECT_EQ(reset->res, -ECONNRESET);
  EXPECT_FALSE(reset->more);
}

TEST_P(EventLoopTest, CloseCancelsPendingThenCompletesClose) {
  UniqueFd listener = Listen();
  auto [server, client] = ConnectedPair(listener.get());
  ASSERT_TRUE(server.valid());
  loop_->Receive(server.get(), kServerRecv);
  ASSERT_TRUE(loop_->RunOnce(0).ok());
  loop_->Close(server.Release(), kCloseToken);
  ASSERT_TRUE(RunUntil(
      *loop_, [&] { return !rec_.records.empty() && rec_.records.back().op == Op::kClose; }));
  ASSERT_EQ(rec_.records.size(), 2u);
  EXPECT_EQ(rec_.records[0].op, Op::kReceive);
  EXPECT_EQ(rec_.records[0].res, -ECANCELED);
  EXPECT_FALSE(rec_.records[0].more);
  EXPECT_EQ(rec_.records[1].token, kCloseToken);
  EXPECT_EQ(rec_.records[1].res, 0);
  rec_.records.clear();

  // The same for a listener with an armed accept.
  loop_->Accept(listener.get(), kAcceptToken);
  ASSERT_TRUE(loop_->RunOnce(0).ok());
  loop_->Close(listener.Release(), kCloseToken);
  ASSERT_TRUE(RunUntil(
      *loop_, [&] { return !rec_.records.empty() && rec_.records.back().op == Op::kClose; }));
  ASSERT_EQ(rec_.records.size(), 2u);
  EXPECT_EQ(rec_.records[0].op, Op::kAccept);
  EXPECT_EQ(rec_.records[0].res, -ECANCELED);
  EXPECT_FALSE(rec_.records[0].more);
  EXPECT_EQ(rec_.records[1].res, 0);
  // The client sees the server's FIN.
  char byte;
  int64_t deadline = MonotonicNanos() + testing::kTestTimeoutNs;
  ssize_t n = -1;
  while (MonotonicNanos() < deadline) {
    n = ::recv(client.get(), &byte, 1, MSG_DONTWAIT);
    if (n >= 0 || errno != EAGAIN) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_EQ(n, 0);
}

TEST_P(EventLoopTest, CancelReceiveHoldsBytesUntilReceiveResumes) {
  UniqueFd listener = Listen();
  auto [server, client] = ConnectedPair(listener.get());
  ASSERT_TRUE(server.valid());
  loop_->Receive(server.get(), kServerRecv);
  ASSERT_EQ(::send(client.get(), "abc", 3, MSG_NOSIGNAL), 3);
  EXPECT_EQ(ReceiveBytes(kServerRecv, 3), "abc");
  loop_->CancelReceive(server.get());
  auto cancelled = Take(*loop_, rec_, Op::kReceive, kServerRecv);
  ASSERT_TRUE(cancelled.has_value());
  EXPECT_EQ(cancelled->res, -ECANCELED);
  EXPECT_FALSE(cancelled->more);

  ASSERT_EQ(::send(client.get(), "defgh", 5, MSG_NOSIGNAL), 5);
  // Give the loop time to (wrongly) deliver.
  int64_t until = MonotonicNanos() + 200'000'000;
  RunUntil(*loop_, [&] { return MonotonicNanos() > until; });
  for (const Record& r : rec_.records) {
    EXPECT_NE(r.op, Op::kReceive) << "delivery after CancelReceive: res=" << r.res;
  }
  rec_.records.clear();
  loop_->Receive(server.get(), kServerRecv);
  EXPECT_EQ(ReceiveBytes(kServerRecv, 5), "defgh");
  // And it is live again.
  ASSERT_EQ(::send(client.get(), "ij", 2, MSG_NOSIGNAL), 2);
  EXPECT_EQ(ReceiveBytes(kServerRecv, 2), "ij");
}

TEST_P(EventLoopTest, BytesAndEofWaitingDuringCancelAreDeliveredInOrder) {
  UniqueFd listener = Listen();
  auto [server, client] = ConnectedPair(listener.get());
  ASSERT_TRUE(server.valid());
  loop_->Receive(server.get(), kServerRecv);
  ASSERT_TRUE(loop_->RunOnce(0).ok());
  loop_->CancelReceive(server.get());
  // Sent while the cancel may still be on its way to the kernel.
  ASSERT_EQ(::send(client.get(), "xyz", 3, MSG_NOSIGNAL), 3);
  ASSERT_EQ(::shutdown(client.get(), SHUT_WR), 0);
  auto cancelled = Take(*loop_, rec_, Op::kReceive, kServerRecv);
  ASSERT_TRUE(cancelled.has_value());
  EXPECT_EQ(cancelled->res, -ECANCELED);
  int64_t until = MonotonicNanos() + 100'000'000;
  RunUntil(*loop_, [&] { return MonotonicNanos() > until; });
  EXPECT_TRUE(rec_.records.empty());
  loop_->Receive(server.get(), kServerRecv);
  EXPECT_EQ(ReceiveBytes(kServerRecv, 3), "xyz");
  auto eof = Take(*loop_, rec_, Op::kReceive, kServerRecv);
  ASSERT_TRUE(eof.has_value());
  EXPECT_EQ(eof->res, 0);
  EXPECT_FALSE(eof->more);
  // A receive after EOF reports EOF again, as read(2) does.
  loop_->Receive(server.get(), kServerRecv);
  auto again = Take(*loop_, rec_, Op::kReceive, kServerRecv);
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->res, 0);
}

TEST_P(EventLoopTest, CloseFromInsideAReceiveCompletionEndsDeliveryAtOnce) {
  UniqueFd listener = Listen();
  auto [server, client] = ConnectedPair(listener.get());
  ASSERT_TRUE(server.valid());
  const std::string payload = Pattern(1 << 20);
  int data_after_close = 0;
  bool closed = false;
  int server_fd = server.Release();
  rec_.hook = [&](const Completion& c) {
    if (c.op == Op::kReceive && c.res > 0) {
      if (closed) {
        ++data_after_close;
      } else {
        closed = true;
        loop_->Close(server_fd, kCloseToken);
      }
    }
  };
  loop_->Receive(server_fd, kServerRecv);
  {
    // The writer may see EPIPE/ECONNRESET once the server closes; it just stops.
    BlockingWriter writer(client.get(), payload);
    ASSERT_TRUE(RunUntil(
        *loop_, [&] { return !rec_.records.empty() && rec_.records.back().op == Op::kClose; }));
    ::shutdown(client.get(), SHUT_RDWR);
  }
  EXPECT_EQ(data_after_close, 0);
  int cancels = 0;
  for (const Record& r : rec_.records) {
    if (r.op == Op::kReceive && r.res == -ECANCELED) {
      ++cancels;
      EXPECT_FALSE(r.more);
    }
  }
  EXPECT_EQ(cancels, 1);
  EXPECT_EQ(rec_.records.back().res, 0);
  EXPECT_EQ(rec_.records.back().token, kCloseToken);
}

TEST_P(EventLoopTest, TimersFireInOrderAndCancelledNeverFire) {
  int64_t now = MonotonicNanos();
  loop_->AddTimer(now + 30'000'000, 30);
  loop_->AddTimer(now + 10'000'000, 10);
  TimerId cancelled = loop_->AddTimer(now + 20'000'000, 20);
  loop_->AddTimer(now + 40'000'000, 40);
  EXPECT_TRUE(loop_->CancelTimer(cancelled));
  ASSERT_TRUE(RunUntil(*loop_, [&] { return rec_.records.size() >= 3; }));
  // Wait past the cancelled deadline and the last one for stragglers.
  int64_t until = MonotonicNanos() + 50'000'000;
  RunUntil(*loop_, [&] { return MonotonicNanos() > until; });
  std::vector<Token> fired;
  for (const Record& r : rec_.records) {
    EXPECT_EQ(r.op, Op::kTimer);
    EXPECT_EQ(r.res, 0);
    fired.push_back(r.token);
  }
  EXPECT_EQ(fired, (std::vector<Token>{10, 30, 40}));
  EXPECT_FALSE(loop_->CancelTimer(cancelled));
  EXPECT_GE(MonotonicNanos(), now + 40'000'000);
}

TEST_P(EventLoopTest, TimerWakesABlockingWait) {
  int64_t deadline = MonotonicNanos() + 20'000'000;
  loop_->AddTimer(deadline, 99);
  // RunOnce(-1) has no bound of its own: only the timer can end this wait.
  auto n = loop_->RunOnce(-1);
  ASSERT_TRUE(n.ok());
  if (*n == 0) {  // a spurious early return is allowed; the timer must still fire
    n = loop_->RunOnce(-1);
  }
  ASSERT_EQ(rec_.records.size(), 1u);
  EXPECT_EQ(rec_.records[0].token, 99u);
  EXPECT_GE(MonotonicNanos(), deadline);
}

TEST_P(EventLoopTest, WakeAndRequestStopFromAnotherThread) {
  std::atomic<bool> woke{false};
  std::thread waker([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    woke = true;
    loop_->Wake();
  });
  auto n = loop_->RunOnce(-1);  // returns only when woken
  waker.join();
  ASSERT_TRUE(n.ok());
  EXPECT_TRUE(woke.load());

  std::thread stopper([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    loop_->RequestStop();
  });
  absl::Status status = loop_->Run();
  stopper.join();
  EXPECT_TRUE(status.ok()) << status;

  // A stop requested before Run() is honoured, once.
  loop_->RequestStop();
  EXPECT_TRUE(loop_->Run().ok());
}

TEST_P(EventLoopTest, NonblockingListenerWaitsQuietlyForItsFirstConnection) {
  // accept4 on an empty queue says EAGAIN: no error, wait for readiness. Neither backend may
  // hand it to the user, and neither may end the accept over it.
  UniqueFd listener = Listen();
  ASSERT_TRUE(SetNonBlocking(listener.get(), true).ok());
  loop_->Accept(listener.get(), kAcceptToken);
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(loop_->RunOnce(1'000'000).ok());
  }
  EXPECT_TRUE(rec_.records.empty())
      << "op " << OpName(rec_.records.front().op) << " res " << rec_.records.front().res;
  auto client = ConnectTcp(address_);
  ASSERT_TRUE(client.ok()) << client.status();
  auto accepted = Take(*loop_, rec_, Op::kAccept, kAcceptToken);
  ASSERT_TRUE(accepted.has_value());
  EXPECT_GE(accepted->res, 0);
  EXPECT_TRUE(accepted->more);
  UniqueFd server(accepted->res);
  loop_->CancelAccept(listener.get());
  auto cancelled = Take(*loop_, rec_, Op::kAccept, kAcceptToken);
  EXPECT_TRUE(cancelled.has_value() && cancelled->res == -ECANCELED && !cancelled->more);
}

TEST_P(EventLoopTest, AcceptWithFdTableFullEndsWithEmfile) {
  // In a child: lowering RLIMIT_NOFILE must not affect the rest of the suite.
  UniqueFd listener = Listen();
  SocketAddress address = address_;
  Backend backend = GetParam();
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    Recorder rec;
    auto loop = EventLoop::Create(backend, &rec);
    if (!loop.ok()) {
      _exit(10);
    }
    auto client = ConnectTcp(address);  // completes from the listener's backlog
    if (!client.ok()) {
      _exit(11);
    }
    int next_fd = dup(0);
    if (next_fd < 0) {
      _exit(12);
    }
    close(next_fd);
    rlimit limit{};
    getrlimit(RLIMIT_NOFILE, &limit);
    limit.rlim_cur = static_cast<rlim_t>(next_fd);  // no fd number is free below the limit
    if (setrlimit(RLIMIT_NOFILE, &limit) != 0) {
      _exit(13);
    }
    (*loop)->Accept(listener.get(), kAcceptToken);
    auto done = Take(**loop, rec, Op::kAccept, kAcceptToken, 10'000'000'000);
    if (!done.has_value()) {
      _exit(14);
    }
    if (done->res != -EMFILE) {
      _exit(15);
    }
    if (done->more) {
      _exit(16);
    }
    // Disarmed: no further completions, however long the listener stays readable.
    int64_t until = MonotonicNanos() + 100'000'000;
    RunUntil(**loop, [&] { return MonotonicNanos() > until; });
    _exit(rec.records.empty() ? 0 : 17);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status)) << "child died: status " << status;
  EXPECT_EQ(WEXITSTATUS(status), 0)
      << "10 create, 11 connect, 12 dup, 13 setrlimit, 14 no completion, 15 not EMFILE, "
         "16 more=true, 17 completions after disarm";
}

TEST_P(EventLoopTest, TinyReceiveBuffersStillDeliverEveryByte) {
  // Two 256-byte buffers: the io_uring multishot receive runs dry (ENOBUFS) over and over and
  // must be re-armed without the user noticing; epoll reads 256 bytes at a time.
  Recorder rec;
  LoopOptions options;
  options.receive_buffer_count = 2;
  options.receive_buffer_size = 256;
  auto made = EventLoop::Create(GetParam(), &rec, options);
  ASSERT_TRUE(made.ok()) << made.status();
  EventLoop& loop = **made;
  AcceptedConnection conn = AcceptOneThrough(loop, rec, kAcceptToken);
  ASSERT_TRUE(conn.server.valid());
  UniqueFd& client = conn.client;
  UniqueFd& server = conn.server;
  const std::string payload = Pattern(1 << 20);
  std::string got;
  bool ended = false;
  rec.hook = [&](const Completion& c) {
    if (c.op == Op::kReceive) {
      if (c.res > 0) {
        EXPECT_LE(c.res, 256);
        got.append(reinterpret_cast<const char*>(c.data), c.res);
      } else {
        ended = true;
      }
    }
  };
  loop.Receive(server.get(), kServerRecv);
  {
    BlockingWriter writer(client.get(), payload);
    EXPECT_TRUE(RunUntil(loop, [&] { return got.size() >= payload.size() || ended; }));
  }
  EXPECT_FALSE(ended);
  ASSERT_EQ(got.size(), payload.size());
  EXPECT_TRUE(got == payload);
}

TEST_P(EventLoopTest, HeldReceiveBuffersKeepTheirBytesUntilReleased) {
  // The handler holds receive buffers while 1 MiB streams in: the first for the whole stream,
  // the others for a few receives each (released oldest first whenever the loop refuses a hold).
  // A held buffer's bytes must stay as they were received until its release, though the loop
  // keeps receiving (epoll into one buffer, io_uring from a ring of 8), holds stop at the bound
  // (epoll: max_held_receive_buffers; io_uring: half the ring), and every byte arrives in order.
  Recorder rec;
  LoopOptions options;
  options.receive_buffer_count = 8;
  options.receive_buffer_size = 256;
  options.max_held_receive_buffers = 3;
  const size_t bound = GetParam() == Backend::kIoUring ? 4 : 3;
  auto made = EventLoop::Create(GetParam(), &rec, options);
  ASSERT_TRUE(made.ok()) << made.status();
  EventLoop& loop = **made;
  AcceptedConnection conn = AcceptOneThrough(loop, rec, kAcceptToken);
  ASSERT_TRUE(conn.server.valid());
  UniqueFd& client = conn.client;
  UniqueFd& server = conn.server;
  // No short period (as Pattern has): a buffer refilled with later bytes cannot look unchanged.
  std::string payload(1 << 20, '\0');
  for (size_t i = 0; i < payload.size(); ++i) {
    payload[i] = static_cast<char>((i * 2654435761u) >> 24);
  }
  struct Held {
    int hold;
    const std::byte* data;
    size_t size;
    size_t offset;  // of its first byte in the payload
  };
  auto intact = [&](const Held& h) {
    return std::memcmp(h.data, payload.data() + h.offset, h.size) == 0;
  };
  std::optional<Held> first;
  std::deque<Held> rolling;
  size_t received = 0;
  size_t most_held = 0;
  size_t refused = 0;
  size_t changed = 0;
  std::string got;
  bool ended = false;
  rec.hook = [&](const Completion& c) {
    if (c.op != Op::kReceive) {
      return;
    }
    if (c.res <= 0) {
      ended = true;
      return;
    }
    got.append(reinterpret_cast<const char*>(c.data), c.res);
    Held h{loop.HoldReceiveBuffer(), c.data, static_cast<size_t>(c.res), received};
    received += h.size;
    if (h.hold >= 0) {
      EXPECT_EQ(loop.HoldReceiveBuffer(), -1) << "one completion held twice";
      if (!first) {
        first = h;
      } else {
        rolling.push_back(h);
      }
      most_held = std::max(most_held, rolling.size() + 1);
      return;
    }
    ++refused;
    EXPECT_EQ(rolling.size() + (first ? 1 : 0), bound) << "a hold refused below the bound";
    if (!rolling.empty()) {
      changed += intact(rolling.front()) ? 0 : 1;
      loop.ReleaseReceiveBuffer(rolling.front().hold);
      rolling.pop_front();
    }
  };
  loop.Receive(server.get(), kServerRecv);
  {
    BlockingWriter writer(client.get(), payload);
    EXPECT_TRUE(RunUntil(loop, [&] { return got.size() >= payload.size() || ended; }));
  }
  EXPECT_EQ(loop.HoldReceiveBuffer(), -1) << "held outside a receive completion";
  ASSERT_TRUE(first.has_value());
  EXPECT_TRUE(intact(*first)) << "the buffer held through the whole stream changed";
  loop.ReleaseReceiveBuffer(first->hold);
  for (const Held& h : rolling) {
    changed += intact(h) ? 0 : 1;
    loop.ReleaseReceiveBuffer(h.hold);
  }
  EXPECT_EQ(changed, 0u) << "held buffers changed before their release";
  EXPECT_EQ(most_held, bound);
  EXPECT_GT(refused, 0u);
  EXPECT_FALSE(ended);
  ASSERT_EQ(got.size(), payload.size());
  EXPECT_TRUE(got == payload);
  // Released buffers serve receives again.
  rec.hook = [&](const Completion& c) {
    if (c.op == Op::kReceive && c.res > 0) {
      got.append(reinterpret_cast<const char*>(c.data), c.res);
    }
  };
  const std::string more = Pattern(5000);
  {
    BlockingWriter writer(client.get(), more);
    EXPECT_TRUE(RunUntil(loop, [&] { return got.size() >= payload.size() + more.size(); }));
  }
  EXPECT_TRUE(got.substr(payload.size()) == more);
}

TEST_P(EventLoopTest, CancelAndReceiveAgainOnEveryChunkLosesNothing) {
  // Backpressure toggled as fast as possible while data streams in: on io_uring the multishot
  // receive is being cancelled while new Receive() calls arrive, so bytes the kernel took in
  // between must be handed over in order, and nothing may arrive between a CancelReceive and
  // the next Receive.
  AcceptedConnection conn = AcceptOneThrough(*loop_, rec_, kAcceptToken);
  ASSERT_TRUE(conn.server.valid());
  UniqueFd& client = conn.client;
  UniqueFd& server = conn.server;
  const std::string payload = Pattern(4 << 20);
  std::string got;
  bool armed = true;
  int cancels = 0;
  int violations = 0;
  bool ended = false;
  int chunks = 0;
  rec_.hook = [&](const Completion& c) {
    if (c.op != Op::kReceive) {
      return;
    }
    if (c.res == -ECANCELED) {
      ++cancels;
      return;
    }
    if (c.res <= 0) {
      ended = true;
      return;
    }
    if (!armed) {
      ++violations;
    }
    got.append(reinterpret_cast<const char*>(c.data), c.res);
    ++chunks;
    loop_->CancelReceive(server.get());
    armed = false;
    if (chunks % 3 != 0) {
      loop_->Receive(server.get(), kServerRecv);  // at once, before the cancel has landed
      armed = true;
    }
  };
  loop_->Receive(server.get(), kServerRecv);
  {
    BlockingWriter writer(client.get(), payload);
    EXPECT_TRUE(RunUntil(*loop_, [&] {
      if (!armed) {  // every third chunk: resume from outside the handler, a turn later
        loop_->Receive(server.get(), kServerRecv);
        armed = true;
      }
      return got.size() >= payload.size() || ended;
    }));
  }
  rec_.records.clear();
  EXPECT_FALSE(ended);
  EXPECT_EQ(violations, 0);
  EXPECT_EQ(cancels, chunks);
  ASSERT_EQ(got.size(), payload.size());
  EXPECT_TRUE(got == payload);
}

TEST_P(EventLoopTest, CloseWithStalledSendCompletesSendThenClose) {
  UniqueFd listener = Listen();
  auto [server, client] = ConnectedPair(listener.get());
  ASSERT_TRUE(server.valid());
  // The server never reads, so a big send stalls once both buffers are full.
  ASSERT_TRUE(SetSendBuffer(client.get(), 16 * 1024).ok());
  const std::string payload = Pattern(16 << 20);
  size_t offset = 0;
  int send_completions = 0;
  rec_.hook = [&](const Completion& c) {
    if (c.op == Op::kSend && c.res > 0) {
      offset += c.res;
      loop_->Send(client.get(), payload.data() + offset, payload.size() - offset, kClientSend);
    }
  };
  loop_->Send(client.get(), payload.data(), payload.size(), kClientSend);
  // Run until the sends have stalled: no completion for 100 ms.
  int64_t quiet_since = MonotonicNanos();
  size_t last_offset = 0;
  RunUntil(*loop_, [&] {
    if (offset != last_offset) {
      last_offset = offset;
      quiet_since = MonotonicNanos();
    }
    return MonotonicNanos() - quiet_since > 100'000'000;
  });
  ASSERT_LT(offset, payload.size());
  rec_.hook = nullptr;
  rec_.records.clear();
  loop_->Close(client.Release(), kCloseToken);
  ASSERT_TRUE(RunUntil(
      *loop_, [&] { return !rec_.records.empty() && rec_.records.back().op == Op::kClose; }));
  for (const Record& r : rec_.records) {
    if (r.op == Op::kSend) {
      ++send_completions;
      EXPECT_TRUE(r.res == -ECANCELED || r.res > 0) << r.res;
    }
  }
  EXPECT_EQ(send_completions, 1);
  EXPECT_EQ(rec_.records.back().res, 0);
}

// An echo server and N clients, all on one loop.
class ManyConnections : public CompletionHandler {
 public:
  static constexpr Token kAccept = 1ull << 62;
  static constexpr size_t kMessage = 100;

  ManyConnections(int count, int listen_fd) : count_(count), listen_fd_(listen_fd) {
    clients_.resize(count);
  }
  void set_loop(EventLoop* loop) { loop_ = loop; }

  void Start(const SocketAddress& address) {
    loop_->Accept(listen_fd_, kAccept);
    for (int i = 0; i < count_; ++i) {
      auto fd = CreateTcpSocket(AF_INET, Blocking::kNonBlocking);
      ASSERT_TRUE(fd.ok()) << fd.status();
      clients_[i].fd = std::move(*fd);
      clients_[i].out.assign(kMessage, static_cast<char>('a' + i % 26));
      loop_->Connect(clients_[i].fd.get(), address, ClientToken(i));
    }
  }

  void OnCompletion(const Completion& c) override {
    if (c.token == kAccept) {
      if (c.res < 0) {
        ++errors_;
        return;
      }
      servers_.push_back(std::make_unique<Server>());
      Server& s = *servers_.back();
      s.fd.Reset(c.res);
      s.index = servers_.size() - 1;
      loop_->Receive(s.fd.get(), ServerToken(s.index));
      return;
    }
    if (c.token & kServerBit) {
      Server& s = *servers_[c.token & ~kServerBit];
      if (c.op == Op::kReceive && c.res > 0) {
        bool idle = s.pending.empty();
        s.pending.append(reinterpret_cast<const char*>(c.data), c.res);
        if (idle) {
          loop_->Send(s.fd.get(), s.pending.data(), s.pending.size(), c.token);
        }
      } else if (c.op == Op::kSend) {
        if (c.res < 0) {
          ++errors_;
          return;
        }
        s.pending.erase(0, c.res);
        if (!s.pending.empty()) {
          loop_->Send(s.fd.get(), s.pending.data(), s.pending.size(), c.token);
        }
      } else if (c.op == Op::kReceive && c.res < 0) {
        ++errors_;
      }
      return;
    }
    int i = static_cast<int>(c.token);
    Client& cl = clients_[i];
    if (c.op == Op::kConnect) {
      if (c.res != 0) {
        ++errors_;
        return;
      }
      loop_->Receive(cl.fd.get(), c.token);
      loop_->Send(cl.fd.get(), cl.out.data(), cl.out.size(), c.token);
    } else if (c.op == Op::kReceive) {
      if (c.res <= 0) {
        ++errors_;
        return;
      }
      cl.in.append(reinterpret_cast<const char*>(c.data), c.res);
      if (cl.in.size() == kMessage) {
        ++done_;
      }
    } else if (c.op == Op::kSend && c.res != static_cast<int>(kMessage)) {
      ++errors_;  // 100 bytes always fit in a fresh socket's buffer
    }
  }

  int done() const { return done_; }
  int errors() const { return errors_; }
  bool AllEchoedExactly() const {
    for (const Client& c : clients_) {
      if (c.in != c.out) {
        return false;
      }
    }
    return true;
  }

 private:
  static constexpr Token kServerBit = 1ull << 61;
  static Token ClientToken(int i) { return static_cast<Token>(i); }
  static Token ServerToken(size_t i) { return kServerBit | i; }
  struct Client {
    UniqueFd fd;
    std::string out;
    std::string in;
  };
  struct Server {
    UniqueFd fd;
    size_t index = 0;
    std::string pending;
  };
  int count_;
  int listen_fd_;
  EventLoop* loop_ = nullptr;
  std::vector<Client> clients_;
  std::vector<std::unique_ptr<Server>> servers_;
  int done_ = 0;
  int errors_ = 0;
};

TEST_P(EventLoopTest, FiveHundredConcurrentConnections) {
  constexpr int kCount = 500;
  ListenOptions options;
  options.address = SocketAddress::Loopback(AF_INET, 0);
  options.backlog = 1024;
  auto listener = ListenTcp(options);
  ASSERT_TRUE(listener.ok());
  auto address = LocalAddressOf(listener->get());
  ASSERT_TRUE(address.ok());
  ManyConnections many(kCount, listener->get());
  auto loop = EventLoop::Create(GetParam(), &many);
  ASSERT_TRUE(loop.ok());
  many.set_loop(loop->get());
  many.Start(*address);
  EXPECT_TRUE(RunUntil(**loop, [&] { return many.done() == kCount || many.errors() > 0; }));
  EXPECT_EQ(many.errors(), 0);
  EXPECT_EQ(many.done(), kCount);
  EXPECT_TRUE(many.AllEchoedExactly());
}

TEST_P(EventLoopTest, UnreadBytesCountsWhatTheHandlerHasNotSeen) {
  UniqueFd listener = Listen();
  auto [server, client] = ConnectedPair(listener.get());
  ASSERT_TRUE(server.valid());
  EXPECT_EQ(loop_->UnreadBytes(server.get()), 0u);
  EXPECT_EQ(loop_->UnreadBytes(listener.get()), 0u);  // not a connection: 0, no error
  const std::string payload = Pattern(3000);
  ASSERT_EQ(::send(client.get(), payload.data(), payload.size(), MSG_NOSIGNAL),
            static_cast<ssize_t>(payload.size()));
  // Loopback delivers during send(), so the bytes sit in the server's receive queue now.
  EXPECT_EQ(loop_->UnreadBytes(server.get()), payload.size());
  loop_->Receive(server.get(), kServerRecv);
  EXPECT_EQ(ReceiveBytes(kServerRecv, payload.size()), payload);
  EXPECT_EQ(loop_->UnreadBytes(server.get()), 0u);
  // Bytes taken by the kernel while the user has no receive armed (io_uring keeps them) are
  // unread too, until the next Receive() hands them over.
  loop_->CancelReceive(server.get());
  ASSERT_EQ(::send(client.get(), payload.data(), 100, MSG_NOSIGNAL), 100);
  EXPECT_EQ(loop_->UnreadBytes(server.get()), 100u);
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(loop_->RunOnce(10'000'000).ok());
    EXPECT_EQ(loop_->UnreadBytes(server.get()), 100u) << "iteration " << i;
  }
  loop_->Receive(server.get(), kServerRecv);
  EXPECT_EQ(ReceiveBytes(kServerRecv, 100), payload.substr(0, 100));
  EXPECT_EQ(loop_->UnreadBytes(server.get()), 0u);
}

INSTANTIATE_TEST_SUITE_P(Backends, EventLoopTest,
                         ::testing::Values(Backend::kEpoll, Backend::kIoUring),
                         testing::BackendParamName);

}  // namespace
}  // namespace socklab::loop

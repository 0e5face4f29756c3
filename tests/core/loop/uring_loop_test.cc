// io_uring-only behaviour: setup flags, the issuer thread, and the internal re-arm paths that the
// backend-independent suite can only observe from outside.
#include "core/loop/uring_loop.h"

#include <sys/socket.h>
#include <sys/utsname.h>

#include <algorithm>
#include <cstdio>
#include <string>
#include <thread>

#include "core/base/unique_fd.h"
#include "core/net/socket.h"
#include "gtest/gtest.h"
#include "tests/core/loop/loop_test_util.h"

namespace socklab::loop {
namespace {

using testing::AcceptedConnection;
using testing::AcceptOneThrough;
using testing::Recorder;
using testing::RunUntil;
using testing::Take;

bool KernelAtLeast(int want_major, int want_minor) {
  utsname uts{};
  int major = 0;
  int minor = 0;
  if (uname(&uts) != 0 || std::sscanf(uts.release, "%d.%d", &major, &minor) != 2) {
    return false;
  }
  return major > want_major || (major == want_major && minor >= want_minor);
}

class UringLoopTest : public ::testing::Test {
 protected:
  void SetUp() override { SOCKLAB_SKIP_IF_UNAVAILABLE(Backend::kIoUring); }

  static UringLoop& AsUring(EventLoop& loop) { return static_cast<UringLoop&>(loop); }

  // Puts `server`'s receive (token 2) in multishot mode: a socket starts with single-shot
  // receives and switches once one of them leaves it empty without filling its buffer, as one
  // byte does.
  static bool ReceiveIdle(EventLoop& loop, Recorder& rec, int client, int server) {
    if (::send(client, "!", 1, MSG_NOSIGNAL) != 1) {
      return false;
    }
    loop.Receive(server, 2);
    auto first = Take(loop, rec, Op::kReceive, 2);
    return first.has_value() && first->res == 1 && first->more;
  }
};

TEST_F(UringLoopTest, UsesDeferTaskrunWhereTheKernelHasIt) {
  Recorder rec;
  auto loop = EventLoop::Create(Backend::kIoUring, &rec);
  ASSERT_TRUE(loop.ok()) << loop.status();
  if (KernelAtLeast(6, 1)) {
    EXPECT_EQ(AsUring(**loop).setup_mode(), "single_issuer+defer_taskrun");
  } else {
    EXPECT_NE(AsUring(**loop).setup_mode(), "single_issuer+defer_taskrun");
  }
  LoopOptions options;
  options.io_uring_defer_taskrun = false;
  auto plain = EventLoop::Create(Backend::kIoUring, &rec, options);
  ASSERT_TRUE(plain.ok()) << plain.status();
  EXPECT_NE(AsUring(**plain).setup_mode(), "single_issuer+defer_taskrun");
}

TEST_F(UringLoopTest, CreatedOnOneThreadRunOnAnother) {
  // SINGLE_ISSUER binds the ring to one task: the ring starts disabled and the thread that first
  // runs the loop becomes its issuer, as in a server that builds its loops before starting
  // their threads.
  Recorder rec;
  auto loop = EventLoop::Create(Backend::kIoUring, &rec);
  ASSERT_TRUE(loop.ok()) << loop.status();
  ListenOptions options;
  options.address = SocketAddress::Loopback(AF_INET, 0);
  auto listener = ListenTcp(options);
  ASSERT_TRUE(listener.ok());
  auto address = LocalAddressOf(listener->get());
  ASSERT_TRUE(address.ok());
  (*loop)->Accept(listener->get(), 1);  // submitted from the creating thread
  bool accepted = false;
  std::thread runner([&] { accepted = RunUntil(**loop, [&] { return !rec.records.empty(); }); });
  auto client = ConnectTcp(*address);
  ASSERT_TRUE(client.ok());
  runner.join();
  ASSERT_TRUE(accepted);
  EXPECT_EQ(rec.records.front().op, Op::kAccept);
  EXPECT_GE(rec.records.front().res, 0);
  UniqueFd server(rec.records.front().res);
}

TEST_F(UringLoopTest, DryBufferRingIsReArmedTransparently) {
  Recorder rec;
  LoopOptions options;
  options.receive_buffer_count = 2;
  options.receive_buffer_size = 128;
  auto loop = EventLoop::Create(Backend::kIoUring, &rec, options);
  ASSERT_TRUE(loop.ok()) << loop.status();
  AcceptedConnection conn = AcceptOneThrough(**loop, rec, 1);
  ASSERT_TRUE(conn.server.valid());
  UniqueFd& client = conn.client;
  UniqueFd& server = conn.server;
  ASSERT_TRUE(ReceiveIdle(**loop, rec, client.get(), server.get()));
  // 64 KiB at once for the armed multishot receive: far more than 2 x 128 bytes.
  std::string payload(64 * 1024, 'x');
  ASSERT_EQ(::send(client.get(), payload.data(), payload.size(), MSG_NOSIGNAL),
            static_cast<ssize_t>(payload.size()));
  size_t got = 0;
  rec.hook = [&](const Completion& c) {
    if (c.op == Op::kReceive && c.res > 0) {
      got += c.res;
    }
  };
  ASSERT_TRUE(RunUntil(**loop, [&] { return got >= payload.size(); }));
  EXPECT_EQ(got, payload.size());
  EXPECT_GT(AsUring(**loop).counters().enobufs, 0u);
  EXPECT_GT(AsUring(**loop).counters().receive_rearms, 0u);
  for (const auto& r : rec.records) {
    EXPECT_TRUE(r.more) << "the receive ended: res=" << r.res;
  }
}

TEST_F(UringLoopTest, StashedBytesAreDeliveredInBufferSizedChunks) {
  // A multishot receive keeps posting completions until a CancelReceive lands; the bytes it took
  // meanwhile are stashed and handed over on the next Receive(), still at most one buffer each.
  constexpr unsigned kBufferSize = 128;
  Recorder rec;
  LoopOptions options;
  options.receive_buffer_count = 256;
  options.receive_buffer_size = kBufferSize;
  auto loop = EventLoop::Create(Backend::kIoUring, &rec, options);
  ASSERT_TRUE(loop.ok()) << loop.status();
  AcceptedConnection conn = AcceptOneThrough(**loop, rec, 1);
  ASSERT_TRUE(conn.server.valid());
  UniqueFd& client = conn.client;
  UniqueFd& server = conn.server;
  ASSERT_TRUE(ReceiveIdle(**loop, rec, client.get(), server.get()));
  std::string payload(16 * 1024, '\0');
  for (size_t i = 0; i < payload.size(); ++i) {
    payload[i] = static_cast<char>(i * 13 + i / 256);
  }
  ASSERT_EQ(::send(client.get(), payload.data(), payload.size(), MSG_NOSIGNAL),
            static_cast<ssize_t>(payload.size()));
  std::string got;
  int largest = 0;
  bool cancel_next = true;
  rec.hook = [&](const Completion& c) {
    if (c.op == Op::kReceive && c.res > 0) {
      largest = std::max(largest, c.res);
      got.append(reinterpret_cast<const char*>(c.data), c.res);
      if (cancel_next) {
        cancel_next = false;
        (*loop)->CancelReceive(server.get());
      }
    }
  };
  ASSERT_TRUE(RunUntil(**loop, [&] { return !cancel_next; }));
  // Let the rest of the kernel's completions land in the stash.
  int64_t until = MonotonicNanos() + 100'000'000;
  RunUntil(**loop, [&] { return MonotonicNanos() > until; });
  cancel_next = false;
  (*loop)->Receive(server.get(), 2);
  ASSERT_TRUE(RunUntil(**loop, [&] { return got.size() >= payload.size(); }));
  EXPECT_TRUE(got == payload);
  EXPECT_LE(largest, static_cast<int>(kBufferSize));
  // The kernel posts a batch of completions per multishot pass, so some always land after the
  // cancel in the first batch: the stash was exercised.
  EXPECT_GT(AsUring(**loop).counters().stashed_bytes, kBufferSize);
  EXPECT_EQ(AsUring(**loop).counters().stash_peak_bytes, AsUring(**loop).counters().stashed_bytes);
}

TEST_F(UringLoopTest, ReceiveIsMultishotWhileTheHandlerKeepsUpAndSingleShotOncePaused) {
  // A multishot pass can take the whole socket queue ahead of the handler, so it is armed only
  // while the handler keeps up; once the handler has paused the receive (backpressure), every
  // kernel receive takes one buffer, so the next pause leaves at most that behind.
  Recorder rec;
  auto loop = EventLoop::Create(Backend::kIoUring, &rec);
  ASSERT_TRUE(loop.ok()) << loop.status();
  AcceptedConnection conn = AcceptOneThrough(**loop, rec, 1);
  ASSERT_TRUE(conn.server.valid());
  const UringLoop::Counters& counters = AsUring(**loop).counters();
  constexpr int kMessages = 50;
  auto exchange = [&] {
    for (int i = 0; i < kMessages; ++i) {
      if (::send(conn.client.get(), "request", 7, MSG_NOSIGNAL) != 7) {
        return false;
      }
      auto got = Take(**loop, rec, Op::kReceive, 2);
      if (!got.has_value() || got->res != 7 || !got->more) {
        return false;
      }
    }
    return true;
  };
  (*loop)->Receive(conn.server.get(), 2);
  ASSERT_TRUE(exchange());
  // The first receive of a socket is single-shot; a message that leaves the socket empty
  // switches it to multishot, which then takes all the others.
  EXPECT_EQ(counters.one_shot_receives, 1u);

  (*loop)->CancelReceive(conn.server.get());
  auto cancelled = Take(**loop, rec, Op::kReceive, 2);
  ASSERT_TRUE(cancelled.has_value() && cancelled->res == -ECANCELED);
  (*loop)->Receive(conn.server.get(), 2);
  ASSERT_TRUE(exchange());
  EXPECT_GE(counters.one_shot_receives, 1u + kMessages);
  EXPECT_EQ(counters.stash_peak_bytes, 0u);
}

TEST_F(UringLoopTest, A16KiBRequestKeepsTheReceiveMultishot) {
  // 16 KiB, the size clients send most after the small ones, must not fill a default receive
  // buffer exactly: a full buffer reads as a peer that is ahead, and every message would then
  // cost a single-shot receive and a poll arm of its own.
  Recorder rec;
  auto loop = EventLoop::Create(Backend::kIoUring, &rec);
  ASSERT_TRUE(loop.ok()) << loop.status();
  AcceptedConnection conn = AcceptOneThrough(**loop, rec, 1);
  ASSERT_TRUE(conn.server.valid());
  const std::string request(16 * 1024, 'r');
  (*loop)->Receive(conn.server.get(), 2);
  constexpr int kMessages = 50;
  for (int i = 0; i < kMessages; ++i) {
    ASSERT_EQ(::send(conn.client.get(), request.data(), request.size(), MSG_NOSIGNAL),
              static_cast<ssize_t>(request.size()));
    size_t received = 0;
    while (received < request.size()) {
      auto got = Take(**loop, rec, Op::kReceive, 2);
      ASSERT_TRUE(got.has_value() && got->res > 0) << "message " << i;
      received += static_cast<size_t>(got->res);
    }
    ASSERT_EQ(received, request.size()) << "message " << i;
  }
  // The first receive of a socket is single-shot; the first message, which leaves the socket
  // empty with room to spare, switches it to multishot for the rest.
  EXPECT_EQ(AsUring(**loop).counters().one_shot_receives, 1u);
}

TEST_F(UringLoopTest, MultishotAcceptOnANonblockingListenerIsNeverReArmed) {
  // Before 5.18 (a73825ba70c9) an accept on an O_NONBLOCK listener completed at once with
  // EAGAIN; re-arming on it would spin. Multishot accept (5.19) waits instead: the one request
  // stays in the kernel however long the queue stays empty.
  Recorder rec;
  auto loop = EventLoop::Create(Backend::kIoUring, &rec);
  ASSERT_TRUE(loop.ok()) << loop.status();
  ListenOptions listen_options;
  listen_options.address = SocketAddress::Loopback(AF_INET, 0);
  absl::StatusOr<UniqueFd> listener = ListenTcp(listen_options);
  ASSERT_TRUE(listener.ok()) << listener.status();
  ASSERT_TRUE(SetNonBlocking(listener->get(), true).ok());
  (*loop)->Accept(listener->get(), 1);
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE((*loop)->RunOnce(1'000'000).ok());
  }
  EXPECT_EQ(AsUring(**loop).counters().accept_rearms, 0u);
  EXPECT_TRUE(rec.records.empty());
  absl::StatusOr<UniqueFd> client = ConnectTcp(*LocalAddressOf(listener->get()));
  ASSERT_TRUE(client.ok()) << client.status();
  auto accepted = Take(**loop, rec, Op::kAccept, 1);
  ASSERT_TRUE(accepted.has_value());
  EXPECT_GE(accepted->res, 0);
  UniqueFd server(accepted->res);
  EXPECT_EQ(AsUring(**loop).counters().accept_rearms, 0u);
}

TEST_F(UringLoopTest, FullSubmissionQueueIsFlushedAndRetried) {
  Recorder rec;
  LoopOptions options;
  options.ring_entries = 8;
  auto loop = EventLoop::Create(Backend::kIoUring, &rec, options);
  ASSERT_TRUE(loop.ok()) << loop.status();
  // 40 connects on an 8-entry SQ.
  auto bound = CreateTcpSocket(AF_INET, Blocking::kNonBlocking);
  ASSERT_TRUE(bound.ok());
  ASSERT_TRUE(Bind(bound->get(), SocketAddress::Loopback(AF_INET, 0)).ok());
  auto target = LocalAddressOf(bound->get());
  ASSERT_TRUE(target.ok());
  std::vector<UniqueFd> sockets;
  ASSERT_TRUE((*loop)->RunOnce(0).ok());  // enable the ring on this thread
  for (int i = 0; i < 40; ++i) {
    auto fd = CreateTcpSocket(AF_INET, Blocking::kNonBlocking);
    ASSERT_TRUE(fd.ok());
    (*loop)->Connect(fd->get(), *target, static_cast<Token>(i));
    sockets.push_back(std::move(*fd));
  }
  ASSERT_TRUE(RunUntil(**loop, [&] { return rec.records.size() >= 40; }));
  for (const auto& r : rec.records) {
    EXPECT_EQ(r.res, -ECONNREFUSED);
  }
  EXPECT_GT(AsUring(**loop).counters().sq_full_flushes, 0u);
}

}  // namespace
}  // namespace socklab::loop

// What only the epoll backend does: when it registers a socket and when it reads one, and the
// syscalls that costs, counted by the kernel's syscall tracepoints rather than by the loop.
#include "core/loop/epoll_loop.h"

#include <sys/socket.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/core/loop/loop_test_util.h"
#include "tests/testing/syscall_trace.h"

namespace socklab::loop {
namespace {

using testing::AcceptedConnection;
using testing::AcceptOneThrough;
using testing::ConnectToNewListener;
using testing::Recorder;
using testing::Take;

constexpr Token kAccept = 1;
constexpr Token kReceive = 2;

TEST(EpollLoopTest, AShortFirstReadOfAnAcceptedSocketIsNotFollowedByARead) {
  if (geteuid() != 0) {
    GTEST_SKIP() << "the syscall tracepoints need root";
  }
  // A request that came with the handshake is read at once; that read is short, and with no
  // event seen yet only the registration it is followed by can vouch that nothing is left, or
  // the loop reads again into EAGAIN: one wasted syscall in a short connection's ten. The kernel
  // counts this thread's recvfrom calls that returned EAGAIN.
  absl::StatusOr<std::unique_ptr<::socklab::testing::SyscallTrace>> trace =
      ::socklab::testing::SyscallTrace::Open("recvfrom", "ret == -11", /*entries=*/false);
  ASSERT_TRUE(trace.ok()) << trace.status();
  ASSERT_TRUE((*trace)->Follow(gettid()));
  Recorder rec;
  auto loop = EventLoop::Create(Backend::kEpoll, &rec);
  ASSERT_TRUE(loop.ok()) << loop.status();
  AcceptedConnection conn = AcceptOneThrough(**loop, rec, kAccept);
  ASSERT_TRUE(conn.server.valid());
  bool first = true;
  for (const std::string request : {"with the handshake", "later"}) {
    ASSERT_EQ(::send(conn.client.get(), request.data(), request.size(), MSG_NOSIGNAL),
              static_cast<ssize_t>(request.size()));
    if (first) {
      (*loop)->Receive(conn.server.get(), kReceive);  // the request is there already
      first = false;
    }
    auto got = Take(**loop, rec, Op::kReceive, kReceive);
    ASSERT_TRUE(got.has_value());
    EXPECT_EQ(got->data, request);
    for (int i = 0; i < 3; ++i) {
      ASSERT_TRUE((*loop)->RunOnce(1'000'000).ok());  // nothing more to read
    }
  }
  conn.client.Reset();
  auto eof = Take(**loop, rec, Op::kReceive, kReceive);
  ASSERT_TRUE(eof.has_value());
  EXPECT_EQ(eof->res, 0);
  ASSERT_EQ((*trace)->Overruns(), 0u);
  EXPECT_EQ((*trace)->Exits(), 0u) << "reads of the accepted socket that found nothing";
}

TEST(EpollLoopTest, AcceptsStopAtTheQueuesCountNotAtEagain) {
  if (geteuid() != 0) {
    GTEST_SKIP() << "the syscall tracepoints need root";
  }
  // accept4 makes the new socket's file before it looks at the queue, so each call that finds
  // the queue empty costs a file made and freed; under connection churn that was one such call
  // per connection. The loop drains the queue by its count instead. The kernel counts this
  // thread's accept4 calls that returned EAGAIN; every client the test connected must come out.
  absl::StatusOr<std::unique_ptr<::socklab::testing::SyscallTrace>> trace =
      ::socklab::testing::SyscallTrace::Open("accept4", "ret == -11", /*entries=*/false);
  ASSERT_TRUE(trace.ok()) << trace.status();
  ASSERT_TRUE((*trace)->Follow(gettid()));
  Recorder rec;
  auto loop = EventLoop::Create(Backend::kEpoll, &rec);
  ASSERT_TRUE(loop.ok()) << loop.status();
  AcceptedConnection first = ConnectToNewListener();  // waits in the queue: accepted at arming
  ASSERT_TRUE(first.client.valid());
  const SocketAddress address = *LocalAddressOf(first.listener.get());
  std::vector<UniqueFd> clients;
  auto connect_one = [&] {
    absl::StatusOr<UniqueFd> client = ConnectTcp(address);
    ASSERT_TRUE(client.ok()) << client.status();
    clients.push_back(*std::move(client));
  };
  for (int i = 0; i < 4; ++i) {
    connect_one();  // a burst queued before the accept is armed
  }
  (*loop)->Accept(first.listener.get(), kAccept);
  std::vector<UniqueFd> accepted;
  auto take_accepts = [&](size_t total) {
    while (accepted.size() < total) {
      auto got = Take(**loop, rec, Op::kAccept, kAccept);
      ASSERT_TRUE(got.has_value()) << accepted.size() << " of " << total << " accepted";
      ASSERT_GE(got->res, 0);
      accepted.emplace_back(got->res);
    }
  };
  take_accepts(5);
  for (int i = 0; i < 3; ++i) {
    connect_one();  // one at a time, each an edge of its own
    take_accepts(6 + i);
  }
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE((*loop)->RunOnce(1'000'000).ok());  // nothing more to accept
  }
  EXPECT_EQ(accepted.size(), 8u);
  EXPECT_EQ(rec.records.size(), 0u) << "a completion beyond the 8 accepts";
  EXPECT_EQ(AcceptQueueLength(first.listener.get()), 0u);
  ASSERT_EQ((*trace)->Overruns(), 0u);
  EXPECT_EQ((*trace)->Exits(), 0u) << "accepts that found the queue empty";
}

TEST(EpollLoopTest, WhatArrivedBeforeTheAcceptIsDeliveredWithoutAnotherEdge) {
  // The first read of an accepted socket takes the request and trusts the registration that
  // follows it to report what is left: here the FIN that came while the socket sat in the
  // backlog, which no later packet will raise an edge for.
  Recorder rec;
  auto loop = EventLoop::Create(Backend::kEpoll, &rec);
  ASSERT_TRUE(loop.ok()) << loop.status();
  AcceptedConnection conn = ConnectToNewListener();
  ASSERT_TRUE(conn.client.valid());
  const std::string request = "sent before the accept";
  ASSERT_EQ(::send(conn.client.get(), request.data(), request.size(), MSG_NOSIGNAL),
            static_cast<ssize_t>(request.size()));
  ASSERT_EQ(::shutdown(conn.client.get(), SHUT_WR), 0);
  (*loop)->Accept(conn.listener.get(), kAccept);
  auto accepted = Take(**loop, rec, Op::kAccept, kAccept);
  ASSERT_TRUE(accepted.has_value() && accepted->res >= 0);
  conn.server = UniqueFd(accepted->res);
  (*loop)->Receive(conn.server.get(), kReceive);
  auto got = Take(**loop, rec, Op::kReceive, kReceive, 2'000'000'000);
  ASSERT_TRUE(got.has_value()) << "the queued request was never reported";
  EXPECT_EQ(got->data, request);
  auto eof = Take(**loop, rec, Op::kReceive, kReceive, 2'000'000'000);
  ASSERT_TRUE(eof.has_value()) << "the queued FIN was never reported";
  EXPECT_EQ(eof->res, 0);
}

TEST(EpollLoopTest, AShortReadAfterAnIdleSpellReadsOnToTheFin) {
  // A socket that went idle stays in the epoll set, and the events of its idle spell are spent:
  // a short read after it proves nothing, since a FIN may sit behind the bytes with no edge left
  // to report it. Only a registration that is new polls the socket; re-adding this one fails
  // with EEXIST and must not vouch for the read.
  Recorder rec;
  auto loop = EventLoop::Create(Backend::kEpoll, &rec);
  ASSERT_TRUE(loop.ok()) << loop.status();
  AcceptedConnection conn = AcceptOneThrough(**loop, rec, kAccept);
  ASSERT_TRUE(conn.server.valid());
  (*loop)->Receive(conn.server.get(), kReceive);
  ASSERT_EQ(::send(conn.client.get(), "a", 1, MSG_NOSIGNAL), 1);
  auto first = Take(**loop, rec, Op::kReceive, kReceive);
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->data, "a");
  (*loop)->CancelReceive(conn.server.get());
  auto cancelled = Take(**loop, rec, Op::kReceive, kReceive);
  ASSERT_TRUE(cancelled.has_value());
  EXPECT_EQ(cancelled->res, -ECANCELED);
  ASSERT_EQ(::send(conn.client.get(), "b", 1, MSG_NOSIGNAL), 1);
  ASSERT_EQ(::shutdown(conn.client.get(), SHUT_WR), 0);
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE((*loop)->RunOnce(1'000'000).ok());  // the byte's and the FIN's events, unused
  }
  (*loop)->Receive(conn.server.get(), kReceive);
  auto second = Take(**loop, rec, Op::kReceive, kReceive, 2'000'000'000);
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(second->data, "b");
  auto eof = Take(**loop, rec, Op::kReceive, kReceive, 2'000'000'000);
  ASSERT_TRUE(eof.has_value()) << "the FIN behind the short read was never reported";
  EXPECT_EQ(eof->res, 0);
}

}  // namespace
}  // namespace socklab::loop

#include "core/net/socket.h"

#include <errno.h>
#include <sys/socket.h>
#include <unistd.h>

#include <optional>
#include <string>
#include <vector>

#include "core/base/status.h"
#include "gtest/gtest.h"

namespace socklab {
namespace {

ListenOptions LoopbackListener(int family) {
  ListenOptions options;
  options.address = SocketAddress::Loopback(family, 0);
  options.blocking = Blocking::kBlocking;
  return options;
}

TEST(ListenTcp, BindsAFreePortAndAcceptsAConnection) {
  for (int family : {AF_INET, AF_INET6}) {
    absl::StatusOr<UniqueFd> listener = ListenTcp(LoopbackListener(family));
    ASSERT_TRUE(listener.ok()) << listener.status();
    SocketAddress bound = *LocalAddressOf(listener->get());
    EXPECT_NE(bound.port(), 0);
    absl::StatusOr<UniqueFd> client = ConnectTcp(bound);
    ASSERT_TRUE(client.ok()) << client.status();
    UniqueFd accepted(accept4(listener->get(), nullptr, nullptr, SOCK_CLOEXEC));
    ASSERT_TRUE(accepted.valid()) << errno;
    EXPECT_EQ(*PeerAddressOf(accepted.get()), *LocalAddressOf(client->get()));
  }
}

TEST(QueueBytes, CountWhatThePeerSentAndNothingOnAListener) {
  absl::StatusOr<UniqueFd> listener = ListenTcp(LoopbackListener(AF_INET));
  ASSERT_TRUE(listener.ok()) << listener.status();
  EXPECT_EQ(ReceiveQueueBytes(listener->get()), std::nullopt);  // SIOCINQ: EINVAL
  absl::StatusOr<UniqueFd> client = ConnectTcp(*LocalAddressOf(listener->get()));
  ASSERT_TRUE(client.ok()) << client.status();
  UniqueFd accepted(accept4(listener->get(), nullptr, nullptr, SOCK_CLOEXEC));
  ASSERT_TRUE(accepted.valid()) << errno;
  EXPECT_EQ(ReceiveQueueBytes(accepted.get()), 0u);
  // The witness is the sender's own count: 100 bytes sent, none read.
  ASSERT_EQ(::send(client->get(), std::string(100, 'x').data(), 100, MSG_NOSIGNAL), 100);
  // Polled for up to 10 s: loopback delivers within the send, but the ACK may be delayed.
  std::optional<uint64_t> unread;
  std::optional<uint64_t> unacked;
  for (int i = 0; i < 10'000 && (unread != 100u || unacked != 0u); ++i) {
    unread = ReceiveQueueBytes(accepted.get());
    unacked = UnackedSendBytes(client->get());
    if (unread != 100u || unacked != 0u) {
      usleep(1000);
    }
  }
  EXPECT_EQ(unread, 100u);
  EXPECT_EQ(unacked, 0u);
  EXPECT_EQ(ReceiveQueueBytes(-1), std::nullopt);
}

TEST(AcceptQueueLength, CountsWhatAcceptWillHandOver) {
  for (int family : {AF_INET, AF_INET6}) {
    absl::StatusOr<UniqueFd> listener = ListenTcp(LoopbackListener(family));
    ASSERT_TRUE(listener.ok()) << listener.status();
    ASSERT_EQ(SetNonBlocking(listener->get(), true), absl::OkStatus());
    EXPECT_EQ(AcceptQueueLength(listener->get()), 0u);
    std::vector<UniqueFd> clients;
    for (int i = 0; i < 3; ++i) {
      absl::StatusOr<UniqueFd> client = ConnectTcp(*LocalAddressOf(listener->get()));
      ASSERT_TRUE(client.ok()) << client.status();
      clients.push_back(*std::move(client));
    }
    // Polled for up to 10 s: the handshake's last ACK may reach the listener after connect()
    // has returned.
    std::optional<uint32_t> waiting;
    for (int i = 0; i < 10'000 && waiting != 3u; ++i) {
      waiting = AcceptQueueLength(listener->get());
      if (waiting != 3u) {
        usleep(1000);
      }
    }
    EXPECT_EQ(waiting, 3u);
    // The witness is accept(2) itself: it hands over that many and then finds the queue empty.
    std::vector<UniqueFd> accepted;
    for (int fd; (fd = accept4(listener->get(), nullptr, nullptr, SOCK_CLOEXEC)) >= 0;) {
      accepted.emplace_back(fd);
      EXPECT_EQ(AcceptQueueLength(listener->get()), 3u - accepted.size());
    }
    EXPECT_EQ(errno, EAGAIN);
    EXPECT_EQ(accepted.size(), 3u);
    // Only a listening TCP socket has an accept queue.
    EXPECT_EQ(AcceptQueueLength(accepted.front().get()), std::nullopt);
    EXPECT_EQ(AcceptQueueLength(clients.front().get()), std::nullopt);
  }
  UniqueFd udp(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  EXPECT_EQ(AcceptQueueLength(udp.get()), std::nullopt);
  EXPECT_EQ(AcceptQueueLength(-1), std::nullopt);
}

TEST(ListenTcp, SecondListenerGetsEaddrinuseWithTheAddressAndAFix) {
  absl::StatusOr<UniqueFd> first = ListenTcp(LoopbackListener(AF_INET));
  ASSERT_TRUE(first.ok()) << first.status();
  ListenOptions second = LoopbackListener(AF_INET);
  second.address = *LocalAddressOf(first->get());
  absl::StatusOr<UniqueFd> clash = ListenTcp(second);
  ASSERT_FALSE(clash.ok());
  EXPECT_EQ(ErrnoOf(clash.status()), EADDRINUSE);
  EXPECT_NE(clash.status().message().find("bind " + second.address.ToString() +
                                          ": Address already in use (EADDRINUSE)"),
            absl::string_view::npos)
      << clash.status().message();
}

TEST(ListenTcp, ReusePortJoinsAGroupButExclusiveBindRefusesIt) {
  ListenOptions group = LoopbackListener(AF_INET);
  group.reuse_port = true;
  group.exclusive_bind = true;
  absl::StatusOr<UniqueFd> first = ListenTcp(group);
  ASSERT_TRUE(first.ok()) << first.status();
  group.address = *LocalAddressOf(first->get());
  // A member of the same process joins: SO_REUSEPORT is set on the first one by now.
  group.exclusive_bind = false;
  absl::StatusOr<UniqueFd> member = ListenTcp(group);
  ASSERT_TRUE(member.ok()) << member.status();
  // Another server (same user) starting on the port: a plain reuseport bind would join the
  // group silently; the exclusive one fails as a port in use should.
  group.exclusive_bind = true;
  absl::StatusOr<UniqueFd> intruder = ListenTcp(group);
  ASSERT_FALSE(intruder.ok());
  EXPECT_EQ(ErrnoOf(intruder.status()), EADDRINUSE);
  // Connections reach both members of the group.
  std::vector<UniqueFd> clients;
  for (int i = 0; i < 64; ++i) {
    absl::StatusOr<UniqueFd> client = ConnectTcp(group.address);
    ASSERT_TRUE(client.ok()) << client.status();
    clients.push_back(*std::move(client));
  }
  int per_member[2] = {0, 0};
  for (int i = 0; i < 2; ++i) {
    int fd = (i == 0 ? first : member)->get();
    ASSERT_TRUE(SetNonBlocking(fd, true).ok());
    while (UniqueFd(accept4(fd, nullptr, nullptr, SOCK_CLOEXEC)).valid()) {
      ++per_member[i];
    }
  }
  EXPECT_EQ(per_member[0] + per_member[1], 64);
  EXPECT_GT(per_member[0], 0);
  EXPECT_GT(per_member[1], 0);
}

TEST(ListenTcp, ExclusiveBindPassesOverTimeWait) {
  absl::StatusOr<UniqueFd> listener = ListenTcp(LoopbackListener(AF_INET));
  ASSERT_TRUE(listener.ok());
  SocketAddress address = *LocalAddressOf(listener->get());
  absl::StatusOr<UniqueFd> client = ConnectTcp(address);
  ASSERT_TRUE(client.ok());
  UniqueFd accepted(accept4(listener->get(), nullptr, nullptr, SOCK_CLOEXEC));
  ASSERT_TRUE(accepted.valid());
  accepted.Reset();  // the server side closes first: its end goes to TIME_WAIT
  char byte;
  ASSERT_EQ(recv(client->get(), &byte, 1, 0), 0);
  client->Reset();
  listener->Reset();
  ListenOptions again = LoopbackListener(AF_INET);
  again.address = address;
  again.reuse_port = true;
  again.exclusive_bind = true;
  absl::StatusOr<UniqueFd> restarted = ListenTcp(again);
  EXPECT_TRUE(restarted.ok()) << restarted.status();
}

TEST(ConnectTcp, NothingListeningIsRefused) {
  // Bound but not listening: the port stays ours, and a SYN to it is answered with RST.
  absl::StatusOr<UniqueFd> holder = CreateTcpSocket(AF_INET, Blocking::kBlocking);
  ASSERT_TRUE(holder.ok());
  ASSERT_TRUE(Bind(holder->get(), SocketAddress::Loopback(AF_INET, 0)).ok());
  absl::StatusOr<UniqueFd> client = ConnectTcp(*LocalAddressOf(holder->get()));
  ASSERT_FALSE(client.ok());
  EXPECT_EQ(ErrnoOf(client.status()), ECONNREFUSED);
}

TEST(SetLinger, ResetModeMakesThePeerSeeEconnreset) {
  absl::StatusOr<UniqueFd> listener = ListenTcp(LoopbackListener(AF_INET));
  ASSERT_TRUE(listener.ok());
  absl::StatusOr<UniqueFd> client = ConnectTcp(*LocalAddressOf(listener->get()));
  ASSERT_TRUE(client.ok());
  UniqueFd accepted(accept4(listener->get(), nullptr, nullptr, SOCK_CLOEXEC));
  ASSERT_TRUE(accepted.valid());
  ASSERT_TRUE(SetLinger(accepted.get(), {Linger::Mode::kReset, 0}).ok());
  accepted.Reset();
  char byte;
  timeval timeout{10, 0};
  setsockopt(client->get(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  EXPECT_EQ(recv(client->get(), &byte, 1, 0), -1);
  EXPECT_EQ(errno, ECONNRESET);
}

}  // namespace
}  // namespace socklab

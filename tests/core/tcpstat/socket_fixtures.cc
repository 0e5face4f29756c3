#include "tests/core/tcpstat/socket_fixtures.h"

#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <vector>

#include "core/net/socket.h"
#include "gtest/gtest.h"

namespace socklab::tcpstat::testing {

UniqueFd Listen(int family, int backlog) {
  absl::StatusOr<UniqueFd> fd = ListenTcp({.address = SocketAddress::Loopback(family, 0),
                                           .backlog = backlog,
                                           .blocking = Blocking::kBlocking});
  EXPECT_TRUE(fd.ok()) << fd.status();
  return fd.ok() ? *std::move(fd) : UniqueFd();
}

UniqueFd ListenMapped(int backlog) {
  absl::StatusOr<UniqueFd> fd = ListenTcp({.address = *SocketAddress::ParseHost("::ffff:127.0.0.1"),
                                           .backlog = backlog,
                                           .blocking = Blocking::kBlocking,
                                           .v6_only = false});
  EXPECT_TRUE(fd.ok()) << fd.status();
  return fd.ok() ? *std::move(fd) : UniqueFd();
}

uint16_t PortOf(int fd) {
  absl::StatusOr<SocketAddress> address = LocalAddressOf(fd);
  EXPECT_TRUE(address.ok()) << address.status();
  return address.ok() ? address->port() : 0;
}

Pair Connect(int listener, const SocketAddress& to, int rcvbuf) {
  Pair pair;
  absl::StatusOr<UniqueFd> client = CreateTcpSocket(to.family(), Blocking::kBlocking);
  EXPECT_TRUE(client.ok()) << client.status();
  if (!client.ok()) {
    return pair;
  }
  if (rcvbuf > 0) {
    EXPECT_TRUE(SetReceiveBuffer(client->get(), rcvbuf).ok());
  }
  EXPECT_EQ(::connect(client->get(), to.sockaddr_ptr(), to.length()), 0) << errno;
  pair.client = *std::move(client);
  pair.server = UniqueFd(::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC));
  EXPECT_TRUE(pair.server.valid()) << errno;
  pair.client_port = PortOf(pair.client.get());
  return pair;
}

void FillUntilBlocked(int fd) {
  ASSERT_TRUE(SetNonBlocking(fd, true).ok());
  std::vector<char> chunk(64 * 1024, 'x');
  size_t total = 0;
  while (total < (64u << 20)) {
    ssize_t n = ::send(fd, chunk.data(), chunk.size(), MSG_NOSIGNAL);
    if (n < 0) {
      ASSERT_TRUE(errno == EAGAIN || errno == EWOULDBLOCK) << errno;
      return;
    }
    total += static_cast<size_t>(n);
  }
  FAIL() << "the peer kept accepting data";
}

void MakeTimeWait(Pair pair) {
  pair.client.Reset();
  char byte;
  // Blocking read: returns 0 when the client's FIN arrived.
  ASSERT_EQ(::recv(pair.server.get(), &byte, 1, 0), 0);
  pair.server.Reset();
}

void MakeCloseWait(Pair& pair) {
  ASSERT_EQ(::shutdown(pair.client.get(), SHUT_WR), 0);
  char byte;
  ASSERT_EQ(::recv(pair.server.get(), &byte, 1, 0), 0);
}

}  // namespace socklab::tcpstat::testing

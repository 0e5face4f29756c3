#include "core/tcpstat/netlink_reader.h"

#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include "absl/strings/str_cat.h"
#include "core/net/socket.h"
#include "core/tcpstat/reader.h"
#include "gtest/gtest.h"
#include "tests/core/tcpstat/socket_fixtures.h"

namespace socklab::tcpstat {
namespace {

TEST(NetlinkReaderTest, KernelAppliesTheStateFilter) {
  UniqueFd listener = testing::Listen(AF_INET);
  uint16_t port = testing::PortOf(listener.get());
  testing::Pair open = testing::Connect(listener.get(), SocketAddress::Loopback(AF_INET, port));
  testing::MakeTimeWait(testing::Connect(listener.get(), SocketAddress::Loopback(AF_INET, port)));

  size_t listeners_seen = 0;
  bool ours = false;
  absl::StatusOr<NetlinkDumpStats> stats =
      DumpTcpSocketsNetlink({.family = AF_INET, .states = TcpStateSet::Of({TcpState::kListen})},
                            [&](const TcpSocket& socket) {
                              EXPECT_EQ(socket.state, TcpState::kListen);
                              ++listeners_seen;
                              ours = ours || socket.local.port() == port;
                            });
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_TRUE(ours);
  EXPECT_EQ(stats->sockets, listeners_seen);
  EXPECT_GT(stats->bytes, 0u);

  // The same dump for every state returns more (our ESTABLISHED pair at least).
  size_t everything = 0;
  ASSERT_TRUE(
      DumpTcpSocketsNetlink({.family = AF_INET}, [&](const TcpSocket&) { ++everything; }).ok());
  EXPECT_GE(everything, listeners_seen + 2);
}

// The port filter runs in the kernel: only our port's sockets come back, and nothing else.
TEST(NetlinkReaderTest, KernelAppliesThePortFilter) {
  UniqueFd listener = testing::Listen(AF_INET);
  uint16_t port = testing::PortOf(listener.get());
  UniqueFd other = testing::Listen(AF_INET);
  uint16_t other_port = testing::PortOf(other.get());
  testing::Pair a = testing::Connect(listener.get(), SocketAddress::Loopback(AF_INET, port));
  testing::Pair b = testing::Connect(other.get(), SocketAddress::Loopback(AF_INET, other_port));
  size_t seen = 0;
  absl::StatusOr<NetlinkDumpStats> stats =
      DumpTcpSocketsNetlink({.family = AF_INET, .port = port}, [&](const TcpSocket& socket) {
        EXPECT_TRUE(socket.local.port() == port || socket.remote.port() == port)
            << socket.local.ToString() << " " << socket.remote.ToString();
        ++seen;
      });
  ASSERT_TRUE(stats.ok()) << stats.status();
  // The listener, the server side (local port) and the client side (remote port).
  EXPECT_EQ(seen, 3u);
  EXPECT_EQ(stats->sockets, 3u);
  // With a state filter too.
  seen = 0;
  ASSERT_TRUE(DumpTcpSocketsNetlink(
                  {.family = AF_INET, .states = TcpStateSet::Of({TcpState::kListen}), .port = port},
                  [&](const TcpSocket&) { ++seen; })
                  .ok());
  EXPECT_EQ(seen, 1u);
  // None of them on IPv6. The machine's other IPv6 sockets may use the same port number (each
  // family has its own ports for sockets bound to one address), so what the dump finds there is
  // checked for its family, not counted.
  ASSERT_TRUE(
      DumpTcpSocketsNetlink({.family = AF_INET6, .port = port}, [&](const TcpSocket& socket) {
        EXPECT_EQ(socket.local.family(), AF_INET6) << socket.local.ToString();
      }).ok());
}

TEST(NetlinkReaderTest, EmptyStateSetReturnsNothing) {
  size_t seen = 0;
  absl::StatusOr<NetlinkDumpStats> stats = DumpTcpSocketsNetlink(
      {.family = AF_INET6, .states = TcpStateSet::None()}, [&](const TcpSocket&) { ++seen; });
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ(seen, 0u);
}

// SYN_RECV needs a handshake that does not finish. Inside a private network namespace (a forked
// child that unshare()s; the namespace dies with it), an nftables rule drops every SYN-ACK on
// output: the server keeps a request socket in SYN_RECV retransmitting its SYN-ACK, and the
// client stays in SYN_SENT. Both sources must see both.
std::string SynRecvInNamespace() {
  if (unshare(CLONE_NEWNET) != 0) {
    return absl::StrCat("SKIP: unshare(CLONE_NEWNET) failed, errno ", errno);
  }
  if (system("ip link set lo up") != 0) {
    return "SKIP: ip link set lo up failed";
  }
  if (system("nft add table inet socklab_test && nft 'add chain inet socklab_test out "
             "{ type filter hook output priority 0; }' && nft add rule inet socklab_test out "
             "'tcp flags & (syn | ack) == (syn | ack) drop'") != 0) {
    return "SKIP: nft is unavailable";
  }
  absl::StatusOr<UniqueFd> listener =
      ListenTcp({.address = SocketAddress::Loopback(AF_INET, 0), .blocking = Blocking::kBlocking});
  if (!listener.ok()) {
    return std::string(listener.status().message());
  }
  uint16_t port = testing::PortOf(listener->get());
  SocketAddress to = SocketAddress::Loopback(AF_INET, port);
  absl::StatusOr<UniqueFd> client = CreateTcpSocket(AF_INET, Blocking::kNonBlocking);
  if (!client.ok() || ::connect(client->get(), to.sockaddr_ptr(), to.length()) != -1 ||
      errno != EINPROGRESS) {
    return "nonblocking connect did not start";
  }
  std::string result;
  for (Source source : {Source::kProc, Source::kNetlink}) {
    std::string tally;
    // The request socket as the test expects it: no inode (no struct socket behind it yet), the
    // SYN-ACK retransmit timer running, our listener's port.
    std::string request;
    for (int attempt = 0; attempt < 300; ++attempt) {
      absl::StatusOr<std::vector<TcpSocket>> sockets = ReadTcpSockets({.port = port}, source);
      if (!sockets.ok()) {
        return std::string(sockets.status().message());
      }
      tally = TallyToString(TallyStates(*sockets));
      request = "no SYN_RECV socket";
      for (const TcpSocket& socket : *sockets) {
        if (socket.state == TcpState::kSynRecv) {
          request = absl::StrCat(
              "request inode ", socket.inode, ", timer ", TcpTimerName(socket.timer),
              ", local port ",
              socket.local.port() == port ? "ours" : absl::StrCat(socket.local.port()));
        }
      }
      if (tally == "SYN_SENT 1, SYN_RECV 1, LISTEN 1" &&
          request == "request inode 0, timer on, local port ours") {
        break;
      }
      ::poll(nullptr, 0, 10);
    }
    absl::StrAppend(&result, SourceName(source), ": ", tally, "; ", request, "\n");
  }
  return result;
}

TEST(NetlinkReaderTest, SynRecvAndSynSentInPrivateNamespace) {
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    close(fds[0]);
    std::string out = SynRecvInNamespace();
    ssize_t ignored = write(fds[1], out.data(), out.size());
    (void)ignored;
    _exit(0);
  }
  close(fds[1]);
  std::string out;
  char buffer[512];
  // Bounded: the child needs well under a second; give it 30 s before killing it.
  for (int waited_ms = 0; waited_ms < 30'000;) {
    pollfd p{.fd = fds[0], .events = POLLIN, .revents = 0};
    if (::poll(&p, 1, 100) == 0) {
      waited_ms += 100;
      continue;
    }
    ssize_t n = read(fds[0], buffer, sizeof(buffer));
    if (n <= 0) {
      break;
    }
    out.append(buffer, static_cast<size_t>(n));
  }
  close(fds[0]);
  kill(child, SIGKILL);
  int status = 0;
  waitpid(child, &status, 0);
  if (out.rfind("SKIP: ", 0) == 0) {
    GTEST_SKIP() << out.substr(6);
  }
  EXPECT_EQ(out,
            "proc: SYN_SENT 1, SYN_RECV 1, LISTEN 1; request inode 0, timer on, local port ours\n"
            "netlink: SYN_SENT 1, SYN_RECV 1, LISTEN 1; request inode 0, timer on, local port "
            "ours\n");
}

}  // namespace
}  // namespace socklab::tcpstat

#include "core/tcpstat/reader.h"

#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <functional>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/net/socket.h"
#include "gtest/gtest.h"
#include "tests/core/tcpstat/socket_fixtures.h"

namespace socklab::tcpstat {
namespace {

using testing::Connect;
using testing::Listen;
using testing::ListenMapped;
using testing::Pair;
using testing::PortOf;

// A socket of the snapshot by its local and remote port (0 = any).
const TcpSocket* Find(const std::vector<TcpSocket>& sockets, uint16_t local, uint16_t remote) {
  for (const TcpSocket& socket : sockets) {
    if (socket.local.port() == local && (remote == 0 || socket.remote.port() == remote)) {
      return &socket;
    }
  }
  return nullptr;
}

class ReaderTest : public ::testing::TestWithParam<Source> {
 protected:
  std::vector<TcpSocket> Read(const Filter& filter) {
    absl::StatusOr<TcpSnapshot> snapshot = ReadTcpSnapshot(filter, {.source = GetParam()});
    EXPECT_TRUE(snapshot.ok()) << snapshot.status();
    if (!snapshot.ok()) {
      return {};
    }
    EXPECT_EQ(snapshot->skipped_lines, 0u);
    EXPECT_GE(snapshot->sockets_read, snapshot->sockets.size());
    return std::move(snapshot->sockets);
  }

  // Reads until the socket local:remote is in `state` (state changes on loopback take
  // microseconds, but the test must not depend on that): at most 5 s in 10 ms steps.
  const TcpSocket* WaitForState(const Filter& filter, uint16_t local, uint16_t remote,
                                TcpState state) {
    for (int attempt = 0; attempt < 500; ++attempt) {
      last_ = Read(filter);
      const TcpSocket* socket = Find(last_, local, remote);
      if (socket != nullptr && socket->state == state) {
        return socket;
      }
      ::poll(nullptr, 0, 10);
    }
    const TcpSocket* socket = Find(last_, local, remote);
    ADD_FAILURE() << "no socket " << local << "->" << remote << " in " << TcpStateName(state)
                  << "; found " << (socket ? TcpStateName(socket->state) : "none");
    return nullptr;
  }

  std::vector<TcpSocket> last_;
};

TEST_P(ReaderTest, ListenerWithAcceptQueueAndBacklog) {
  UniqueFd listener = Listen(AF_INET, 37);
  uint16_t port = PortOf(listener.get());
  // Two completed connections nobody accept()s: the accept queue holds 2.
  absl::StatusOr<UniqueFd> c1 = ConnectTcp(SocketAddress::Loopback(AF_INET, port));
  absl::StatusOr<UniqueFd> c2 = ConnectTcp(SocketAddress::Loopback(AF_INET, port));
  ASSERT_TRUE(c1.ok() && c2.ok());
  std::vector<TcpSocket> sockets;
  const TcpSocket* found = nullptr;
  for (int attempt = 0; attempt < 500; ++attempt) {
    sockets = Read({.port = port, .states = TcpStateSet::Of({TcpState::kListen})});
    found = Find(sockets, port, 0);
    if (found != nullptr && found->rx_queue == 2) {
      break;
    }
    ::poll(nullptr, 0, 10);
  }
  ASSERT_NE(found, nullptr);
  EXPECT_EQ(sockets.size(), 1u);
  EXPECT_EQ(found->state, TcpState::kListen);
  EXPECT_EQ(found->family, AF_INET);
  EXPECT_EQ(found->local.ToString(), "127.0.0.1:" + std::to_string(port));
  EXPECT_EQ(found->rx_queue, 2u);
  ASSERT_TRUE(found->accept_backlog.has_value());
  EXPECT_EQ(*found->accept_backlog, 37u);
  EXPECT_NE(found->inode, 0u);
  EXPECT_EQ(found->uid, static_cast<uint32_t>(getuid()));

  // A tally-only read keeps no records but still sums the accept queue and its maximum.
  absl::StatusOr<TcpSnapshot> tally_only =
      ReadTcpSnapshot({.port = port}, {.source = GetParam(), .keep_sockets = false});
  ASSERT_TRUE(tally_only.ok()) << tally_only.status();
  EXPECT_TRUE(tally_only->sockets.empty());
  EXPECT_EQ(tally_only->tally.Count(TcpState::kListen), 1u);
  EXPECT_EQ(tally_only->tally.Count(TcpState::kEstablished), 4u);
  EXPECT_EQ(tally_only->tally.listen_queue, 2u);
  EXPECT_EQ(tally_only->tally.listen_backlog, 37u);
}

TEST_P(ReaderTest, EstablishedPairWithQueues) {
  UniqueFd listener = Listen(AF_INET);
  uint16_t port = PortOf(listener.get());
  Pair pair = Connect(listener.get(), SocketAddress::Loopback(AF_INET, port));
  // 1000 bytes the server does not read: its receive queue.
  std::string data(1000, 'x');
  ASSERT_EQ(::send(pair.client.get(), data.data(), data.size(), MSG_NOSIGNAL), 1000);
  const TcpSocket* server = nullptr;
  for (int attempt = 0; attempt < 500; ++attempt) {
    last_ = Read({.port = port});
    server = Find(last_, port, pair.client_port);
    if (server != nullptr && server->rx_queue == 1000) {
      break;
    }
    ::poll(nullptr, 0, 10);
  }
  ASSERT_NE(server, nullptr);
  EXPECT_EQ(server->state, TcpState::kEstablished);
  EXPECT_EQ(server->rx_queue, 1000u);
  const TcpSocket* client = Find(last_, pair.client_port, port);
  ASSERT_NE(client, nullptr);
  EXPECT_EQ(client->state, TcpState::kEstablished);
  EXPECT_EQ(client->remote.ToString(), "127.0.0.1:" + std::to_string(port));
  EXPECT_EQ(client->tx_queue, 0u);  // loopback acknowledged it all
}

TEST_P(ReaderTest, TimeWaitAfterActiveClose) {
  UniqueFd listener = Listen(AF_INET);
  uint16_t port = PortOf(listener.get());
  Pair pair = Connect(listener.get(), SocketAddress::Loopback(AF_INET, port));
  uint16_t client_port = pair.client_port;
  testing::MakeTimeWait(std::move(pair));
  const TcpSocket* socket = WaitForState({.port = port}, client_port, port, TcpState::kTimeWait);
  ASSERT_NE(socket, nullptr);
  EXPECT_EQ(socket->timer, TcpTimer::kTimeWait);
  EXPECT_GT(socket->timer_ms, 0);
  EXPECT_LE(socket->timer_ms, 60'000);  // TCP_TIMEWAIT_LEN
  EXPECT_EQ(socket->inode, 0u);
}

TEST_P(ReaderTest, CloseWaitAndFinWait2) {
  UniqueFd listener = Listen(AF_INET);
  uint16_t port = PortOf(listener.get());
  Pair pair = Connect(listener.get(), SocketAddress::Loopback(AF_INET, port));
  testing::MakeCloseWait(pair);
  EXPECT_NE(WaitForState({.port = port}, port, pair.client_port, TcpState::kCloseWait), nullptr);
  EXPECT_NE(WaitForState({.port = port}, pair.client_port, port, TcpState::kFinWait2), nullptr);
}

// FIN_WAIT1 and LAST_ACK last only while a FIN is unacknowledged. A zero window holds it back:
// the FIN queues behind data the peer has no room for.
TEST_P(ReaderTest, FinWait1AndLastAckBehindZeroWindow) {
  UniqueFd listener = Listen(AF_INET);
  uint16_t port = PortOf(listener.get());
  SocketAddress to = SocketAddress::Loopback(AF_INET, port);

  // FIN_WAIT1: the client fills the server's window, then shuts down its side.
  Pair a = Connect(listener.get(), to);
  ASSERT_TRUE(SetReceiveBuffer(a.server.get(), 4096).ok());
  testing::FillUntilBlocked(a.client.get());
  ASSERT_EQ(::shutdown(a.client.get(), SHUT_WR), 0);
  EXPECT_NE(WaitForState({.port = port}, a.client_port, port, TcpState::kFinWait1), nullptr);

  // LAST_ACK: the client closed its side (server in CLOSE_WAIT), then the server fills the
  // client's window and close()s: its FIN waits behind the unsent data.
  Pair b = Connect(listener.get(), to, /*rcvbuf=*/4096);
  testing::MakeCloseWait(b);
  testing::FillUntilBlocked(b.server.get());
  b.server.Reset();
  EXPECT_NE(WaitForState({.port = port}, port, b.client_port, TcpState::kLastAck), nullptr);
  const TcpSocket* client = Find(last_, b.client_port, port);
  ASSERT_NE(client, nullptr);
  EXPECT_EQ(client->state, TcpState::kFinWait2);
  EXPECT_GT(client->rx_queue, 0u);
}

// A listener whose accept queue is full drops new SYNs (tcp_conn_request: the listen-overflow
// path), so the next client stays in SYN_SENT, retransmitting its SYN.
TEST_P(ReaderTest, SynSentAgainstFullAcceptQueue) {
  UniqueFd listener = Listen(AF_INET, /*backlog=*/0);
  uint16_t port = PortOf(listener.get());
  SocketAddress to = SocketAddress::Loopback(AF_INET, port);
  absl::StatusOr<UniqueFd> first = ConnectTcp(to);  // fills the queue of max 0 (+1)
  ASSERT_TRUE(first.ok()) << first.status();
  // Let the first handshake land in the accept queue before the second SYN.
  const TcpSocket* listening = nullptr;
  for (int attempt = 0; attempt < 500; ++attempt) {
    last_ = Read({.port = port, .states = TcpStateSet::Of({TcpState::kListen})});
    listening = Find(last_, port, 0);
    if (listening != nullptr && listening->rx_queue == 1) {
      break;
    }
    ::poll(nullptr, 0, 10);
  }
  absl::StatusOr<UniqueFd> second = CreateTcpSocket(AF_INET, Blocking::kNonBlocking);
  ASSERT_TRUE(second.ok());
  ASSERT_EQ(::connect(second->get(), to.sockaddr_ptr(), to.length()), -1);
  ASSERT_EQ(errno, EINPROGRESS);
  const TcpSocket* socket =
      WaitForState({.port = port}, PortOf(second->get()), port, TcpState::kSynSent);
  ASSERT_NE(socket, nullptr);
  EXPECT_EQ(socket->timer, TcpTimer::kRetransmit);
}

TEST_P(ReaderTest, Ipv6Sockets) {
  UniqueFd listener = Listen(AF_INET6);
  uint16_t port = PortOf(listener.get());
  Pair established = Connect(listener.get(), SocketAddress::Loopback(AF_INET6, port));
  Pair closing = Connect(listener.get(), SocketAddress::Loopback(AF_INET6, port));
  uint16_t closing_port = closing.client_port;
  testing::MakeTimeWait(std::move(closing));
  ASSERT_NE(WaitForState({.port = port}, closing_port, port, TcpState::kTimeWait), nullptr);
  const TcpSocket* server = Find(last_, port, established.client_port);
  ASSERT_NE(server, nullptr);
  EXPECT_EQ(server->family, AF_INET6);
  EXPECT_EQ(server->state, TcpState::kEstablished);
  EXPECT_EQ(server->local.ToString(), "[::1]:" + std::to_string(port));
  const TcpSocket* listening = Find(last_, port, 0);
  ASSERT_NE(listening, nullptr);
  EXPECT_EQ(listening->state, TcpState::kListen);
  // -4 sees none of them, -6 all. The port filter matches by number, so other programs' IPv4
  // sockets that happen to use this port number (a parallel test's client port) may be listed.
  for (const TcpSocket& s : Read({.port = port, .family = AF_INET})) {
    EXPECT_EQ(s.family, AF_INET);
  }
  const auto ipv6 = [](const TcpSocket& s) { return s.family == AF_INET6; };
  const std::vector<TcpSocket> only_ipv6 = Read({.port = port, .family = AF_INET6});
  EXPECT_TRUE(std::all_of(only_ipv6.begin(), only_ipv6.end(), ipv6));
  EXPECT_EQ(only_ipv6.size(), static_cast<size_t>(std::count_if(last_.begin(), last_.end(), ipv6)));
}

TEST_P(ReaderTest, Ipv4MappedOnDualStackListener) {
  UniqueFd listener = ListenMapped();
  uint16_t port = PortOf(listener.get());
  Pair pair = Connect(listener.get(), SocketAddress::Loopback(AF_INET, port));
  last_ = Read({.port = port});
  const TcpSocket* server = Find(last_, port, pair.client_port);
  ASSERT_NE(server, nullptr);
  EXPECT_EQ(server->family, AF_INET6);
  EXPECT_EQ(server->local.ToString(), "[::ffff:127.0.0.1]:" + std::to_string(port));
  // The client is a plain IPv4 socket.
  const TcpSocket* client = Find(last_, pair.client_port, port);
  ASSERT_NE(client, nullptr);
  EXPECT_EQ(client->family, AF_INET);
  // An IPv4 address filter finds the mapped socket too.
  Filter local{.local = *Endpoint::Parse("127.0.0.1:" + std::to_string(port))};
  std::vector<TcpSocket> by_local = Read(local);
  EXPECT_EQ(by_local.size(), 2u);  // the listener and the server side
  EXPECT_EQ(Read({.port = port, .family = AF_INET}).size(), 1u);
}

// Samples both sources until each reports `expected` for `filter` (state changes on loopback take
// microseconds, but the test must not depend on that: at most 5 s), then checks both.
void ExpectBothSourcesReport(const Filter& filter, const std::string& expected) {
  std::string from_proc;
  std::string from_netlink;
  for (int attempt = 0; attempt < 500; ++attempt) {
    absl::StatusOr<StateTally> proc = SampleStates(filter, Source::kProc);
    absl::StatusOr<StateTally> netlink = SampleStates(filter, Source::kNetlink);
    ASSERT_TRUE(proc.ok()) << proc.status();
    ASSERT_TRUE(netlink.ok()) << netlink.status();
    from_proc = TallyToString(*proc);
    from_netlink = TallyToString(*netlink);
    if (from_proc == expected && from_netlink == expected) {
      break;
    }
    ::poll(nullptr, 0, 10);
  }
  EXPECT_EQ(from_proc, expected) << "proc, " << filter.ToString();
  EXPECT_EQ(from_netlink, expected) << "netlink, " << filter.ToString();
}

// The whole point of two sources: the same sockets give the same tallies, with and without a
// state filter (applied in the kernel for netlink, in the reader for /proc), on IPv4, IPv6 and
// IPv4-mapped IPv6 sockets (tcp6 lines with ::ffff: addresses, AF_INET6 records from netlink).
TEST(ReaderSourcesTest, IdenticalTallies) {
  // IPv4: 3 open pairs, 2 TIME_WAIT, one half-closed pair.
  UniqueFd listener = Listen(AF_INET);
  uint16_t port = PortOf(listener.get());
  SocketAddress to = SocketAddress::Loopback(AF_INET, port);
  std::vector<Pair> open;
  for (int i = 0; i < 3; ++i) {
    open.push_back(Connect(listener.get(), to));
  }
  for (int i = 0; i < 2; ++i) {
    testing::MakeTimeWait(Connect(listener.get(), to));
  }
  Pair half = Connect(listener.get(), to);
  testing::MakeCloseWait(half);

  // IPv6: 2 open pairs, one TIME_WAIT, one half-closed pair.
  UniqueFd listener6 = Listen(AF_INET6);
  uint16_t port6 = PortOf(listener6.get());
  SocketAddress to6 = SocketAddress::Loopback(AF_INET6, port6);
  for (int i = 0; i < 2; ++i) {
    open.push_back(Connect(listener6.get(), to6));
  }
  testing::MakeTimeWait(Connect(listener6.get(), to6));
  Pair half6 = Connect(listener6.get(), to6);
  testing::MakeCloseWait(half6);

  // IPv4-mapped: an IPv4 client of a dual-stack listener, and one where the (mapped) server
  // closes first, so the TIME_WAIT socket is an IPv6 one with mapped addresses.
  UniqueFd mapped = testing::ListenMapped();
  uint16_t port_mapped = PortOf(mapped.get());
  SocketAddress to_mapped = SocketAddress::Loopback(AF_INET, port_mapped);
  open.push_back(Connect(mapped.get(), to_mapped));
  {
    Pair closing = Connect(mapped.get(), to_mapped);
    closing.server.Reset();
    char byte;
    ASSERT_EQ(::recv(closing.client.get(), &byte, 1, 0), 0);  // the server's FIN
  }  // the client closes: LAST_ACK, then gone

  ExpectBothSourcesReport({.port = port},
                          "ESTABLISHED 6, FIN_WAIT2 1, TIME_WAIT 2, CLOSE_WAIT 1, LISTEN 1");
  ExpectBothSourcesReport({.port = port6},
                          "ESTABLISHED 4, FIN_WAIT2 1, TIME_WAIT 1, CLOSE_WAIT 1, LISTEN 1");
  ExpectBothSourcesReport({.port = port_mapped}, "ESTABLISHED 2, TIME_WAIT 1, LISTEN 1");
  // The mapped sockets are IPv6 ones (-6); only the plain client is IPv4 (-4).
  ExpectBothSourcesReport({.port = port_mapped, .family = AF_INET6},
                          "ESTABLISHED 1, TIME_WAIT 1, LISTEN 1");
  ExpectBothSourcesReport({.port = port_mapped, .family = AF_INET}, "ESTABLISHED 1");

  TcpStateSet some =
      TcpStateSet::Of({TcpState::kTimeWait, TcpState::kCloseWait, TcpState::kListen});
  ExpectBothSourcesReport({.port = port, .states = some}, "TIME_WAIT 2, CLOSE_WAIT 1, LISTEN 1");
  ExpectBothSourcesReport({.port = port6, .states = some}, "TIME_WAIT 1, CLOSE_WAIT 1, LISTEN 1");
  ExpectBothSourcesReport({.port = port_mapped, .states = some}, "TIME_WAIT 1, LISTEN 1");

  // Unfiltered, both see every socket of the machine; what is stable here is our ports' share.
  absl::StatusOr<std::vector<TcpSocket>> all_proc = ReadTcpSockets({}, Source::kProc);
  absl::StatusOr<std::vector<TcpSocket>> all_netlink = ReadTcpSockets({}, Source::kNetlink);
  ASSERT_TRUE(all_proc.ok() && all_netlink.ok());
  EXPECT_GE(all_proc->size(), 11u + 8u + 4u);
  EXPECT_GE(all_netlink->size(), 11u + 8u + 4u);
}

// Both sources read the calling thread's network namespace: a thread that unshare()s its own
// sees only its own sockets, /proc too (/proc/net would be the main thread's namespace). The
// namespace dies with the thread.
TEST(ReaderSourcesTest, CallingThreadsNetworkNamespace) {
  struct Seen {
    std::string skip;
    std::string error;
    uint16_t port = 0;
    std::vector<TcpSnapshot> snapshots;  // proc, netlink
  } seen;
  std::thread thread([&seen] {
    if (unshare(CLONE_NEWNET) != 0) {
      seen.skip = absl::StrCat("unshare(CLONE_NEWNET): errno ", errno);
      return;
    }
    // Loopback is down in a new namespace (no 127.0.0.1 yet): listen on the wildcard, which
    // nothing can reach but this namespace.
    absl::StatusOr<UniqueFd> listener = ListenTcp({.address = *SocketAddress::ParseHost("0.0.0.0"),
                                                   .backlog = 21,
                                                   .blocking = Blocking::kBlocking});
    if (!listener.ok()) {
      seen.error = std::string(listener.status().message());
      return;
    }
    seen.port = PortOf(listener->get());
    for (Source source : {Source::kProc, Source::kNetlink}) {
      absl::StatusOr<TcpSnapshot> snapshot = ReadTcpSnapshot({}, {.source = source});
      if (!snapshot.ok()) {
        seen.error = std::string(snapshot.status().message());
        return;
      }
      seen.snapshots.push_back(*std::move(snapshot));
    }
  });
  thread.join();
  if (!seen.skip.empty()) {
    GTEST_SKIP() << seen.skip;
  }
  ASSERT_EQ(seen.error, "");
  ASSERT_EQ(seen.snapshots.size(), 2u);
  for (const TcpSnapshot& snapshot : seen.snapshots) {
    // The namespace's only socket: nothing of the test process's own namespace.
    EXPECT_EQ(snapshot.sockets_read, 1u);
    ASSERT_EQ(snapshot.sockets.size(), 1u);
    EXPECT_EQ(snapshot.sockets[0].state, TcpState::kListen);
    EXPECT_EQ(snapshot.sockets[0].local.port(), seen.port);
    // /proc's backlog comes from netlink by inode: found only if both read the same namespace.
    EXPECT_EQ(snapshot.sockets[0].accept_backlog, std::optional<uint32_t>(21));
  }
}

TEST(ReaderSourcesTest, ProcRootFixtureTree) {
  // A fixture tree with only tcp (no tcp6, as on a kernel without IPv6).
  std::string root = ::testing::TempDir() + "/tcpstat_root_" + std::to_string(getpid());
  ASSERT_EQ(system(("mkdir -p " + root + "/proc/net && cp " SOCKLAB_TCPSTAT_TESTDATA "/tcp.txt " +
                    root + "/proc/net/tcp")
                       .c_str()),
            0);
  absl::StatusOr<TcpSnapshot> snapshot =
      ReadTcpSnapshot({.port = 46985}, {.proc_root = root, .listen_backlog = false});
  ASSERT_TRUE(snapshot.ok()) << snapshot.status();
  EXPECT_EQ(snapshot->sockets_read, 11u);
  EXPECT_EQ(TallyToString(TallyStates(snapshot->sockets)),
            "ESTABLISHED 4, FIN_WAIT2 1, TIME_WAIT 1, CLOSE_WAIT 1, LISTEN 1");
  absl::StatusOr<TcpSnapshot> missing = ReadTcpSnapshot({}, {.proc_root = root + "/nope"});
  EXPECT_FALSE(missing.ok());
  ASSERT_EQ(system(("rm -rf " + root).c_str()), 0);
}

INSTANTIATE_TEST_SUITE_P(BothSources, ReaderTest,
                         ::testing::Values(Source::kProc, Source::kNetlink),
                         [](const ::testing::TestParamInfo<Source>& info) {
                           return std::string(SourceName(info.param));
                         });

}  // namespace
}  // namespace socklab::tcpstat

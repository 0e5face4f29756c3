// --write-timeout means "the peer took no bytes for D": peers that never read are closed about D
// after they stopped taking bytes, whether their echo waits in the server's queue or only in the
// kernel's send queue, on both backends and with many such peers on one loop.

#include <sys/socket.h>

#include <chrono>
#include <string>
#include <vector>

#include "tests/reliability/reliability.h"

namespace socklab::server::testing {
namespace {

class WriteTimeoutTest : public ReliabilityTest {};

TEST_P(WriteTimeoutTest, PeersThatTakeNothingAreClosedWhereverTheirEchoWaits) {
  ServerProcess server(Args({"--threads", "1", "--write-timeout", "1s"}));
  SocketAddress address = server.Address();
  ASSERT_NE(address.port(), 0) << server.err();
  // 20 peers with a 4 KiB receive buffer sending 200 KB: their echo fits in the kernel's send
  // queue, the server's own queue is empty. 30 peers pushing up to 8 MiB: the echo backs up into
  // the server's queue and the windows shut.
  constexpr int kSmall = 20;
  constexpr int kBig = 30;
  std::vector<UniqueFd> peers;
  for (int i = 0; i < kSmall; ++i) {
    absl::StatusOr<UniqueFd> peer = CreateTcpSocket(AF_INET, Blocking::kBlocking);
    ASSERT_TRUE(peer.ok());
    ASSERT_TRUE(SetReceiveBuffer(peer->get(), 4096).ok());
    ASSERT_EQ(connect(peer->get(), address.sockaddr_ptr(), address.length()), 0);
    ASSERT_TRUE(SendAll(peer->get(), RandomBytes(200'000, 400 + i)));
    peers.push_back(*std::move(peer));
  }
  std::vector<int> big;
  for (int i = 0; i < kBig; ++i) {
    peers.push_back(Connect(address, 10));
    ASSERT_TRUE(peers.back().valid());
    big.push_back(peers.back().get());
  }
  FillAllWithoutReading(big, uint64_t{8} << 20, 300);
  auto filled = std::chrono::steady_clock::now();
  // The kernel's count of the server's ESTABLISHED connections falls to 0. The timeout is 1 s
  // after the peers stopped taking bytes; 10 s only bounds a server that never closes them.
  EXPECT_TRUE(PollUntil(
      [&] { return ServerSocketsIn(address.port(), tcpstat::TcpState::kEstablished) == 0; }, 10000))
      << ServerSocketsIn(address.port(), tcpstat::TcpState::kEstablished) << " still open";
  RecordProperty("all_closed_after_s", std::to_string(SecondsSince(filled)));
  ASSERT_EQ(kill(server.pid(), SIGTERM), 0);
  ASSERT_TRUE(server.Exited(20000)) << server.err();
  nlohmann::json summary = server.Summary();
  EXPECT_EQ(summary["timeouts"].value("write", -1), kSmall + kBig) << summary.dump();
  EXPECT_EQ(summary["drain"].value("cut", -1), 0) << summary.dump();
}

SOCKLAB_RELIABILITY_BACKENDS(WriteTimeoutTest);

}  // namespace
}  // namespace socklab::server::testing

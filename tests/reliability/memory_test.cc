// Peers that send and never read cannot grow the server's memory past what --max-pending allows:
// the server process's VmRSS (/proc) is the witness, not its own accounting.

#include <sys/socket.h>

#include <ostream>
#include <string>
#include <vector>

#include "tests/reliability/reliability.h"

namespace socklab::server::testing {
namespace {

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr bool kSanitized = true;
#else
constexpr bool kSanitized = false;
#endif

struct MemoryCase {
  std::string backend;
  std::string max_pending;
  uint64_t max_pending_bytes;
};

void PrintTo(const MemoryCase& c, std::ostream* os) {
  *os << c.backend << " --max-pending " << c.max_pending;
}

class SlowReaderMemoryTest : public ::testing::TestWithParam<MemoryCase> {};

TEST_P(SlowReaderMemoryTest, RssStaysWithinTheCapPerPeer) {
  if (kSanitized) {
    GTEST_SKIP() << "shadow memory is not the program's";
  }
  const MemoryCase& c = GetParam();
  if (c.backend == "io_uring" && !loop::SelectBackend(loop::BackendChoice::kIoUring).ok()) {
    GTEST_SKIP() << "io_uring unavailable";
  }
  ServerProcess server({"--backend", c.backend, "--listen", "127.0.0.1:0", "--json", "--threads",
                        "1", "--max-pending", c.max_pending});
  SocketAddress address = server.Address();
  ASSERT_NE(address.port(), 0) << server.err();
  std::string pid = std::to_string(server.pid());
  // Warm up the loop's receive buffers and the chunk pool, then take the baseline.
  {
    UniqueFd warm = Connect(address);
    ASSERT_TRUE(warm.valid());
    std::string data = RandomBytes(4 << 20, 7);
    std::thread writer([&] {
      SendAll(warm.get(), data);
      shutdown(warm.get(), SHUT_WR);
    });
    EXPECT_EQ(RecvUntilEof(warm.get()).size(), data.size());
    writer.join();
  }
  int64_t baseline_kib = VmRssKiB(pid);
  ASSERT_GT(baseline_kib, 0);

  constexpr int kPeers = 20;
  std::vector<UniqueFd> peers;
  std::vector<int> fds;
  for (int i = 0; i < kPeers; ++i) {
    peers.push_back(Connect(address, 10));
    ASSERT_TRUE(peers.back().valid());
    fds.push_back(peers.back().get());
  }
  std::vector<uint64_t> sent = FillAllWithoutReading(fds, uint64_t{32} << 20, 500);
  uint64_t total_sent = 0;
  for (uint64_t n : sent) {
    total_sent += n;
  }
  int64_t loaded_kib = VmRssKiB(pid);
  int64_t growth_kib = loaded_kib - baseline_kib;
  RecordProperty("sent_bytes", std::to_string(total_sent));
  RecordProperty("rss_growth_kib", std::to_string(growth_kib));
  // Per peer: its echo queue up to the cap plus one 16 KiB receive past it, and chunk slack;
  // 16 MiB for everything else the process may touch.
  int64_t bound_kib =
      kPeers * static_cast<int64_t>((c.max_pending_bytes + (256 << 10)) / 1024) + 16 * 1024;
  EXPECT_LE(growth_kib, bound_kib) << "peers pushed " << total_sent << " bytes";

  // And the memory comes back once the peers are gone (the kernel's count of the server's
  // connections reaching 0 first).
  peers.clear();
  ASSERT_TRUE(PollUntil(
      [&] { return ServerSocketsIn(address.port(), tcpstat::TcpState::kEstablished) == 0; },
      20000));
  EXPECT_TRUE(PollUntil([&] { return VmRssKiB(pid) - baseline_kib <= 32 * 1024; }, 5000))
      << "RSS " << VmRssKiB(pid) << " KiB, baseline " << baseline_kib << " KiB";
}

INSTANTIATE_TEST_SUITE_P(Backends, SlowReaderMemoryTest,
                         ::testing::Values(MemoryCase{"epoll", "256k", 256 << 10},
                                           MemoryCase{"epoll", "16k", 16 << 10},
                                           MemoryCase{"io_uring", "256k", 256 << 10},
                                           MemoryCase{"io_uring", "16k", 16 << 10}),
                         [](const auto& info) {
                           return info.param.backend + "_" + info.param.max_pending;
                         });

}  // namespace
}  // namespace socklab::server::testing

#include "core/sysinfo/derivations.h"

#include <cmath>

#include "gtest/gtest.h"
#include "tests/core/sysinfo/limits_fixture.h"

namespace socklab {
namespace {

using testing_fixture::LimitsTree;

KernelLimits FixtureLimits(LimitsTree& tree) { return ReadKernelLimits(ProcFs(tree.root())); }

TEST(Derivations, EphemeralPortsFromTheRange) {
  LimitsTree tree("derivations_ports");
  KernelLimits l = FixtureLimits(tree);
  // 60999 - 32768 + 1 = 28232, no reserved ports.
  EXPECT_EQ(UsableEphemeralPorts(l), 28232);

  // Both ends count, whatever the parity: 40000..40010 is 11 ports (measured on 6.18: 11
  // connections, then EADDRNOTAVAIL).
  l.port_range_low = 40000;
  l.port_range_high = 40010;
  EXPECT_EQ(UsableEphemeralPorts(l), 11);

  // Reserved ports inside the range are subtracted, those outside are not:
  // 40010-40019 (10) and 40050 (1) inside, 80 outside.
  l.port_range_high = 40099;
  l.reserved_ports = {{40010, 40019}, {40050, 40050}, {80, 80}};
  EXPECT_EQ(ReservedPortsInRange(l), 11);
  EXPECT_EQ(UsableEphemeralPorts(l), 100 - 11);

  l.port_range_low = KernelLimits::kUnknown;
  EXPECT_EQ(UsableEphemeralPorts(l), KernelLimits::kUnknown);
}

TEST(Derivations, ConnectRateFollowsTimeWaitAndReuse) {
  LimitsTree tree("derivations_rate");
  tree.SetSysctl("net.ipv4.tcp_tw_reuse", "0");
  KernelLimits l = FixtureLimits(tree);
  // 28232 ports / 60 s TIME_WAIT = 470.53/s: the "470 new connections/s".
  EXPECT_DOUBLE_EQ(PortHoldSeconds(l, /*loopback_destination=*/false), 60.0);
  EXPECT_NEAR(MaxConnectRate(l, 1, false), 470.533, 0.001);
  EXPECT_EQ(std::floor(MaxConnectRate(l, 1, false)), 470);
  // Four source addresses: 4 * 28232 / 60 = 1882.13/s.
  EXPECT_NEAR(MaxConnectRate(l, 4, false), 1882.133, 0.001);
  // 20000 held open leave 8232 ports for churn: 8232 / 60 = 137.2/s.
  EXPECT_NEAR(MaxConnectRate(l, 1, false, 20000), 137.2, 0.001);
  EXPECT_EQ(MaxConnectRate(l, 1, false, 30000), 0);

  // tcp_tw_reuse=2 helps loopback destinations only; the reuse delay is 1 s before 6.13.
  l.tcp_tw_reuse = 2;
  EXPECT_FALSE(TimeWaitReuseApplies(l, false));
  EXPECT_TRUE(TimeWaitReuseApplies(l, true));
  EXPECT_DOUBLE_EQ(PortHoldSeconds(l, true), 1.0);
  EXPECT_NEAR(MaxConnectRate(l, 1, true), 28232.0, 1e-9);
  // 6.13+ names the delay: 2500 ms -> 28232 / 2.5 = 11292.8/s.
  l.tcp_tw_reuse_delay_ms = 2500;
  EXPECT_NEAR(MaxConnectRate(l, 1, true), 11292.8, 1e-6);
  // Without timestamps tcp_tw_reuse has nothing to decide on.
  l.tcp_tw_reuse = 1;
  l.tcp_timestamps = 0;
  EXPECT_FALSE(TimeWaitReuseApplies(l, true));
  EXPECT_DOUBLE_EQ(PortHoldSeconds(l, true), 60.0);
}

TEST(Derivations, BacklogIsCappedBySomaxconn) {
  LimitsTree tree("derivations_backlog");
  tree.SetSysctl("net.core.somaxconn", "128");
  KernelLimits l = FixtureLimits(tree);
  EXPECT_EQ(EffectiveBacklog(l, 1024), 128);
  EXPECT_EQ(EffectiveBacklog(l, 64), 64);
  EXPECT_EQ(EffectiveBacklog(l, 0), 128);
}

TEST(Derivations, RetransmissionTimersMatchTheKernelModel) {
  // SYN: 1 s initial RTO, ilog2(120/1) = 6 doublings before the 120 s cap.
  // 6 retries: 1+2+4+8+16+32+64 = 127 s.
  EXPECT_DOUBLE_EQ(RetransmitGiveUpSeconds(6, 1.0), 127.0);
  // 3 retries: 1+2+4+8 = 15 s; 0 retries: the first 1 s timeout.
  EXPECT_DOUBLE_EQ(RetransmitGiveUpSeconds(3, 1.0), 15.0);
  EXPECT_DOUBLE_EQ(RetransmitGiveUpSeconds(0, 1.0), 1.0);
  // 8 retries: 127 + 2 * 120 = 367 s (the 128 s step is capped to 120 s).
  EXPECT_DOUBLE_EQ(RetransmitGiveUpSeconds(8, 1.0), 367.0);
  // Data: 200 ms minimum RTO, ilog2(120/0.2 = 600) = 9.
  // 15 retries: (2^10 - 1) * 0.2 + (15 - 9) * 120 = 204.6 + 720 = 924.6 s.
  EXPECT_NEAR(RetransmitGiveUpSeconds(15, 0.2), 924.6, 1e-9);
  // 8 retries: (2^9 - 1) * 0.2 = 102.2 s.
  EXPECT_NEAR(RetransmitGiveUpSeconds(8, 0.2), 102.2, 1e-9);
  EXPECT_LT(RetransmitGiveUpSeconds(-1, 1.0), 0);

  LimitsTree tree("derivations_timers");
  tree.SetSysctl("net.ipv4.tcp_syn_retries", "2");
  KernelLimits l = FixtureLimits(tree);
  EXPECT_DOUBLE_EQ(ConnectTimeoutSeconds(l), 7.0);  // 1 + 2 + 4
  EXPECT_DOUBLE_EQ(SynAckGiveUpSeconds(l), 63.0);   // 5 retries: 1+2+4+8+16+32
  EXPECT_NEAR(DeadPeerSeconds(l), 924.6, 1e-9);
  // 7200 + 75 * 9 = 7875 s.
  EXPECT_EQ(KeepaliveDetectSeconds(l), 7875);
}

TEST(Derivations, FdsAndBufferMemory) {
  LimitsTree tree("derivations_fds");
  KernelLimits l = FixtureLimits(tree);
  // Soft 1024 minus stdio: 1021.
  EXPECT_EQ(MaxOpenConnectionsPerProcess(l), 1021);
  l.file_max = 500;
  EXPECT_EQ(MaxOpenConnectionsPerProcess(l), 497);

  // 1000 * (131072 + 16384) = 147,456,000 B at defaults; 1000 * (6291456 + 4194304) at max.
  BufferMemory memory = BufferMemoryFor(l, 1000);
  EXPECT_DOUBLE_EQ(memory.at_defaults_bytes, 147456000.0);
  EXPECT_DOUBLE_EQ(memory.at_max_bytes, 10485760000.0);
  EXPECT_DOUBLE_EQ(memory.pressure_bytes, 200000.0 * static_cast<double>(l.page_size));
  EXPECT_DOUBLE_EQ(memory.limit_bytes, 300000.0 * static_cast<double>(l.page_size));
}

TEST(Derivations, DeriveAllShowsFormulasWithTheNumbers) {
  LimitsTree tree("derivations_all");
  tree.SetSysctl("net.ipv4.tcp_tw_reuse", "0");
  KernelLimits l = FixtureLimits(tree);
  std::vector<Derivation> all = DeriveAll(l, DerivationInputs{});
  auto find = [&all](const std::string& key) -> const Derivation* {
    for (const Derivation& d : all) {
      if (d.key == key) {
        return &d;
      }
    }
    return nullptr;
  };
  const Derivation* rate = find("new_connections_per_second");
  ASSERT_NE(rate, nullptr);
  EXPECT_EQ(rate->value, 470);
  EXPECT_NE(rate->formula.find("28232 ports / 60 s"), std::string::npos) << rate->formula;
  EXPECT_NE(rate->formula.find("tcp_fin_timeout is FIN_WAIT2 only"), std::string::npos);
  const Derivation* dead = find("dead_peer_detection");
  ASSERT_NE(dead, nullptr);
  EXPECT_NE(dead->text.find("924.6 s"), std::string::npos) << dead->text;
  ASSERT_NE(find("connect_timeout"), nullptr);
  EXPECT_EQ(find("connect_timeout")->value, 127);
  ASSERT_NE(find("new_connections_per_second_tw_reuse"), nullptr);
}

}  // namespace
}  // namespace socklab

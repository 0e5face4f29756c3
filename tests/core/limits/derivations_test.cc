#include "core/limits/derivations.h"

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/core/limits/limits_fixture.h"

namespace socklab {
namespace {

using testing_fixture::LimitsTree;

KernelLimits FixtureLimits(LimitsTree& tree) { return ReadKernelLimits(ProcFs(tree.root())); }

TEST(Derivations, EphemeralPortsFromTheRange) {
  LimitsTree tree("derivations_ports");
  KernelLimits l = FixtureLimits(tree);
  // 60999 - 32768 + 1 = 28232, no reserved ports.
  EXPECT_EQ(UsableEphemeralPorts(l), 28232);

  // An odd-sized range: __inet_hash_connect() scans `remaining &= ~1U` = 10 of 40000..40010 per
  // call, so 10 are guaranteed and the 11th is found only from some start offsets (measured on
  // 6.18 in a private namespace: 10 connections in 4 of 40 trials, 11 in the other 36).
  l.port_range_low = 40000;
  l.port_range_high = 40010;
  EXPECT_EQ(UsableEphemeralPorts(l), 10);
  EXPECT_EQ(MaxEphemeralPorts(l), 11);
  // Even-sized: nothing lost. 40000..40009 = 10 of 10.
  l.port_range_high = 40009;
  EXPECT_EQ(UsableEphemeralPorts(l), 10);
  EXPECT_EQ(MaxEphemeralPorts(l), 10);
  // A one-port range is scanned as is.
  l.port_range_high = 40000;
  EXPECT_EQ(UsableEphemeralPorts(l), 1);

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
  EXPECT_DOUBLE_EQ(TwReuseDelaySeconds(l), 2.5);
  // Without timestamps tcp_tw_reuse has nothing to decide on.
  l.tcp_tw_reuse = 1;
  l.tcp_timestamps = 0;
  EXPECT_FALSE(TimeWaitReuseApplies(l, true));
  EXPECT_DOUBLE_EQ(PortHoldSeconds(l, true), 60.0);
}

TEST(Derivations, DeriveAllNamesTheOddPortAndSlowRates) {
  LimitsTree tree("derivations_odd_range");
  tree.SetSysctl("net.ipv4.ip_local_port_range", "40000 40010");
  tree.SetSysctl("net.ipv4.tcp_tw_reuse", "0");
  std::vector<Derivation> all = DeriveAll(FixtureLimits(tree), DerivationInputs{});
  ASSERT_GE(all.size(), 3u);
  EXPECT_EQ(all[0].key, "ephemeral_ports");
  EXPECT_EQ(all[0].value, 10);
  EXPECT_EQ(all[0].text, "10 ports (11 only sometimes)");
  EXPECT_NE(all[0].formula.find("connect() scans 11 & ~1 = 10 per call"), std::string::npos)
      << all[0].formula;
  // 10 / 60 = 0.167/s: value and text keep the decimal, rounded down.
  EXPECT_EQ(all[1].key, "new_connections_per_second");
  EXPECT_DOUBLE_EQ(all[1].value, 0.1);
  EXPECT_EQ(all[1].text, "0.1/s");
  // Half of them, 5 / 60 = 0.083/s, without a scan.
  EXPECT_EQ(all[2].key, "new_connections_per_second_without_scan");
  EXPECT_EQ(all[2].text, "0.0/s");
  EXPECT_NE(all[2].formula.find("half the ports, 5 / 60 s"), std::string::npos) << all[2].formula;
  EXPECT_EQ(all[3].key, "per_extra_source_address");
  EXPECT_EQ(all[3].text, "+10 ports held, +0.1/s");
}

// connect() takes ports of the range's low parity first: half the ports, at the same hold.
TEST(Derivations, ScanFreeRateIsTheRateOverHalfThePorts) {
  LimitsTree tree("derivations_scan_free");
  tree.SetSysctl("net.ipv4.tcp_tw_reuse", "0");
  KernelLimits l = FixtureLimits(tree);
  // 14116 / 60 s = 235.27/s, and per source address as many more.
  EXPECT_NEAR(ScanFreeConnectRate(l, 1, false), 235.267, 0.001);
  EXPECT_NEAR(ScanFreeConnectRate(l, 4, false), 941.067, 0.001);
  // Connections held open took their ports from that half: (14116 - 10000) / 60 s.
  EXPECT_NEAR(ScanFreeConnectRate(l, 1, false, 10000), 68.6, 1e-9);
  EXPECT_EQ(ScanFreeConnectRate(l, 1, false, 15000), 0);
  // Loopback with tcp_tw_reuse=2: 14116 ports / 1 s, where a one-address churn levels off.
  l.tcp_tw_reuse = 2;
  EXPECT_NEAR(ScanFreeConnectRate(l, 1, true), 14116.0, 1e-9);
  // The TIME_WAIT cap frees ports at once, half the range or all of it.
  l.tcp_max_tw_buckets = 1000;
  EXPECT_TRUE(std::isinf(ScanFreeConnectRate(l, 1, true)));
  l.port_range_low = KernelLimits::kUnknown;
  EXPECT_LT(ScanFreeConnectRate(l, 1, true), 0);
}

TEST(Derivations, DeriveAllShowsTheScanFreeRateBesideEachPortRate) {
  LimitsTree tree("derivations_scan_free_rows");
  KernelLimits l = FixtureLimits(tree);  // tcp_tw_reuse=2, timestamps on
  std::vector<Derivation> remote = DeriveAll(l, DerivationInputs{.source_addresses = 2});
  auto find = [](const std::vector<Derivation>& all, const std::string& key) -> const Derivation* {
    for (const Derivation& d : all) {
      if (d.key == key) {
        return &d;
      }
    }
    return nullptr;
  };
  const Derivation* scan_free = find(remote, "new_connections_per_second_without_scan");
  ASSERT_NE(scan_free, nullptr);
  EXPECT_EQ(scan_free->value, 235);
  EXPECT_EQ(scan_free->text, "235/s");
  const Derivation* loopback = find(remote, "new_connections_per_second_loopback");
  ASSERT_NE(loopback, nullptr);
  EXPECT_EQ(loopback->value, 28232);
  EXPECT_EQ(loopback->text, "28232/s (14116/s at once)");
  const Derivation* reuse = find(remote, "new_connections_per_second_tw_reuse");
  ASSERT_NE(reuse, nullptr);
  EXPECT_EQ(reuse->text, "28232/s (14116/s at once)");
  const Derivation* sources = find(remote, "new_connections_per_second_all_sources");
  ASSERT_NE(sources, nullptr);
  EXPECT_EQ(sources->text, "941/s (470/s at once)");
}

TEST(Derivations, TimeWaitBucketsCapMakesChurnUnlimited) {
  LimitsTree tree("derivations_tw_buckets");
  tree.SetSysctl("net.ipv4.tcp_tw_reuse", "0");
  tree.SetSysctl("net.ipv4.tcp_max_tw_buckets", "1000");
  KernelLimits l = FixtureLimits(tree);
  // 28232 free ports >= 1000 TIME_WAIT sockets at most: the rest are destroyed, their ports free.
  EXPECT_TRUE(std::isinf(MaxConnectRate(l, 1, false)));
  // 27500 held open leave 732 < 1000: the cap no longer saves them, 732 / 60 s = 12.2/s.
  EXPECT_NEAR(MaxConnectRate(l, 1, false, 27500), 12.2, 1e-9);
  EXPECT_EQ(MaxConnectRate(l, 1, false, 30000), 0);
  EXPECT_EQ(FormatRate(MaxConnectRate(l, 1, false)), "unlimited");
}

TEST(Derivations, BacklogIsCappedBySomaxconn) {
  LimitsTree tree("derivations_backlog");
  tree.SetSysctl("net.core.somaxconn", "128");
  KernelLimits l = FixtureLimits(tree);
  EXPECT_EQ(EffectiveBacklog(l, 1024), 128);
  EXPECT_EQ(EffectiveBacklog(l, 64), 64);
  EXPECT_EQ(EffectiveBacklog(l, 0), 128);
  // The accept queue holds one more (measured on 6.18: listen(2) queued 3).
  EXPECT_EQ(AcceptQueueCapacity(l, 2), 3);
  EXPECT_EQ(AcceptQueueCapacity(l, 1024), 129);
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

// More retries than MAX_TCP_SYNCNT: no kernel accepts them, and the schedule would have been
// built one retransmission at a time (found by tests/fuzz/kernel_limits_fuzz.cc).
TEST(DerivationsTest, SynScheduleIsUnknownPastMaxTcpSyncnt) {
  EXPECT_LT(SynSentSchedule(128, 4).give_up_seconds, 0);
  EXPECT_LT(SynSentSchedule(6, std::numeric_limits<int64_t>::max()).give_up_seconds, 0);
  EXPECT_GT(SynSentSchedule(127, 4).give_up_seconds, 0);
}

// A tree from elsewhere (tune --root) may hold values no kernel accepts; found by
// tests/fuzz/kernel_limits_fuzz.cc, where the product overflowed int64.
TEST(DerivationsTest, KeepaliveDetectIsUnknownPastInt64) {
  KernelLimits l;
  l.tcp_keepalive_time = 7200;
  l.tcp_keepalive_intvl = 1048576;
  l.tcp_keepalive_probes = std::numeric_limits<int64_t>::max();
  EXPECT_EQ(KeepaliveDetectSeconds(l), KernelLimits::kUnknown);
  l.tcp_keepalive_intvl = 1;
  l.tcp_keepalive_probes = std::numeric_limits<int64_t>::max();
  EXPECT_EQ(KeepaliveDetectSeconds(l), KernelLimits::kUnknown);
}

std::vector<double> Sends(const SynSchedule& schedule) { return schedule.sends; }

// Against tcp_write_timeout()/tcp_retransmit_timer() of 6.5+, and measured on 6.18 in a private
// namespace whose nftables rule drops the SYNs (timings include 0.1-3 s of timer slack).
TEST(Derivations, SynRetriesWithLinearTimeouts) {
  // N=3, L=4: SYNs 0 1 2 3 4 5 7 11, the 8th timer expiry at 19 s has sent 3 + 4 = 7
  // retransmissions. Measured: ETIMEDOUT after 19.46 s, 8 SYNs.
  SynSchedule n3 = SynSentSchedule(3, 4);
  EXPECT_EQ(Sends(n3), (std::vector<double>{0, 1, 2, 3, 4, 5, 7, 11}));
  EXPECT_DOUBLE_EQ(n3.give_up_seconds, 19.0);
  EXPECT_EQ(n3.max_retransmissions, 7);
  EXPECT_DOUBLE_EQ(n3.model_seconds, 15.0);
  // N=3, L=0: 0 1 3 7, gives up at 15 s. Measured: 15.31 s, 4 SYNs.
  SynSchedule n3_exp = SynSentSchedule(3, 0);
  EXPECT_EQ(Sends(n3_exp), (std::vector<double>{0, 1, 3, 7}));
  EXPECT_DOUBLE_EQ(n3_exp.give_up_seconds, 15.0);
  // N=2, L=4: the time rule ends it first, at the expiry at 7 s >= (2^3 - 1) s, after 5 of the
  // 6 retransmissions the count allows. Measured: 7.13 s, 6 SYNs (3 with L=0, also 7.15 s).
  SynSchedule n2 = SynSentSchedule(2, 4);
  EXPECT_EQ(Sends(n2), (std::vector<double>{0, 1, 2, 3, 4, 5}));
  EXPECT_DOUBLE_EQ(n2.give_up_seconds, 7.0);
  EXPECT_EQ(SynSentSchedule(2, 0).sends.size(), 3u);
  EXPECT_DOUBLE_EQ(SynSentSchedule(2, 0).give_up_seconds, 7.0);
  // The defaults, N=6, L=4: 11 SYNs, the last at 67 s, ETIMEDOUT at 67 + 64 = 131 s.
  // Measured: 133.82 s and 11 SYNs; with L=0 129.75 s and 7 SYNs (127 s modelled).
  SynSchedule n6 = SynSentSchedule(6, 4);
  EXPECT_EQ(Sends(n6), (std::vector<double>{0, 1, 2, 3, 4, 5, 7, 11, 19, 35, 67}));
  EXPECT_DOUBLE_EQ(n6.give_up_seconds, 131.0);
  EXPECT_EQ(SynSendTimesText(n6), "0, 1, 2, 3, 4, 5, 7, 11, 19, 35, 67 s");
  EXPECT_EQ(SynSendTimesText(n6, 4), "0, 1, 2, 3, ... s");
  EXPECT_DOUBLE_EQ(SynSentSchedule(6, 0).give_up_seconds, 127.0);
  // A 5 s RTO ceiling (tcp_rto_max_ms 5000): 0 1 3 7 12 17 22, both rules at 27 s =
  // (2^3 - 1) * 1 s + (6 - 2) * 5 s.
  SynSchedule capped = SynSentSchedule(6, 0, 5.0);
  EXPECT_EQ(Sends(capped), (std::vector<double>{0, 1, 3, 7, 12, 17, 22}));
  EXPECT_DOUBLE_EQ(capped.give_up_seconds, 27.0);
}

// The formula's 131 s is when the last timer is due; each of the 11 timers fires late by up to
// its timer-wheel granularity, and each is armed when the previous fired. The connect-timeout
// measurements on 6.18 (133.5 to 135 s for the defaults, 3.0x s for TCP_SYNCNT 1) fall between
// the formula and the bound.
TEST(Derivations, SynGiveUpBoundsWhatIsMeasured) {
  EXPECT_DOUBLE_EQ(TimerWheelSlackSeconds(1, 1000), 0.064);     // level 2: 64 jiffies
  EXPECT_DOUBLE_EQ(TimerWheelSlackSeconds(64, 1000), 4.096);    // level 4: 4096 jiffies
  EXPECT_DOUBLE_EQ(TimerWheelSlackSeconds(0.05, 1000), 0.001);  // level 0: one jiffy
  SynSchedule n6 = SynSentSchedule(6, 4);
  EXPECT_DOUBLE_EQ(n6.give_up_seconds, 131.0);
  EXPECT_GE(n6.latest_give_up_seconds, 135.0);
  EXPECT_LT(n6.latest_give_up_seconds, 131.0 * 1.125);  // never more than 1/8 late
  EXPECT_EQ(SynGiveUpText(n6).rfind("131 s by the formula, in practice up to 13", 0), 0u)
      << SynGiveUpText(n6);
  SynSchedule one = SynSentSchedule(1, 4);
  EXPECT_DOUBLE_EQ(one.give_up_seconds, 3.0);
  EXPECT_GT(one.latest_give_up_seconds, 3.05);
  EXPECT_LT(one.latest_give_up_seconds, 3.5);
}

TEST(Derivations, ConnectTimeoutReadsLinearTimeoutsWhenPresent) {
  LimitsTree tree("derivations_syn_linear");
  KernelLimits absent = FixtureLimits(tree);  // no tcp_syn_linear_timeouts: kernel < 6.5
  EXPECT_EQ(SynLinearTimeouts(absent), 0);
  EXPECT_DOUBLE_EQ(ConnectTimeoutSeconds(absent), 127.0);
  tree.SetSysctl("net.ipv4.tcp_syn_linear_timeouts", "4");
  KernelLimits present = FixtureLimits(tree);
  EXPECT_EQ(SynLinearTimeouts(present), 4);
  EXPECT_DOUBLE_EQ(ConnectTimeoutSeconds(present), 131.0);
  tree.SetSysctl("net.ipv4.tcp_syn_retries", "3");
  EXPECT_DOUBLE_EQ(ConnectTimeoutSeconds(FixtureLimits(tree)), 19.0);
  tree.SetSysctl("net.ipv4.tcp_syn_linear_timeouts", "0");
  EXPECT_DOUBLE_EQ(ConnectTimeoutSeconds(FixtureLimits(tree)), 15.0);
}

TEST(Derivations, RtoMaxReadWhenPresent) {
  LimitsTree tree("derivations_rto_max");
  KernelLimits absent = FixtureLimits(tree);  // kernel < 6.15: TCP_RTO_MAX
  EXPECT_DOUBLE_EQ(RtoMaxSeconds(absent), 120.0);
  EXPECT_NEAR(DeadPeerSeconds(absent), 924.6, 1e-9);
  tree.SetSysctl("net.ipv4.tcp_rto_max_ms", "5000");
  KernelLimits present = FixtureLimits(tree);
  EXPECT_DOUBLE_EQ(RtoMaxSeconds(present), 5.0);
  // ilog2(5000 / 200 = 25) = 4: (2^5 - 1) * 0.2 + (15 - 4) * 5 = 6.2 + 55 = 61.2 s.
  EXPECT_NEAR(DeadPeerSeconds(present), 61.2, 1e-9);
  EXPECT_NEAR(RetransmitGiveUpSeconds(15, 0.2, 5.0), 61.2, 1e-9);
  // SYN side: 6 retries, no linear timeouts in this fixture: 27 s (see above).
  EXPECT_DOUBLE_EQ(ConnectTimeoutSeconds(present), 27.0);
  // SYN-ACK: 5 retries, ilog2(5) = 2: 7 + 3 * 5 = 22 s.
  EXPECT_DOUBLE_EQ(SynAckGiveUpSeconds(present), 22.0);
}

TEST(Derivations, FdsAndBufferMemory) {
  LimitsTree tree("derivations_fds");
  KernelLimits l = FixtureLimits(tree);
  // Soft 1024 minus the fds a client holds besides its connections: 1008.
  EXPECT_EQ(MaxOpenConnectionsPerProcess(l), 1024 - kFdsBesidesConnections);
  l.file_max = 500;
  EXPECT_EQ(MaxOpenConnectionsPerProcess(l), 500 - kFdsBesidesConnections);

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
  const Derivation* connect = find("connect_timeout");
  ASSERT_NE(connect, nullptr);
  EXPECT_EQ(connect->value, 127);
  EXPECT_NE(connect->formula.find("tcp_syn_linear_timeouts 0 (no such sysctl: kernel < 6.5)"),
            std::string::npos)
      << connect->formula;
  const Derivation* reuse = find("new_connections_per_second_tw_reuse");
  ASSERT_NE(reuse, nullptr);
  EXPECT_EQ(reuse->value, 28232);  // 28232 ports / 1 s before 6.13
  // Plain `socklab tune` (one source address) still says what another address adds.
  const Derivation* per_source = find("per_extra_source_address");
  ASSERT_NE(per_source, nullptr);
  EXPECT_EQ(per_source->text, "+28232 ports held, +470/s") << per_source->text;
  EXPECT_EQ(find("new_connections_per_second_all_sources"), nullptr);
  const Derivation* backlog = find("effective_backlog");
  ASSERT_NE(backlog, nullptr);
  EXPECT_NE(backlog->formula.find("it holds 4097 = backlog + 1"), std::string::npos)
      << backlog->formula;
}

TEST(Derivations, DeriveAllShowsLinearTimeoutsAndReuseDelay) {
  LimitsTree tree("derivations_all_new");
  tree.SetSysctl("net.ipv4.tcp_syn_linear_timeouts", "4");
  tree.SetSysctl("net.ipv4.tcp_tw_reuse_delay", "2500");
  KernelLimits l = FixtureLimits(tree);  // tcp_tw_reuse=2
  DerivationInputs inputs;
  inputs.source_addresses = 3;
  std::vector<Derivation> all = DeriveAll(l, inputs);
  auto find = [&all](const std::string& key) -> const Derivation* {
    for (const Derivation& d : all) {
      if (d.key == key) {
        return &d;
      }
    }
    return nullptr;
  };
  const Derivation* connect = find("connect_timeout");
  ASSERT_NE(connect, nullptr);
  EXPECT_EQ(connect->value, 131);
  EXPECT_NE(connect->formula.find("tcp_syn_retries 6, tcp_syn_linear_timeouts 4: SYNs at 0, 1, 2, "
                                  "3, 4, 5, 7, 11, 19, 35, 67 s"),
            std::string::npos)
      << connect->formula;
  EXPECT_NE(connect->formula.find("6 + 4 = 10 retransmissions"), std::string::npos);
  // tcp_tw_reuse=2 and a remote destination: both the loopback figure and what
  // tcp_tw_reuse=1 would give, with the 2.5 s delay: 28232 / 2.5 = 11292.8/s.
  ASSERT_NE(find("new_connections_per_second_loopback"), nullptr);
  const Derivation* reuse = find("new_connections_per_second_tw_reuse");
  ASSERT_NE(reuse, nullptr);
  EXPECT_EQ(reuse->value, 11292);
  EXPECT_NE(reuse->formula.find("/ 2.5 s tcp_tw_reuse_delay (2500 ms)"), std::string::npos)
      << reuse->formula;
  const Derivation* sources = find("new_connections_per_second_all_sources");
  ASSERT_NE(sources, nullptr);
  EXPECT_EQ(sources->value, 1411);  // 3 * 28232 / 60 = 1411.6
  ASSERT_NE(find("per_extra_source_address"), nullptr);

  // tcp_tw_reuse=1 already: no alternative line.
  l.tcp_tw_reuse = 1;
  all = DeriveAll(l, inputs);
  EXPECT_EQ(find("new_connections_per_second_tw_reuse"), nullptr);
}

}  // namespace
}  // namespace socklab

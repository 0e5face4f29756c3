// socklab-server --fault against `socklab load`, as a user would run them, on both backends: each
// fault must reach the client as the error class it stands for (the client's kernel reported
// it), in step with the server's own fault count, and leave the kernel state it implies (netlink:
// who closed first, bytes left unread, a full accept queue, a listener gone). Where one
// connection's kernel state says more (a half close, reading stopped), a plain socket is the peer.

#include <linux/sockios.h>
#include <linux/tcp.h>  // tcp_info with tcpi_data_segs_in (glibc 2.36 lacks it)
#include <netinet/in.h>
#include <signal.h>
#include <sys/ioctl.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "core/loop/event_loop.h"
#include "core/tcpstat/tcp_socket.h"
#include "core/tcpstat/tcp_state.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/client/tune/run_socklab.h"
#include "tests/server/kernel_view.h"
#include "tests/server/server_process.h"
#include "tests/server/test_client.h"
#include "tests/testing/backends.h"
#include "tests/testing/wait_for.h"

namespace socklab::server {
namespace {

using namespace socklab::server::testing;
using socklab::testing::IoUringUsable;
using socklab::testing::WaitFor;
using socklab::testing_tune::RunSocklab;

// "read reset" -> count, from load's JSON errors.
std::map<std::string, uint64_t> ErrorsByPhaseAndClass(const nlohmann::json& load) {
  std::map<std::string, uint64_t> errors;
  for (const nlohmann::json& cell : load["errors"]["by_class"]) {
    errors[cell.value("phase", "") + " " + cell.value("class", "")] += cell.value("count", 0ULL);
  }
  return errors;
}

std::string Describe(const std::map<std::string, uint64_t>& errors) {
  std::string text;
  for (const auto& [key, count] : errors) {
    text += key + "=" + std::to_string(count) + " ";
  }
  return text.empty() ? "none" : text;
}

size_t CountInState(uint16_t port, tcpstat::TcpState state) {
  size_t n = 0;
  for (const tcpstat::TcpSocket& s : ServerSocketsOnPort(port)) {
    n += s.state == state ? 1 : 0;
  }
  return n;
}

class FaultLoadTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "io_uring" && !IoUringUsable()) {
      GTEST_SKIP() << "io_uring unavailable";
    }
  }

  // socklab-server on a free port, one thread (so counts are one worker's), with `fault_args`.
  std::unique_ptr<ServerProcess> StartServer(std::vector<std::string> fault_args) {
    std::vector<std::string> args = {"--listen", "127.0.0.1:0",     "--threads",
                                     "1",        "--backend",       GetParam(),
                                     "--json",   "--drain-timeout", "200ms"};
    args.insert(args.end(), fault_args.begin(), fault_args.end());
    auto server = std::make_unique<ServerProcess>(args);
    address_ = server->Address();
    EXPECT_NE(address_.port(), 0) << server->err();
    return server;
  }

  // `socklab load` against the server, bounded by its -d and a 60 s kill; its JSON result.
  nlohmann::json Load(std::vector<std::string> args) {
    args.insert(args.begin(),
                {"load", address_.ToString(), "--backend", GetParam(), "--json", "-"});
    socklab::testing_tune::RunResult run = RunSocklab(args, 60);
    nlohmann::json j = nlohmann::json::parse(run.out, nullptr, /*allow_exceptions=*/false);
    EXPECT_TRUE(j.is_object()) << "load exit " << run.exit_code << ": " << run.err;
    return j.is_object() ? j : nlohmann::json::object();
  }

  // SIGTERM, the exit and the JSON summary.
  nlohmann::json Stop(ServerProcess& server) {
    kill(server.pid(), SIGTERM);
    EXPECT_TRUE(server.Exited(30000)) << server.err();
    EXPECT_EQ(server.exit_code(), 0) << server.err();
    nlohmann::json summary = server.Summary();
    EXPECT_TRUE(summary.is_object()) << server.out() << server.err();
    return summary.is_object() ? summary : nlohmann::json::object();
  }

  SocketAddress address_;
};

// The server's echoed bytes against what the load counted: `counted` bytes belong to messages
// the client completed (or saw cut by the fault); a message still in flight when the load's
// window closed may have been echoed too, which the server counts and the client does not.
void ExpectBytesOut(const nlohmann::json& summary, const nlohmann::json& load, uint64_t counted) {
  const uint64_t in_flight = load["messages"]["in_flight_at_end"].get<uint64_t>();
  EXPECT_GE(summary["bytes_out"].get<uint64_t>(), counted);
  EXPECT_LE(summary["bytes_out"].get<uint64_t>(), counted + 64 * in_flight);  // -s 64 here
}

TEST_P(FaultLoadTest, ResetAfterBytesIsReadEconnresetAndLeavesNoTimeWaitOnTheServer) {
  auto server = StartServer({"--fault", "reset-after=1k"});
  // The effective configuration names the fault, in the listening event and on stderr.
  EXPECT_EQ(server->JsonLines().front()["config"]["fault"], "reset-after=1.0 KiB probability=1");
  EXPECT_NE(server->err().find(" fault=reset-after=1.0 KiB probability=1"), std::string::npos)
      << server->err();
  nlohmann::json load = Load({"-c", "1", "-s", "64", "-d", "1s", "--read-timeout", "5s"});
  std::map<std::string, uint64_t> errors = ErrorsByPhaseAndClass(load);
  uint64_t resets = errors["read reset"];
  EXPECT_GE(resets, 1u) << Describe(errors);
  EXPECT_EQ(errors.size(), 1u) << "only read ECONNRESET expected: " << Describe(errors);
  // An abortive close leaves no TIME_WAIT on the side that sent the RST; a FIN would.
  EXPECT_EQ(CountInState(address_.port(), tcpstat::TcpState::kTimeWait), 0u);
  nlohmann::json summary = Stop(*server);
  uint64_t inflicted = summary["faults"]["reset"].get<uint64_t>();
  // Every reset the client met is one the server inflicted; the last may have met no reader.
  EXPECT_GE(inflicted, resets);
  EXPECT_LE(inflicted, resets + 1);
  // 1 KiB in 64-byte messages: the 16th crosses it and is never echoed. The last connection may
  // have been ended by load's own stop, after at most 15 messages.
  uint64_t completed = load["messages"]["completed"].get<uint64_t>();
  EXPECT_GE(completed, 15 * inflicted);
  EXPECT_LE(completed, 15 * (inflicted + 1));
  ExpectBytesOut(summary, load, 64 * completed);
}

TEST_P(FaultLoadTest, ResetAfterADurationOnABlackholeIsReadEconnresetAfterThatTime) {
  // Never read, reset 300 ms after accept: the client waits in read and meets the RST there.
  auto server = StartServer({"--fault", "blackhole", "--fault", "reset-after=300ms"});
  nlohmann::json load = Load({"-c", "1", "-s", "64", "-d", "1s", "--read-timeout", "5s"});
  std::map<std::string, uint64_t> errors = ErrorsByPhaseAndClass(load);
  uint64_t resets = errors["read reset"];
  EXPECT_GE(resets, 1u) << Describe(errors);
  EXPECT_EQ(errors.size(), 1u) << "only read ECONNRESET expected: " << Describe(errors);
  // The reset came from the timer, not from bytes: at most one per 300 ms of the 1 s run.
  EXPECT_LE(resets, 4u);
  EXPECT_EQ(load["messages"]["completed"].get<uint64_t>(), 0u);
  nlohmann::json summary = Stop(*server);
  uint64_t inflicted = summary["faults"]["reset"].get<uint64_t>();
  EXPECT_GE(inflicted, resets);
  EXPECT_LE(inflicted, resets + 1);
  EXPECT_EQ(summary["faults"]["blackhole"].get<uint64_t>(), summary["accepted"].get<uint64_t>());
}

TEST_P(FaultLoadTest, CloseAfterBytesIsReadEofWithTheServerClosingFirst) {
  auto server = StartServer({"--fault", "close-after=1000"});
  nlohmann::json load = Load({"-c", "1", "-s", "64", "-d", "1s", "--read-timeout", "5s"});
  std::map<std::string, uint64_t> errors = ErrorsByPhaseAndClass(load);
  uint64_t eofs = errors["read eof"];
  EXPECT_GE(eofs, 1u) << Describe(errors);
  EXPECT_EQ(errors.size(), 1u) << "only read EOF expected: " << Describe(errors);
  nlohmann::json summary = Stop(*server);
  uint64_t inflicted = summary["faults"]["close"].get<uint64_t>();
  EXPECT_GE(inflicted, eofs);
  EXPECT_LE(inflicted, eofs + 1);
  // The server sent the first FIN, so its end of each closed connection waits in TIME_WAIT (60 s,
  // longer than this test), and only its end.
  EXPECT_GE(CountInState(address_.port(), tcpstat::TcpState::kTimeWait), eofs);
  // 1000 bytes: 15 whole echoes, then 40 bytes of the 16th and the FIN. The last connection may
  // have been ended by load's own stop, after at most 15 whole echoes.
  uint64_t completed = load["messages"]["completed"].get<uint64_t>();
  EXPECT_GE(completed, 15 * inflicted);
  EXPECT_LE(completed, 15 * (inflicted + 1));
  ExpectBytesOut(summary, load, 1000 * inflicted + 64 * (completed - 15 * inflicted));
}

TEST_P(FaultLoadTest, BlackholeIsReadDeadlineWithTheRequestsLeftUnread) {
  auto server = StartServer({"--fault", "blackhole"});
  nlohmann::json load = Load({"-c", "2", "-s", "64", "-d", "1s", "--read-timeout", "300ms"});
  std::map<std::string, uint64_t> errors = ErrorsByPhaseAndClass(load);
  uint64_t deadlines = errors["read deadline"];
  EXPECT_GE(deadlines, 2u) << Describe(errors);
  EXPECT_EQ(errors.size(), 1u) << "only read deadlines expected: " << Describe(errors);
  EXPECT_EQ(load["messages"]["completed"].get<uint64_t>(), 0u);
  // The kernel holds every request the server never read: 64 bytes in each server socket.
  size_t unread = 0;
  for (const tcpstat::TcpSocket& s : ServerSocketsOnPort(address_.port())) {
    if (s.state != tcpstat::TcpState::kListen) {
      // 64 request bytes, and one more for the FIN once the client gave up and closed (the FIN
      // takes a sequence number: CLOSE_WAIT).
      EXPECT_EQ(s.rx_queue, s.state == tcpstat::TcpState::kCloseWait ? 65u : 64u)
          << tcpstat::TcpStateName(s.state);
      ++unread;
    }
  }
  EXPECT_GE(unread, deadlines);
  nlohmann::json summary = Stop(*server);
  EXPECT_EQ(summary["faults"]["blackhole"].get<uint64_t>(), summary["accepted"].get<uint64_t>());
  EXPECT_EQ(summary["faults"]["blackhole"].get<uint64_t>(), unread);
  EXPECT_EQ(summary["bytes_in"].get<uint64_t>(), 0u);
}

// blackhole: a client that writes without reading stalls once the server's receive queue and its
// own send queue are full: every byte it got out sits in one of the two (netlink, SIOCOUTQ).
TEST_P(FaultLoadTest, BlackholeStallsTheWriterWithEveryByteInTheKernelsQueues) {
  auto server = StartServer({"--fault", "blackhole", "--rcvbuf", "64k"});
  UniqueFd client = Connect(address_);
  ASSERT_TRUE(client);
  absl::StatusOr<SocketAddress> local = LocalAddressOf(client.get());
  ASSERT_TRUE(local.ok());
  // Bounded: 64 MiB is far above what the two queues hold.
  std::string sent = FillWithoutReading(client.get(), size_t{64} << 20, 8);
  ASSERT_LT(sent.size(), size_t{64} << 20) << "the writes never stalled";
  int unsent = -1;
  ASSERT_EQ(ioctl(client.get(), SIOCOUTQ, &unsent), 0);
  std::optional<tcpstat::TcpSocket> server_end;
  EXPECT_TRUE(WaitFor([&] {
    server_end = ServerEndOf(address_, *local);
    return server_end.has_value() &&
           server_end->rx_queue + static_cast<uint64_t>(unsent) == sent.size();
  })) << "sent "
      << sent.size() << ", client send queue " << unsent << ", server receive queue "
      << (server_end ? server_end->rx_queue : 0);
  EXPECT_GT(server_end->rx_queue, 0u);
  nlohmann::json summary = Stop(*server);
  EXPECT_EQ(summary["bytes_in"].get<uint64_t>(), 0u);
  EXPECT_EQ(summary["faults"]["blackhole"].get<uint64_t>(), 1u);
}

TEST_P(FaultLoadTest, NoAcceptWithAFullQueueIsConnectDeadline) {
  auto server = StartServer({"--fault", "no-accept", "--backlog", "1"});
  // Linux queues backlog + 1 connections; two fill it.
  UniqueFd first = Connect(address_);
  UniqueFd second = Connect(address_);
  ASSERT_TRUE(first && second);
  ASSERT_TRUE(WaitFor([&] { return ListenerQueue(address_.port()) == 2; }))
      << ListenerQueue(address_.port());
  nlohmann::json load = Load({"-c", "1", "-s", "64", "-d", "1500ms", "--connect-timeout", "300ms"});
  std::map<std::string, uint64_t> errors = ErrorsByPhaseAndClass(load);
  EXPECT_GE(errors["connect deadline"], 1u) << Describe(errors);
  EXPECT_EQ(errors.size(), 1u) << "only connect deadlines expected: " << Describe(errors);
  EXPECT_EQ(load["connections"]["opened"].get<uint64_t>(), 0u);
  EXPECT_EQ(ListenerQueue(address_.port()), 2);  // still full: the SYNs were dropped, not queued
  nlohmann::json summary = Stop(*server);
  EXPECT_EQ(summary["accepted"].get<uint64_t>(), 0u);
}

TEST_P(FaultLoadTest, RefuseAfterIsConnectEconnrefusedOnceTheListenerIsGone) {
  auto server = StartServer({"--fault", "refuse-after=1"});
  // One message per connection: the first connection is served, every later one refused.
  nlohmann::json load = Load({"-c", "1", "-s", "64", "-d", "1s", "--churn", "1"});
  std::map<std::string, uint64_t> errors = ErrorsByPhaseAndClass(load);
  EXPECT_GE(errors["connect refused"], 1u) << Describe(errors);
  EXPECT_EQ(errors.size(), 1u) << "only connect ECONNREFUSED expected: " << Describe(errors);
  EXPECT_EQ(load["messages"]["completed"].get<uint64_t>(), 1u);
  EXPECT_EQ(load["connections"]["opened"].get<uint64_t>(), 1u);
  EXPECT_EQ(CountInState(address_.port(), tcpstat::TcpState::kListen), 0u);
  nlohmann::json summary = Stop(*server);
  EXPECT_EQ(summary["accepted"].get<uint64_t>(), 1u);
  EXPECT_EQ(summary["faults"]["listener_closed"].get<uint64_t>(), 1u);
}

TEST_P(FaultLoadTest, HalfCloseAfterBytesIsReadEof) {
  auto server = StartServer({"--fault", "half-close-after=1000"});
  nlohmann::json load = Load({"-c", "1", "-s", "64", "-d", "1s", "--read-timeout", "5s"});
  std::map<std::string, uint64_t> errors = ErrorsByPhaseAndClass(load);
  uint64_t eofs = errors["read eof"];
  EXPECT_GE(eofs, 1u) << Describe(errors);
  EXPECT_EQ(errors.size(), 1u) << "only read EOF expected: " << Describe(errors);
  nlohmann::json summary = Stop(*server);
  uint64_t inflicted = summary["faults"]["half_close"].get<uint64_t>();
  EXPECT_GE(inflicted, eofs);
  EXPECT_LE(inflicted, eofs + 1);
  uint64_t completed = load["messages"]["completed"].get<uint64_t>();
  ExpectBytesOut(summary, load, 1000 * inflicted + 64 * (completed - 15 * inflicted));
}

TEST_P(FaultLoadTest, StopReadingAfterBytesIsReadDeadline) {
  auto server = StartServer({"--fault", "stop-reading-after=1000"});
  nlohmann::json load = Load({"-c", "1", "-s", "64", "-d", "1s", "--read-timeout", "300ms"});
  std::map<std::string, uint64_t> errors = ErrorsByPhaseAndClass(load);
  uint64_t deadlines = errors["read deadline"];
  EXPECT_GE(deadlines, 1u) << Describe(errors);
  EXPECT_EQ(errors.size(), 1u) << "only read deadlines expected: " << Describe(errors);
  nlohmann::json summary = Stop(*server);
  EXPECT_EQ(summary["faults"]["stop_reading"].get<uint64_t>(), summary["accepted"].get<uint64_t>());
  EXPECT_GE(summary["accepted"].get<uint64_t>(), deadlines);
}

// half-close-after: the peer reads EOF, its writes still work and are read (not echoed); the
// server's end sits in FIN_WAIT2 until the peer closes too.
TEST_P(FaultLoadTest, HalfCloseLeavesThePeersWritesWorking) {
  auto server = StartServer({"--fault", "half-close-after=100"});
  UniqueFd client = Connect(address_);
  ASSERT_TRUE(client);
  std::string first = RandomBytes(100, 1);
  ASSERT_TRUE(SendAll(client.get(), first));
  int error = -1;
  EXPECT_EQ(RecvUntilEof(client.get(), &error), first);
  EXPECT_EQ(error, 0) << "EOF expected, got errno " << error;
  absl::StatusOr<SocketAddress> local = LocalAddressOf(client.get());
  ASSERT_TRUE(local.ok());
  auto server_end = [&] { return ServerEndOf(address_, *local); };
  ASSERT_TRUE(WaitFor([&] {
    auto s = server_end();
    return s.has_value() && s->state == tcpstat::TcpState::kFinWait2;
  }));
  // Still written to after the EOF: the server reads it (its receive queue empties).
  ASSERT_TRUE(SendAll(client.get(), RandomBytes(5000, 2)));
  EXPECT_TRUE(WaitFor([&] {
    auto s = server_end();
    return s.has_value() && s->rx_queue == 0 && s->state == tcpstat::TcpState::kFinWait2;
  }));
  client.Reset();
  ASSERT_TRUE(WaitFor([&] {
    auto s = server_end();
    return !s.has_value() || s->state == tcpstat::TcpState::kTimeWait;
  }));
  nlohmann::json summary = Stop(*server);
  EXPECT_EQ(summary["faults"]["half_close"].get<uint64_t>(), 1u);
  EXPECT_EQ(summary["bytes_in"].get<uint64_t>(), 5100u);
  EXPECT_EQ(summary["bytes_out"].get<uint64_t>(), 100u);
  EXPECT_EQ(summary["closed"].get<uint64_t>(), 1u);
}

// stop-reading-after: what the peer sends after N waits in the server's receive queue.
TEST_P(FaultLoadTest, StopReadingLeavesTheBytesInTheKernel) {
  auto server = StartServer({"--fault", "stop-reading-after=100"});
  UniqueFd client = Connect(address_);
  ASSERT_TRUE(client);
  std::string first = RandomBytes(100, 3);
  ASSERT_TRUE(SendAll(client.get(), first));
  EXPECT_EQ(RecvExactly(client.get(), 100), first);
  absl::StatusOr<SocketAddress> local = LocalAddressOf(client.get());
  ASSERT_TRUE(local.ok());
  ASSERT_TRUE(SendAll(client.get(), RandomBytes(3000, 4)));
  EXPECT_TRUE(WaitFor([&] {
    auto s = ServerEndOf(address_, *local);
    return s.has_value() && s->rx_queue == 3000;
  }));
  EXPECT_FALSE(Readable(client.get(), 200)) << "no echo after the stop";
  nlohmann::json summary = Stop(*server);
  EXPECT_EQ(summary["faults"]["stop_reading"].get<uint64_t>(), 1u);
  EXPECT_EQ(summary["bytes_in"].get<uint64_t>(), 100u);
}

TEST_P(FaultLoadTest, DelayAboveTheReadTimeoutIsReadDeadline) {
  auto server = StartServer({"--fault", "delay=600ms"});
  nlohmann::json load = Load({"-c", "1", "-s", "64", "-d", "1s", "--read-timeout", "200ms"});
  std::map<std::string, uint64_t> errors = ErrorsByPhaseAndClass(load);
  EXPECT_GE(errors["read deadline"], 1u) << Describe(errors);
  EXPECT_EQ(errors.size(), 1u) << "only read deadlines expected: " << Describe(errors);
  EXPECT_EQ(load["messages"]["completed"].get<uint64_t>(), 0u);
  nlohmann::json summary = Stop(*server);
  EXPECT_EQ(summary["faults"]["paced"].get<uint64_t>(), summary["accepted"].get<uint64_t>());
}

TEST_P(FaultLoadTest, DelayBelowTheReadTimeoutDelaysEveryEcho) {
  auto server = StartServer({"--fault", "delay=100ms:20ms"});
  nlohmann::json load = Load({"-c", "2", "-s", "64", "-n", "10", "--read-timeout", "5s"});
  EXPECT_TRUE(load["errors"]["by_class"].empty()) << load["errors"].dump();
  EXPECT_EQ(load["messages"]["completed"].get<uint64_t>(), 10u);
  // The client's own clock: no echo came back sooner than the delay.
  EXPECT_GE(load["latency_ns"]["min"].get<int64_t>(), 100'000'000);
  nlohmann::json summary = Stop(*server);
  EXPECT_EQ(summary["bytes_out"].get<uint64_t>(), 640u);
}

// delay: the server has read the bytes (its receive queue is empty) while the echo is held.
TEST_P(FaultLoadTest, DelayHoldsTheEchoAfterTheBytesWereRead) {
  auto server = StartServer({"--fault", "delay=400ms"});
  UniqueFd client = Connect(address_);
  ASSERT_TRUE(client);
  absl::StatusOr<SocketAddress> local = LocalAddressOf(client.get());
  ASSERT_TRUE(local.ok());
  std::string hello = RandomBytes(100, 5);
  auto sent = std::chrono::steady_clock::now();
  ASSERT_TRUE(SendAll(client.get(), hello));
  EXPECT_TRUE(WaitFor([&] {
    auto s = ServerEndOf(address_, *local);
    return s.has_value() && s->rx_queue == 0;
  }));
  EXPECT_EQ(RecvExactly(client.get(), 100), hello);
  EXPECT_GE(std::chrono::steady_clock::now() - sent, std::chrono::milliseconds(400));
  nlohmann::json summary = Stop(*server);
  EXPECT_EQ(summary["faults"]["paced"].get<uint64_t>(), 1u);
}

// rate: 10 KiB at 20 KiB/s takes half a second by the client's own clock.
TEST_P(FaultLoadTest, RateCapsTheEchoBandwidth) {
  auto server = StartServer({"--fault", "rate=20k/s"});
  UniqueFd client = Connect(address_);
  ASSERT_TRUE(client);
  std::string data = RandomBytes(10240, 6);
  auto sent = std::chrono::steady_clock::now();
  ASSERT_TRUE(SendAll(client.get(), data));
  EXPECT_EQ(RecvExactly(client.get(), data.size()), data);
  EXPECT_GE(std::chrono::steady_clock::now() - sent, std::chrono::milliseconds(490));
  nlohmann::json summary = Stop(*server);
  EXPECT_EQ(summary["faults"]["paced"].get<uint64_t>(), 1u);
}

// slice: 50 bytes come back as five 10-byte segments 50 ms apart: the client's kernel counted the
// data segments (TCP_INFO). (Not one slice per read: a reader descheduled past a gap finds two
// slices queued and reads them at once.)
TEST_P(FaultLoadTest, SliceEchoesInSeparateSegments) {
  auto server = StartServer({"--fault", "slice=10:50ms"});
  UniqueFd client = Connect(address_);
  ASSERT_TRUE(client);
  std::string data = RandomBytes(50, 7);
  auto segments_in = [&]() {
    tcp_info info{};
    socklen_t len = sizeof(info);
    getsockopt(client.get(), IPPROTO_TCP, TCP_INFO, &info, &len);
    return info.tcpi_data_segs_in;
  };
  uint32_t before = segments_in();
  auto sent = std::chrono::steady_clock::now();
  ASSERT_TRUE(SendAll(client.get(), data));
  EXPECT_EQ(RecvExactly(client.get(), data.size()), data);
  EXPECT_EQ(segments_in() - before, 5u);
  EXPECT_GE(std::chrono::steady_clock::now() - sent, std::chrono::milliseconds(200));
  Stop(*server);
}

// rate under `socklab load`: every round trip of a 10 KiB message at 20 KiB/s takes half a
// second by the client's clock, and the two ends agree on every byte (the server's own count
// against load's, and load's check of each echo).
TEST_P(FaultLoadTest, RateUnderLoadSlowsEveryRoundTripToTheCap) {
  auto server = StartServer({"--fault", "rate=20k/s"});
  nlohmann::json load = Load({"-c", "2", "-s", "10k", "-n", "4", "--read-timeout", "10s"});
  EXPECT_TRUE(load["errors"]["by_class"].empty()) << load["errors"].dump();
  EXPECT_EQ(load["messages"]["completed"].get<uint64_t>(), 4u);
  EXPECT_EQ(load["messages"]["data_errors"].get<uint64_t>(), 0u);
  EXPECT_GE(load["latency_ns"]["min"].get<int64_t>(), 490'000'000);
  // The cap is per connection: two connections together get at most twice it (plus the first
  // 20 ms piece each, released at once).
  EXPECT_LE(load["throughput"]["received_bytes_per_s"].get<double>(), 2 * 20480 * 1.1);
  nlohmann::json summary = Stop(*server);
  EXPECT_EQ(summary["bytes_out"].get<uint64_t>(), load["bytes"]["received"].get<uint64_t>());
  EXPECT_EQ(summary["bytes_out"].get<uint64_t>(), 4u * 10240);
  EXPECT_EQ(summary["faults"]["paced"].get<uint64_t>(), 2u);
}

// slice under `socklab load`: each 50-byte echo comes back in five slices 30 ms apart, so no
// round trip is shorter than the four gaps by the client's clock; load reassembles every echo
// byte-exact, and the server's count of bytes is load's.
TEST_P(FaultLoadTest, SliceUnderLoadIsReassembledByteExactAfterEveryGap) {
  auto server = StartServer({"--fault", "slice=10:30ms"});
  nlohmann::json load = Load({"-c", "1", "-s", "50", "-n", "5", "--read-timeout", "5s"});
  EXPECT_TRUE(load["errors"]["by_class"].empty()) << load["errors"].dump();
  EXPECT_EQ(load["messages"]["completed"].get<uint64_t>(), 5u);
  EXPECT_EQ(load["messages"]["data_errors"].get<uint64_t>(), 0u);
  EXPECT_GE(load["latency_ns"]["min"].get<int64_t>(), 4 * 30'000'000);
  nlohmann::json summary = Stop(*server);
  EXPECT_EQ(summary["bytes_out"].get<uint64_t>(), load["bytes"]["received"].get<uint64_t>());
  EXPECT_EQ(summary["bytes_out"].get<uint64_t>(), 250u);
  EXPECT_EQ(summary["faults"]["paced"].get<uint64_t>(), 1u);
}

// --fault-probability picks a share of the connections; --fault-seed picks the same ones again.
TEST_P(FaultLoadTest, ProbabilityPicksAShareAndTheSeedRepeatsThePicks) {
  auto picks = [&]() {
    auto server = StartServer(
        {"--fault", "reset-after=0", "--fault-probability", "0.5", "--fault-seed", "11"});
    std::string pattern;
    for (int i = 0; i < 40; ++i) {
      // One at a time, so the single worker sees them in this order.
      UniqueFd client = Connect(address_);
      EXPECT_TRUE(client);
      std::string hello = "hello";
      bool echoed = SendAll(client.get(), hello) && RecvExactly(client.get(), 5) == hello;
      pattern += echoed ? '.' : 'R';
    }
    nlohmann::json summary = Stop(*server);
    // Every connection the kernel failed for the client is one the server reset.
    EXPECT_EQ(summary["faults"]["reset"].get<uint64_t>(),
              static_cast<uint64_t>(std::count(pattern.begin(), pattern.end(), 'R')))
        << pattern;
    return pattern;
  };
  std::string first = picks();
  size_t resets = static_cast<size_t>(std::count(first.begin(), first.end(), 'R'));
  // Binomial(40, 0.5): 5..35 is over 5 standard deviations either way.
  EXPECT_GE(resets, 5u) << first;
  EXPECT_LE(resets, 35u) << first;
  EXPECT_EQ(picks(), first);
}

TEST(FaultFlagsTest, BadFaultExitsTwoWithOneLineNamingTheFix) {
  for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
           {"--fault", "explode"},
           {"--fault", "close-after=soon"},
           {"--fault", "blackhole", "--fault-probability", "1.5"}}) {
    ServerProcess server(args);
    ASSERT_TRUE(server.Exited(20000));
    EXPECT_EQ(server.exit_code(), 2) << server.err();
    std::string err = server.err();
    EXPECT_EQ(err.rfind("socklab-server: ", 0), 0u) << err;
    EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << err;
    EXPECT_NE(err.find("; "), std::string::npos) << err;
  }
}

// --fault-probability is a share, parsed as the other programs' shares are: a word is refused
// with the form to use, not CLI11's conversion error.
TEST(FaultFlagsTest, ProbabilityThatIsNoNumberNamesTheForm) {
  ServerProcess server({"--fault", "blackhole", "--fault-probability", "half"});
  ASSERT_TRUE(server.Exited(20000));
  EXPECT_EQ(server.exit_code(), 2) << server.err();
  const std::string err = server.err();
  EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << err;
  EXPECT_NE(err.find("--fault-probability: bad share 'half'; use a decimal number such as 0.95"),
            std::string::npos)
      << err;
}

INSTANTIATE_TEST_SUITE_P(Backends, FaultLoadTest, ::testing::Values("epoll", "io_uring"),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           return info.param;
                         });

}  // namespace
}  // namespace socklab::server

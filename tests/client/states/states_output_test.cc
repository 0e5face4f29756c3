#include "client/states/states_output.h"

#include "client/states/watch_view.h"
#include "gtest/gtest.h"
#include "tests/testing/tcp_sockets.h"

namespace socklab::client {
namespace {

using tcpstat::TcpSocket;
using tcpstat::TcpState;
using tcpstat::TcpTimer;

TcpSocket Socket(const char* local, const char* remote, TcpState state) {
  return ::socklab::testing::MakeTcpSocket(local, remote, state);
}

StatesSample Sample() {
  StatesSample sample;
  sample.time = absl::FromUnixMillis(1'700'000'000'123);
  TcpSocket listener = Socket("127.0.0.1:7007", "0.0.0.0:0", TcpState::kListen);
  listener.rx_queue = 2;
  listener.accept_backlog = 511;
  TcpSocket tw = Socket("127.0.0.1:40000", "127.0.0.1:7007", TcpState::kTimeWait);
  tw.timer = TcpTimer::kTimeWait;
  tw.timer_ms = 42'500;
  TcpSocket busy = Socket("[::1]:7007", "[::1]:40001", TcpState::kEstablished);
  busy.tx_queue = 1000;
  busy.timer = TcpTimer::kRetransmit;
  busy.timer_ms = 200;
  busy.retransmits = 2;
  sample.snapshot.sockets = {listener, tw, busy};
  sample.snapshot.sockets_read = 10;
  sample.tally = tcpstat::TallyStates(sample.snapshot.sockets);
  return sample;
}

TEST(StatesOutputTest, Timers) {
  EXPECT_EQ(FormatTimerMs(200), "200ms");
  EXPECT_EQ(FormatTimerMs(42'500), "42.5s");
  EXPECT_EQ(FormatTimerMs(62'000), "1m02s");
  EXPECT_EQ(FormatTimestamp(absl::FromUnixMillis(1'700'000'000'123)), "2023-11-14T22:13:20.123Z");
}

TEST(StatesOutputTest, TallyTable) {
  StatesOptions options;
  options.filter.port = 7007;
  EXPECT_EQ(RenderTallyTable(Sample(), options),
            "TCP sockets: port 7007 (source proc, 2023-11-14T22:13:20.123Z)\n"
            "STATE           COUNT\n"
            "ESTABLISHED         1\n"
            "TIME_WAIT           1\n"
            "LISTEN              1   accept queue 2 of 511 max\n"
            "total               3\n");
}

// Two listeners of one port (an SO_REUSEPORT group): each has its own queue of max 4096; the
// table, CSV and JSON all give the sums with the number of listeners they are over.
TEST(StatesOutputTest, AcceptQueuesOfSeveralListeners) {
  StatesSample sample;
  sample.time = absl::FromUnixMillis(1'700'000'000'123);
  for (uint32_t queued : {0u, 3u}) {
    TcpSocket listener = Socket("127.0.0.1:7007", "0.0.0.0:0", TcpState::kListen);
    listener.rx_queue = queued;
    listener.accept_backlog = 4096;
    sample.snapshot.sockets.push_back(listener);
  }
  sample.tally = tcpstat::TallyStates(sample.snapshot.sockets);
  EXPECT_EQ(DescribeAcceptQueues(sample.tally),
            "accept queues 3 of 8192 max, summed over 2 listeners");
  StatesOptions options;
  EXPECT_NE(RenderTallyTable(sample, options)
                .find("LISTEN              2   accept queues 3 of 8192 max, summed over 2 "
                      "listeners\n"),
            std::string::npos)
      << RenderTallyTable(sample, options);
  std::string header = RenderSeriesHeader(StatesFormat::kCsv);
  EXPECT_TRUE(header.ends_with(",CLOSING,listeners,listen_queue,listen_backlog\n")) << header;
  std::string row = RenderSeriesRow(sample, StatesFormat::kCsv);
  EXPECT_TRUE(row.ends_with(",2,0,2,3,8192\n")) << row;  // LISTEN, CLOSING, listeners, sums
  nlohmann::json json = SampleToJson(sample, options);
  EXPECT_EQ(json["listeners"], 2);
  EXPECT_EQ(json["listen_queue"], 3);
  EXPECT_EQ(json["listen_backlog"], 8192);

  // Without a maximum (the source had none) and with one listener.
  sample.snapshot.sockets.resize(1);
  sample.snapshot.sockets[0].accept_backlog.reset();
  sample.tally = tcpstat::TallyStates(sample.snapshot.sockets);
  EXPECT_EQ(DescribeAcceptQueues(sample.tally), "accept queue 0");
  EXPECT_EQ(DescribeAcceptQueues(tcpstat::StateTally{}), "");
}

TEST(StatesOutputTest, SocketListLikeSs) {
  EXPECT_EQ(
      RenderSocketList(Sample(), StatesFormat::kTable, true),
      "State       Recv-Q Send-Q  Local Address:Port  Peer Address:Port  Timer\n"
      "LISTEN           2    511  127.0.0.1:7007      0.0.0.0:*\n"
      "TIME_WAIT        0      0  127.0.0.1:40000     127.0.0.1:7007     timewait 42.5s\n"
      "ESTABLISHED      0   1000  [::1]:7007          [::1]:40001        on 200ms retrans 2\n");
  std::string csv = RenderSocketList(Sample(), StatesFormat::kCsv, true);
  EXPECT_EQ(csv.substr(0, csv.find('\n')),
            "time,state,local,remote,recv_q,send_q,backlog,timer,timer_ms,retransmits,uid,inode");
  EXPECT_NE(csv.find("2023-11-14T22:13:20.123Z,TIME_WAIT,127.0.0.1:40000,127.0.0.1:7007,0,0,,"
                     "timewait,42500,0,0,0\n"),
            std::string::npos)
      << csv;
}

TEST(StatesOutputTest, JsonSample) {
  StatesOptions options;
  options.list = true;
  nlohmann::json json = SampleToJson(Sample(), options);
  EXPECT_EQ(json["time"], "2023-11-14T22:13:20.123Z");
  EXPECT_EQ(json["states"]["TIME_WAIT"], 1);
  EXPECT_EQ(json["listeners"], 1);
  EXPECT_EQ(json["listen_backlog"], 511);
  ASSERT_EQ(json["sockets"].size(), 3u);
  EXPECT_EQ(json["sockets"][2]["family"], "ipv6");
  EXPECT_EQ(json["sockets"][0]["backlog"], 511);
}

TEST(WatchViewTest, FrameShowsChangeAndSparkline) {
  StatesOptions options;
  options.watch = true;
  WatchHistory history(4);
  StatesSample sample = Sample();
  for (int established = 0; established < 6; ++established) {
    sample.tally.counts[static_cast<int>(TcpState::kEstablished)] = established;
    history.Add(sample);
  }
  EXPECT_EQ(history.tallies().size(), 4u);  // bounded
  std::string frame = RenderWatchFrame(history, options, 80, /*unicode=*/false);
  // 5 now, +1 since the last sample, history 2,3,4,5 on its own scale.
  EXPECT_NE(frame.find("ESTABLISHED         5       +1  -+*#"), std::string::npos) << frame;
  EXPECT_NE(frame.find("TIME_WAIT           1        0  ####"), std::string::npos) << frame;
  EXPECT_EQ(frame.find("CLOSING"), std::string::npos);  // never seen: not shown
  std::string unicode = RenderWatchFrame(history, options, 80, /*unicode=*/true);
  EXPECT_NE(unicode.find("█"), std::string::npos);
}

}  // namespace
}  // namespace socklab::client

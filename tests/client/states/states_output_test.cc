#include "client/states/states_output.h"

#include "client/states/watch_view.h"
#include "gtest/gtest.h"

namespace socklab::client {
namespace {

using tcpstat::TcpSocket;
using tcpstat::TcpState;
using tcpstat::TcpTimer;

TcpSocket Socket(const char* local, const char* remote, TcpState state) {
  TcpSocket socket;
  socket.local = *SocketAddress::Parse(local);
  socket.remote = *SocketAddress::Parse(remote);
  socket.family = socket.local.family();
  socket.state = state;
  return socket;
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

#include "core/tcpstat/proc_parser.h"

#include <fstream>
#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace socklab::tcpstat {
namespace {

// Fixtures are real /proc/net/tcp{,6} captures from Linux 6.x (tcp.txt, tcp6.txt: a listener
// with a pending connection, ESTABLISHED, TIME_WAIT, CLOSE_WAIT / FIN_WAIT2, a dual-stack
// listener with an IPv4-mapped connection, trailing spaces as the kernel pads lines) and
// hand-made odd lines (odd.txt).
std::string Fixture(const std::string& name) {
  std::ifstream in(absl::StrCat(SOCKLAB_TCPSTAT_TESTDATA, "/", name), std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  EXPECT_FALSE(text.str().empty()) << name;
  return text.str();
}

bool SameRecord(const TcpSocket& a, const TcpSocket& b) {
  return a.family == b.family && a.local == b.local && a.remote == b.remote && a.state == b.state &&
         a.tx_queue == b.tx_queue && a.rx_queue == b.rx_queue && a.timer == b.timer &&
         a.timer_ms == b.timer_ms && a.retransmits == b.retransmits && a.uid == b.uid &&
         a.inode == b.inode;
}

TEST(ProcParserTest, ParsesIpv4Table) {
  ProcParseResult result = ParseProcNetTcp(Fixture("tcp.txt"));
  EXPECT_EQ(result.stats.skipped_lines, 0u);
  ASSERT_EQ(result.sockets.size(), 11u);
  EXPECT_EQ(result.stats.sockets, 11u);

  const TcpSocket& listener = result.sockets[1];
  EXPECT_EQ(listener.family, AF_INET);
  EXPECT_EQ(listener.state, TcpState::kListen);
  EXPECT_EQ(listener.local.ToString(), "127.0.0.1:46985");
  EXPECT_EQ(listener.remote.ToString(), "0.0.0.0:0");
  EXPECT_EQ(listener.rx_queue, 1u);  // one connection waiting in the accept queue
  EXPECT_EQ(listener.inode, 24947u);
  EXPECT_FALSE(listener.accept_backlog.has_value());

  const TcpSocket& unaccepted = result.sockets[2];
  EXPECT_EQ(unaccepted.state, TcpState::kEstablished);
  EXPECT_EQ(unaccepted.rx_queue, 100u);
  EXPECT_EQ(unaccepted.inode, 0u);  // not accept()ed yet: no file
  EXPECT_EQ(unaccepted.remote.ToString(), "127.0.0.1:34514");

  const TcpSocket& time_wait = result.sockets[5];
  EXPECT_EQ(time_wait.state, TcpState::kTimeWait);
  EXPECT_EQ(time_wait.timer, TcpTimer::kTimeWait);
  EXPECT_EQ(time_wait.timer_ms, 0x1760 * 10);  // 6000 ticks of 10 ms
  EXPECT_EQ(result.sockets[3].state, TcpState::kCloseWait);
  EXPECT_EQ(result.sockets[6].state, TcpState::kFinWait2);
}

TEST(ProcParserTest, ParsesIpv6AndMappedTable) {
  ProcParseResult result = ParseProcNetTcp(Fixture("tcp6.txt"));
  EXPECT_EQ(result.stats.skipped_lines, 0u);
  ASSERT_EQ(result.sockets.size(), 5u);
  EXPECT_EQ(result.sockets[0].family, AF_INET6);
  EXPECT_EQ(result.sockets[0].state, TcpState::kListen);
  EXPECT_EQ(result.sockets[0].local.ToString(), "[::]:56409");
  EXPECT_EQ(result.sockets[1].local.ToString(), "[::1]:56409");
  EXPECT_EQ(result.sockets[1].remote.ToString(), "[::1]:49566");
  EXPECT_EQ(result.sockets[3].state, TcpState::kTimeWait);
  // An IPv4 client on the dual-stack listener: an IPv6 socket with mapped addresses.
  EXPECT_EQ(result.sockets[4].family, AF_INET6);
  EXPECT_EQ(result.sockets[4].local.ToString(), "[::ffff:127.0.0.1]:56409");
  EXPECT_EQ(result.sockets[4].remote.ToString(), "[::ffff:127.0.0.1]:60034");
}

TEST(ProcParserTest, SkipsAndCountsOddLines) {
  ProcParseResult result = ParseProcNetTcp(Fixture("odd.txt"));
  ASSERT_EQ(result.sockets.size(), 3u);
  EXPECT_EQ(result.stats.skipped_lines, 11u);

  // Tabs instead of spaces and no trailing columns: still a socket.
  EXPECT_EQ(result.sockets[0].state, TcpState::kListen);
  EXPECT_EQ(result.sockets[0].local.ToString(), "127.0.0.1:8080");
  EXPECT_EQ(result.sockets[0].uid, 1000u);
  EXPECT_EQ(result.sockets[0].inode, 4242u);

  const TcpSocket& busy = result.sockets[1];
  EXPECT_EQ(busy.tx_queue, 16u);
  EXPECT_EQ(busy.rx_queue, 32u);
  EXPECT_EQ(busy.timer, TcpTimer::kRetransmit);
  EXPECT_EQ(busy.timer_ms, 200);
  EXPECT_EQ(busy.retransmits, 2u);

  EXPECT_EQ(result.sockets[2].state, TcpState::kCloseWait);
  EXPECT_EQ(result.sockets[2].remote.port(), 0xC351);
}

// A read cut anywhere (the file changes between the kernel's chunks, or a fixture is cut) must
// give exactly the complete lines before the cut, never a half-read record.
TEST(ProcParserTest, EveryTruncationYieldsOnlyCompleteLines) {
  for (const char* name : {"tcp.txt", "tcp6.txt"}) {
    std::string text = Fixture(name);
    ProcParseResult full = ParseProcNetTcp(text);
    for (size_t cut = 0; cut <= text.size(); ++cut) {
      absl::string_view prefix(text.data(), cut);
      ProcParseResult part = ParseProcNetTcp(prefix);
      ASSERT_LE(part.sockets.size(), full.sockets.size()) << name << " cut " << cut;
      for (size_t i = 0; i < part.sockets.size(); ++i) {
        ASSERT_TRUE(SameRecord(part.sockets[i], full.sockets[i])) << name << " cut " << cut;
      }
      // Only the cut line can be skipped.
      ASSERT_LE(part.stats.skipped_lines, 1u) << name << " cut " << cut;
      // A cut inside a socket line, past its leading blanks, is counted.
      size_t line_start = prefix.rfind('\n');
      line_start = line_start == absl::string_view::npos ? 0 : line_start + 1;
      absl::string_view tail = prefix.substr(line_start);
      bool cut_in_socket_line =
          line_start > 0 && tail.find_first_not_of(' ') != absl::string_view::npos;
      if (cut_in_socket_line) {
        EXPECT_EQ(part.stats.skipped_lines, 1u) << name << " cut " << cut;
      }
    }
  }
}

TEST(ProcParserTest, EmptyAndHeaderOnly) {
  EXPECT_EQ(ParseProcNetTcp("").sockets.size(), 0u);
  ProcParseResult header = ParseProcNetTcp(
      "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  "
      "timeout inode\n");
  EXPECT_EQ(header.sockets.size(), 0u);
  EXPECT_EQ(header.stats.skipped_lines, 0u);
}

TEST(ProcParserTest, CallbackSeesEveryRecordInOrder) {
  std::string text = Fixture("tcp.txt");
  std::vector<uint16_t> ports;
  ProcParseStats stats =
      ParseProcNetTcp(text, [&](const TcpSocket& socket) { ports.push_back(socket.local.port()); });
  EXPECT_EQ(stats.sockets, ports.size());
  ASSERT_EQ(ports.size(), 11u);
  EXPECT_EQ(ports[0], 2024);
  EXPECT_EQ(ports[1], 46985);
}

}  // namespace
}  // namespace socklab::tcpstat

#include "core/tcpstat/sock_diag_parser.h"

#include <arpa/inet.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>

#include <climits>
#include <cstring>
#include <vector>

#include "gtest/gtest.h"

namespace socklab::tcpstat {
namespace {

// A receive buffer as the kernel fills it: netlink messages, each padded to 4 bytes.
class Buffer {
 public:
  void Add(uint16_t type, const void* body, size_t size, uint32_t length_field = 0) {
    nlmsghdr header{};
    header.nlmsg_len = length_field != 0 ? length_field : NLMSG_LENGTH(size);
    header.nlmsg_type = type;
    Append(&header, sizeof(header));
    Append(body, size);
    bytes_.resize(NLMSG_ALIGN(bytes_.size()));
  }
  void AddSocket(uint8_t state, uint16_t sport, uint32_t rqueue, uint32_t wqueue) {
    inet_diag_msg msg{};
    msg.idiag_family = AF_INET;
    msg.idiag_state = state;
    msg.id.idiag_sport = htons(sport);
    msg.id.idiag_dport = htons(40000);
    msg.id.idiag_src[0] = htonl(INADDR_LOOPBACK);
    msg.id.idiag_dst[0] = htonl(INADDR_LOOPBACK);
    msg.idiag_rqueue = rqueue;
    msg.idiag_wqueue = wqueue;
    Add(SOCK_DIAG_BY_FAMILY, &msg, sizeof(msg));
  }
  void AddError(int error) {
    nlmsgerr body{};
    body.error = error;
    Add(NLMSG_ERROR, &body, sizeof(body));
  }

  // An aligned copy of exactly the bytes added: a read past them is a heap overflow for ASan.
  SockDiagParseResult Parse(std::vector<TcpSocket>* sockets) const {
    std::vector<uint32_t> aligned((bytes_.size() + 3) / 4);
    if (!bytes_.empty()) {
      std::memcpy(aligned.data(), bytes_.data(), bytes_.size());
    }
    return ParseSockDiagMessages(aligned.data(), bytes_.size(),
                                 [&](const TcpSocket& socket) { sockets->push_back(socket); });
  }

 private:
  void Append(const void* data, size_t size) {
    const char* p = static_cast<const char*>(data);
    bytes_.insert(bytes_.end(), p, p + size);
  }
  std::vector<char> bytes_;
};

TEST(SockDiagParserTest, ReadsRecordsUpToDone) {
  Buffer buffer;
  buffer.AddSocket(/*TCP_ESTABLISHED*/ 1, 7007, 10, 20);
  buffer.AddSocket(/*TCP_LISTEN*/ 10, 7008, 3, 4096);
  int zero = 0;
  buffer.Add(NLMSG_DONE, &zero, sizeof(zero));
  buffer.AddSocket(1, 7009, 0, 0);  // after DONE: not part of this dump
  std::vector<TcpSocket> sockets;
  SockDiagParseResult result = buffer.Parse(&sockets);
  EXPECT_TRUE(result.done);
  EXPECT_EQ(result.error, 0);
  ASSERT_EQ(result.sockets, 2u);
  ASSERT_EQ(sockets.size(), 2u);
  EXPECT_EQ(sockets[0].state, TcpState::kEstablished);
  EXPECT_EQ(sockets[0].local.ToString(), "127.0.0.1:7007");
  EXPECT_EQ(sockets[0].rx_queue, 10u);
  EXPECT_EQ(sockets[0].tx_queue, 20u);
  EXPECT_EQ(sockets[1].state, TcpState::kListen);
  EXPECT_EQ(sockets[1].accept_backlog, 4096u);
}

TEST(SockDiagParserTest, AnErrorMessageEndsTheDumpWithItsErrno) {
  Buffer buffer;
  buffer.AddError(-EPERM);
  std::vector<TcpSocket> sockets;
  SockDiagParseResult result = buffer.Parse(&sockets);
  EXPECT_FALSE(result.done);
  EXPECT_EQ(result.error, EPERM);
}

TEST(SockDiagParserTest, AnErrorValueThatIsNoErrnoIsEproto) {
  for (int value : {0, 5, INT_MIN}) {
    Buffer buffer;
    buffer.AddError(value);
    std::vector<TcpSocket> sockets;
    EXPECT_EQ(buffer.Parse(&sockets).error, EPROTO) << value;
  }
}

// NLMSG_OK compares the length as an int, so 0xffffffff passed as -1, and NLMSG_ALIGN of it
// wraps to 0: the reader looped on the same message for ever (or read past the buffer).
TEST(SockDiagParserTest, ALengthBeyondTheBufferEndsTheParse) {
  for (uint32_t length : {0xffffffffu, 0x80000000u, 1000u}) {
    Buffer buffer;
    buffer.AddSocket(1, 7007, 0, 0);
    inet_diag_msg msg{};
    msg.idiag_family = AF_INET;
    msg.idiag_state = 1;
    buffer.Add(SOCK_DIAG_BY_FAMILY, &msg, sizeof(msg), length);
    std::vector<TcpSocket> sockets;
    SockDiagParseResult result = buffer.Parse(&sockets);
    EXPECT_EQ(result.sockets, 1u) << length;
    EXPECT_FALSE(result.done);
    EXPECT_EQ(result.error, 0);
  }
}

TEST(SockDiagParserTest, ALengthShorterThanTheHeaderEndsTheParse) {
  Buffer buffer;
  int zero = 0;
  buffer.Add(NLMSG_DONE, &zero, sizeof(zero), /*length_field=*/8);
  std::vector<TcpSocket> sockets;
  SockDiagParseResult result = buffer.Parse(&sockets);
  EXPECT_FALSE(result.done);
  EXPECT_EQ(result.sockets, 0u);
}

TEST(SockDiagParserTest, ShortAndForeignMessagesAreSkipped) {
  Buffer buffer;
  char short_body[8] = {};
  buffer.Add(SOCK_DIAG_BY_FAMILY, short_body, sizeof(short_body));
  inet_diag_msg unix_socket{};
  unix_socket.idiag_family = AF_UNIX;
  unix_socket.idiag_state = 1;
  buffer.Add(SOCK_DIAG_BY_FAMILY, &unix_socket, sizeof(unix_socket));
  inet_diag_msg bad_state{};
  bad_state.idiag_family = AF_INET;
  bad_state.idiag_state = 200;
  buffer.Add(SOCK_DIAG_BY_FAMILY, &bad_state, sizeof(bad_state));
  buffer.Add(/*another type*/ 99, short_body, sizeof(short_body));
  buffer.AddSocket(1, 7007, 0, 0);
  std::vector<TcpSocket> sockets;
  SockDiagParseResult result = buffer.Parse(&sockets);
  EXPECT_EQ(result.sockets, 1u);
  ASSERT_EQ(sockets.size(), 1u);
  EXPECT_EQ(sockets[0].local.port(), 7007);
}

}  // namespace
}  // namespace socklab::tcpstat

// Real captures on lo: the kernel's own segment counts (TCP_INFO) are the witness of what the
// capture saw, and tshark, reading the pcap file, of how it was written.
#include "core/capture/packet_capture.h"

#include <arpa/inet.h>
#include <linux/capability.h>
#include <linux/tcp.h>  // tcp_info with tcpi_segs_in/out (glibc's lacks them)
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "core/base/clock.h"
#include "core/base/unique_fd.h"
#include "core/capture/conversation.h"
#include "core/net/netns.h"
#include "gtest/gtest.h"
#include "tests/testing/shell.h"

namespace socklab {
namespace {

uint16_t PortOf(int fd) {
  sockaddr_in sin{};
  socklen_t len = sizeof(sin);
  getsockname(fd, reinterpret_cast<sockaddr*>(&sin), &len);
  return ntohs(sin.sin_port);
}

tcp_info InfoOf(int fd) {
  tcp_info info{};
  socklen_t len = sizeof(info);
  getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &len);
  return info;
}

sockaddr_in Loopback(uint16_t port) {
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  sin.sin_port = htons(port);
  return sin;
}

// A connected pair on lo with 5 bytes sent each way.
struct Exchange {
  UniqueFd listener, client, server;
};

Exchange Connect(PacketCapture& capture) {
  Exchange e;
  e.listener.Reset(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in any = Loopback(0);
  EXPECT_EQ(bind(e.listener.get(), reinterpret_cast<sockaddr*>(&any), sizeof(any)), 0);
  EXPECT_EQ(listen(e.listener.get(), 4), 0);
  const uint16_t port = PortOf(e.listener.get());
  EXPECT_TRUE(capture.WatchPort(port).ok());
  e.client.Reset(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in to = Loopback(port);
  EXPECT_EQ(connect(e.client.get(), reinterpret_cast<sockaddr*>(&to), sizeof(to)), 0);
  e.server.Reset(accept4(e.listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
  char buf[5] = {'h', 'e', 'l', 'l', 'o'};
  EXPECT_EQ(send(e.client.get(), buf, 5, MSG_NOSIGNAL), 5);
  EXPECT_EQ(recv(e.server.get(), buf, 5, 0), 5);
  EXPECT_EQ(send(e.server.get(), buf, 5, MSG_NOSIGNAL), 5);
  EXPECT_EQ(recv(e.client.get(), buf, 5, 0), 5);
  return e;
}

std::unique_ptr<PacketCapture> OpenOrSkip() {
  absl::StatusOr<std::unique_ptr<PacketCapture>> capture = PacketCapture::Open("lo");
  if (!capture.ok()) {
    return nullptr;
  }
  return *std::move(capture);
}

// The segments each side sent by the capture, compared with the kernel's counts
// (tcpi_segs_out and tcpi_segs_in, Linux 4.2), polled until they agree: delayed ACKs may still be
// leaving.
TEST(PacketCaptureTest, SeesEverySegmentTheKernelCountsAndNothingElse) {
  std::unique_ptr<PacketCapture> capture = OpenOrSkip();
  if (capture == nullptr) {
    GTEST_SKIP() << "no capture rights here (needs root or CAP_NET_RAW)";
  }
  Exchange e = Connect(*capture);
  const uint16_t client_port = PortOf(e.client.get());
  const uint16_t server_port = PortOf(e.listener.get());
  uint32_t from_client = 0, from_server = 0;
  uint32_t client_out = 0, client_in = 0;
  std::vector<TcpSegment> segments;
  for (const int64_t deadline = MonotonicNanos() + 5'000'000'000; MonotonicNanos() < deadline;) {
    ASSERT_TRUE(capture->Drain().ok());
    segments = DecodeFrames(capture->link_type(), capture->frames());
    from_client = from_server = 0;
    for (const TcpSegment& s : segments) {
      ASSERT_TRUE(s.src_port == server_port || s.dst_port == server_port) << "foreign segment";
      (s.src_port == client_port ? from_client : from_server) += 1;
    }
    // The client's socket saw the whole connection, the SYN/ACK included (the accepted socket
    // did not send that: the listener's request socket did).
    const tcp_info info = InfoOf(e.client.get());
    client_out = info.tcpi_segs_out;
    client_in = info.tcpi_segs_in;
    if (from_client == client_out && from_server == client_in) {
      break;
    }
    usleep(10'000);
  }
  EXPECT_EQ(from_client, client_out);
  EXPECT_EQ(from_server, client_in);
  std::vector<ConnectionSegment> followed = FollowConnections(segments);
  ASSERT_GE(followed.size(), 5u);
  EXPECT_EQ(SegmentHeaderText(followed[0]).substr(0, 3), "SYN");
  EXPECT_FALSE(followed[0].tcp.Has(kTcpAck));
  EXPECT_TRUE(followed[0].tcp.mss.has_value());
  EXPECT_TRUE(followed[1].tcp.Has(kTcpSyn) && followed[1].tcp.Has(kTcpAck));
  EXPECT_FALSE(followed[1].from_client);
  EXPECT_EQ(followed[1].rel_ack, 1u);
  uint32_t data = 0;
  for (const ConnectionSegment& s : followed) {
    data += s.tcp.payload;
  }
  EXPECT_EQ(data, 10u);
  EXPECT_EQ(capture->dropped(), 0u);
}

TEST(PacketCaptureTest, UnwatchedPortsAreNotKept) {
  std::unique_ptr<PacketCapture> capture = OpenOrSkip();
  if (capture == nullptr) {
    GTEST_SKIP() << "no capture rights here (needs root or CAP_NET_RAW)";
  }
  ASSERT_TRUE(capture->WatchPort(1).ok());  // nothing of ours uses port 1
  std::unique_ptr<PacketCapture> other = OpenOrSkip();
  ASSERT_NE(other, nullptr);
  Exchange e = Connect(*other);
  ASSERT_TRUE(capture->Drain().ok());
  EXPECT_TRUE(capture->frames().empty());
}

bool HaveTshark() { return system("command -v tshark >/dev/null 2>&1") == 0; }

TEST(PacketCaptureTest, ThePcapFileReadsBackInTsharkWithTheSameFlags) {
  std::unique_ptr<PacketCapture> capture = OpenOrSkip();
  if (capture == nullptr) {
    GTEST_SKIP() << "no capture rights here (needs root or CAP_NET_RAW)";
  }
  char path[] = "/tmp/socklab-capture-XXXXXX.pcap";
  UniqueFd file(mkstemps(path, 5));
  ASSERT_TRUE(file.valid());
  ASSERT_TRUE(capture->CreateFile(path).ok());
  { Exchange e = Connect(*capture); }  // closed: FINs
  usleep(50'000);
  ASSERT_TRUE(capture->Drain().ok());
  ASSERT_TRUE(capture->WriteFile().ok());
  std::vector<uint8_t> ours;
  for (const TcpSegment& s : DecodeFrames(capture->link_type(), capture->frames())) {
    ours.push_back(s.flags);
  }
  ASSERT_FALSE(ours.empty());
  if (!HaveTshark()) {
    unlink(path);
    GTEST_SKIP() << "tshark is not installed (scripts/install-deps installs it)";
  }
  EXPECT_EQ(socklab::testing::TsharkTcpFlags(path), ours);
  unlink(path);
}

// Without CAP_NET_RAW (as an unprivileged user would run it), Open says why and what to do.
TEST(PacketCaptureTest, WithoutCaptureRightsOpenSaysWhy) {
  absl::StatusOr<ChildOutput> child = RunInChild({}, [] {
    __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct data[2] = {};
    if (syscall(SYS_capget, &header, data) != 0) {
      return std::string("capget failed");
    }
    data[CAP_NET_RAW / 32].effective &= ~(1u << (CAP_NET_RAW % 32));
    data[CAP_NET_RAW / 32].permitted &= ~(1u << (CAP_NET_RAW % 32));
    if (syscall(SYS_capset, &header, data) != 0) {
      return std::string("capset failed");
    }
    absl::StatusOr<std::unique_ptr<PacketCapture>> capture = PacketCapture::Open("lo");
    return capture.ok() ? std::string("opened")
                        : absl::StrCat(absl::StatusCodeToString(capture.status().code()), ": ",
                                       capture.status().message());
  });
  ASSERT_TRUE(child.ok()) << child.status();
  if (child->output == "capget failed" || child->output == "capset failed") {
    GTEST_SKIP() << child->output;
  }
  EXPECT_NE(child->output.find("PERMISSION_DENIED"), std::string::npos) << child->output;
  EXPECT_NE(child->output.find("CAP_NET_RAW"), std::string::npos) << child->output;
}

}  // namespace
}  // namespace socklab

#include "core/net/address.h"

#include "gtest/gtest.h"

namespace socklab {
namespace {

TEST(SocketAddress, ParsesIpv4AndIpv6) {
  absl::StatusOr<SocketAddress> v4 = SocketAddress::Parse("127.0.0.1:7007");
  ASSERT_TRUE(v4.ok()) << v4.status();
  EXPECT_EQ(v4->family(), AF_INET);
  EXPECT_EQ(v4->port(), 7007);
  EXPECT_EQ(v4->ToString(), "127.0.0.1:7007");

  absl::StatusOr<SocketAddress> v6 = SocketAddress::Parse("[::1]:0");
  ASSERT_TRUE(v6.ok()) << v6.status();
  EXPECT_TRUE(v6->is_v6());
  EXPECT_EQ(v6->ToString(), "[::1]:0");

  EXPECT_EQ(SocketAddress::Parse("localhost:80")->ToString(), "127.0.0.1:80");
  EXPECT_EQ(SocketAddress::Parse(":9")->ToString(), "0.0.0.0:9");
}

TEST(SocketAddress, RejectsBadInputWithAFix) {
  for (const char* bad : {"127.0.0.1", "127.0.0.1:", "127.0.0.1:70000", "::1:80", "[::1]80",
                          "[127.0.0.1]:80", "example.com:80", "1.2.3:80", "127.0.0.1:-1"}) {
    absl::StatusOr<SocketAddress> parsed = SocketAddress::Parse(bad);
    ASSERT_FALSE(parsed.ok()) << bad;
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_NE(parsed.status().message().find(';'), absl::string_view::npos)
        << "no fix in: " << parsed.status().message();
  }
}

TEST(SocketAddress, RoundTripsThroughSockaddr) {
  SocketAddress original = *SocketAddress::Parse("[::1]:4242");
  SocketAddress copy = SocketAddress::FromSockaddr(original.sockaddr_ptr(), original.length());
  EXPECT_EQ(copy, original);
  EXPECT_EQ(SocketAddress::FromSockaddr(nullptr, 0).family(), AF_UNSPEC);
}

TEST(SocketAddress, KnowsLoopbackInEveryForm) {
  for (const char* host : {"127.0.0.1", "127.12.0.9", "::1", "::ffff:127.0.0.1"}) {
    EXPECT_TRUE(SocketAddress::ParseHost(host)->IsLoopback()) << host;
  }
  for (const char* host : {"10.0.0.1", "128.0.0.1", "::", "::2", "::ffff:10.0.0.1", "0.0.0.0"}) {
    EXPECT_FALSE(SocketAddress::ParseHost(host)->IsLoopback()) << host;
  }
}

}  // namespace
}  // namespace socklab

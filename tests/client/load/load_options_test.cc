#include "client/load/load_options.h"

#include <netdb.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "client/load/target.h"
#include "gtest/gtest.h"

namespace socklab::client {
namespace {

LoadOptions Valid() {
  LoadOptions o;
  o.target = *SocketAddress::Parse("127.0.0.1:7007");
  return o;
}

TEST(LoadOptionsTest, DefaultsAreValid) { EXPECT_TRUE(Valid().Validate().ok()); }

TEST(LoadOptionsTest, BadCombinationsAreUsageErrors) {
  auto invalid = [](LoadOptions o) {
    absl::Status s = o.Validate();
    return s.code() == absl::StatusCode::kInvalidArgument;
  };
  LoadOptions o = Valid();
  o.connections = 0;
  EXPECT_TRUE(invalid(o));
  o = Valid();
  o.pipeline = 0;
  EXPECT_TRUE(invalid(o));
  o = Valid();
  o.warmup = absl::Seconds(20);
  EXPECT_TRUE(invalid(o));
  o = Valid();
  o.duration = absl::ZeroDuration();
  EXPECT_TRUE(invalid(o));
  o.messages = 10;
  EXPECT_FALSE(invalid(o));
  o = Valid();
  o.sources = {*SocketAddress::ParseHost("::1")};
  EXPECT_TRUE(invalid(o));
  o = Valid();
  o.sources = {*SocketAddress::Parse("127.0.0.1:40000")};
  o.connections = 2;
  EXPECT_TRUE(invalid(o));
}

TEST(LoadOptionsTest, ParsesSizes) {
  EXPECT_EQ(*ParseSizeRange("64"), std::make_pair(64u, 64u));
  EXPECT_EQ(*ParseSizeRange("100-1400"), std::make_pair(100u, 1400u));
  EXPECT_EQ(*ParseSizeRange("1k-64k"), std::make_pair(1024u, 65536u));
  EXPECT_FALSE(ParseSizeRange("0").ok());
  EXPECT_FALSE(ParseSizeRange("10-5").ok());
  EXPECT_FALSE(ParseSizeRange("1G").ok());
}

TEST(LoadOptionsTest, ParsesSourceRanges) {
  absl::StatusOr<std::vector<SocketAddress>> r = ParseSourceRange("127.0.0.2-127.0.1.1");
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->size(), 256u);
  EXPECT_EQ(r->front().HostString(), "127.0.0.2");
  EXPECT_EQ(r->at(254).HostString(), "127.0.1.0");
  EXPECT_EQ(r->back().HostString(), "127.0.1.1");
  EXPECT_EQ(ParseSourceRange("::1")->size(), 1u);
  EXPECT_EQ(ParseSourceRange("fd00::1-fd00::3")->size(), 3u);
  EXPECT_FALSE(ParseSourceRange("127.0.0.9-127.0.0.2").ok());
  EXPECT_FALSE(ParseSourceRange("127.0.0.1-::1").ok());
  EXPECT_FALSE(ParseSourceRange("10.0.0.0-10.2.0.0").ok());
}

std::vector<std::string> Texts(const absl::StatusOr<std::vector<SocketAddress>>& addresses) {
  std::vector<std::string> texts;
  for (const SocketAddress& a : addresses.value()) {
    texts.push_back(a.ToString());
  }
  return texts;
}

TEST(LoadOptionsTest, ResolvesTargets) {
  using Strings = std::vector<std::string>;
  EXPECT_EQ(Texts(ResolveTarget("127.0.0.1:7007", AF_UNSPEC)), Strings({"127.0.0.1:7007"}));
  EXPECT_EQ(Texts(ResolveTarget("[::1]:7007", AF_UNSPEC)), Strings({"[::1]:7007"}));
  // localhost is both loopbacks, whatever /etc/hosts says; -4/-6 keep one.
  EXPECT_EQ(Texts(ResolveTarget("localhost:7007", AF_UNSPEC)),
            Strings({"127.0.0.1:7007", "[::1]:7007"}));
  EXPECT_EQ(Texts(ResolveTarget("localhost:7007", AF_INET6)), Strings({"[::1]:7007"}));
  EXPECT_EQ(Texts(ResolveTarget("localhost:7007", AF_INET)), Strings({"127.0.0.1:7007"}));
  EXPECT_FALSE(ResolveTarget("127.0.0.1:7007", AF_INET6).ok());
  EXPECT_FALSE(ResolveTarget("127.0.0.1", AF_UNSPEC).ok());
  EXPECT_FALSE(ResolveTarget(":7007", AF_UNSPEC).ok());
  // A name resolves as getaddrinfo (the system's resolver, the witness) resolves it: this
  // machine's own host name.
  char name[256] = {};
  ASSERT_EQ(gethostname(name, sizeof(name) - 1), 0);
  addrinfo hints = {};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (getaddrinfo(name, nullptr, &hints, &found) != 0) {
    GTEST_SKIP() << "this machine's name does not resolve";
  }
  const std::string first =
      SocketAddress::FromSockaddr(found->ai_addr, found->ai_addrlen).HostString();
  freeaddrinfo(found);
  absl::StatusOr<std::vector<SocketAddress>> resolved =
      ResolveTarget(std::string(name) + ":7007", AF_UNSPEC);
  ASSERT_TRUE(resolved.ok()) << resolved.status();
  EXPECT_EQ(resolved->front().HostString(), first);
  EXPECT_EQ(resolved->front().port(), 7007);
}

TEST(LoadOptionsTest, ParsesBindAddresses) {
  EXPECT_EQ(ParseBindAddress("127.0.0.2")->port(), 0);
  EXPECT_EQ(ParseBindAddress("127.0.0.2:40000")->port(), 40000);
  EXPECT_EQ(ParseBindAddress("::1")->port(), 0);
  EXPECT_EQ(ParseBindAddress("[::1]:40000")->port(), 40000);
}

}  // namespace
}  // namespace socklab::client

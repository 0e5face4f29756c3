#include "client/load/load_options.h"

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

TEST(LoadOptionsTest, ParsesTargetsAndBindAddresses) {
  EXPECT_EQ(ParseTarget("localhost:7007", AF_INET6)->ToString(), "[::1]:7007");
  EXPECT_EQ(ParseTarget("localhost:7007", AF_UNSPEC)->ToString(), "127.0.0.1:7007");
  EXPECT_FALSE(ParseTarget("127.0.0.1:7007", AF_INET6).ok());
  EXPECT_FALSE(ParseTarget("127.0.0.1", AF_UNSPEC).ok());
  EXPECT_EQ(ParseBindAddress("127.0.0.2")->port(), 0);
  EXPECT_EQ(ParseBindAddress("127.0.0.2:40000")->port(), 40000);
  EXPECT_EQ(ParseBindAddress("::1")->port(), 0);
  EXPECT_EQ(ParseBindAddress("[::1]:40000")->port(), 40000);
}

}  // namespace
}  // namespace socklab::client

#include "server/server_options.h"

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "gtest/gtest.h"

namespace socklab::server {
namespace {

TEST(ParseLingerTest, AcceptsOffRstAndSeconds) {
  EXPECT_EQ(ParseLinger("off")->mode, Linger::Mode::kOff);
  EXPECT_EQ(ParseLinger("rst")->mode, Linger::Mode::kReset);
  EXPECT_EQ(ParseLinger("0")->mode, Linger::Mode::kReset);
  absl::StatusOr<Linger> five = ParseLinger("5");
  ASSERT_TRUE(five.ok());
  EXPECT_EQ(five->mode, Linger::Mode::kSeconds);
  EXPECT_EQ(five->seconds, 5);
  EXPECT_EQ(ParseLinger("2s")->seconds, 2);
  EXPECT_EQ(LingerToString(*five), "5s");
}

TEST(ParseLingerTest, RefusesNonsense) {
  for (const char* bad : {"", "soon", "-1", "1500ms", "99999"}) {
    absl::StatusOr<Linger> l = ParseLinger(bad);
    EXPECT_FALSE(l.ok()) << bad;
    EXPECT_EQ(l.status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
}

// Options built directly (not parsed) meet the same range as --linger, with its message.
TEST(ServerOptionsTest, LingerSecondsHaveParseLingersRange) {
  ServerOptions o;
  o.linger = {Linger::Mode::kSeconds, 3600};
  EXPECT_TRUE(o.Validate().ok()) << o.Validate();
  o.linger = {Linger::Mode::kSeconds, 3601};
  absl::Status st = o.Validate();
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(st, ParseLinger("3601s").status());
  o.linger = {Linger::Mode::kSeconds, 0};  // ParseLinger makes rst of it
  EXPECT_EQ(o.Validate().code(), absl::StatusCode::kInvalidArgument);
}

TEST(ServerOptionsTest, DefaultsAreValid) { EXPECT_TRUE(ServerOptions().Validate().ok()); }

TEST(ServerOptionsTest, NodelayIsOnByDefault) { EXPECT_TRUE(ServerOptions().nodelay); }

TEST(ServerOptionsTest, MaxPendingIsBoundedSoBackpressureStaysOn) {
  ServerOptions o;
  o.max_pending_bytes = kMaxPendingBytesLimit;
  EXPECT_TRUE(o.Validate().ok()) << o.Validate();
  o.max_pending_bytes = size_t{1000} << 30;  // --max-pending 1000G
  absl::Status st = o.Validate();
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("--max-pending"), absl::string_view::npos) << st;
}

TEST(ParseKeepaliveTest, AcceptsSecondsAndDurationsAndOff) {
  absl::StatusOr<std::optional<Keepalive>> k = ParseKeepalive("30s,5s,3");
  ASSERT_TRUE(k.ok()) << k.status();
  ASSERT_TRUE(k->has_value());
  EXPECT_EQ((*k)->idle_s, 30);
  EXPECT_EQ((*k)->interval_s, 5);
  EXPECT_EQ((*k)->count, 3);
  k = ParseKeepalive("2m,10,5");
  ASSERT_TRUE(k.ok() && k->has_value()) << k.status();
  EXPECT_EQ((*k)->idle_s, 120);
  EXPECT_EQ(KeepaliveToString(*k), "120s,10s,5");
  k = ParseKeepalive("off");
  ASSERT_TRUE(k.ok());
  EXPECT_FALSE(k->has_value());
}

TEST(ParseKeepaliveTest, RefusesNonsenseAndOutOfRange) {
  for (const char* bad : {"30", "30,5", "30,5,3,1", "30s,5s,x", "1.5s,5s,3", "0,5,3", "30,5,0",
                          "30,5,128", "40000,5,3", "soon"}) {
    absl::StatusOr<std::optional<Keepalive>> k = ParseKeepalive(bad);
    ASSERT_FALSE(k.ok()) << bad;
    EXPECT_EQ(k.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_NE(k.status().message().find("--keepalive"), absl::string_view::npos) << k.status();
    EXPECT_NE(k.status().message().find(";"), absl::string_view::npos) << "names the fix";
  }
}

TEST(ServerOptionsTest, RefusesOutOfRangeValues) {
  ServerOptions o;
  o.threads = -1;
  EXPECT_FALSE(o.Validate().ok());
  o = ServerOptions();
  o.idle_timeout = absl::Seconds(-1);
  EXPECT_FALSE(o.Validate().ok());
  o = ServerOptions();
  o.stats_interval = absl::Milliseconds(1);
  EXPECT_FALSE(o.Validate().ok());
  o = ServerOptions();
  o.threads = 1025;
  EXPECT_NE(o.Validate().message().find("or 0 for one per CPU"), absl::string_view::npos)
      << o.Validate();
  // Ranges the flags' 64-bit values are checked against here, before narrowing to an int.
  o = ServerOptions();
  o.backlog = int64_t{5'000'000'000};
  EXPECT_NE(o.Validate().message().find("--backlog 5000000000"), absl::string_view::npos)
      << o.Validate();
  o = ServerOptions();
  o.rcvbuf = int64_t{2} << 30;
  EXPECT_NE(o.Validate().message().find("--rcvbuf"), absl::string_view::npos) << o.Validate();
  o = ServerOptions();
  o.sndbuf = -1;
  EXPECT_NE(o.Validate().message().find("--sndbuf"), absl::string_view::npos) << o.Validate();
  o = ServerOptions();
  o.backlog = 1'000'000'000;
  o.rcvbuf = o.sndbuf = 1 << 30;
  EXPECT_TRUE(o.Validate().ok()) << o.Validate();
  o = ServerOptions();
  o.listen = SocketAddress();
  absl::Status st = o.Validate();
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find(";"), absl::string_view::npos) << "message names the fix: " << st;
}

class ValidateAndResolveTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = std::filesystem::temp_directory_path() /
            ("socklab_server_opts_" + std::to_string(::getpid()));
    std::filesystem::create_directories(root_ / "proc/sys/net/core");
    std::ofstream(root_ / "proc/sys/net/core/somaxconn") << "128\n";
  }
  void TearDown() override { std::filesystem::remove_all(root_); }
  std::filesystem::path root_;
};

TEST_F(ValidateAndResolveTest, BacklogDefaultsToSomaxconnAndWarnsAbove) {
  ProcFs proc(root_.string());
  absl::StatusOr<ResolvedOptions> r = ValidateAndResolve(ServerOptions(), proc);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->options.backlog, 128);
  EXPECT_GE(r->options.threads, 1);
  EXPECT_TRUE(r->warnings.empty());

  ServerOptions big;
  big.backlog = 1000;
  r = ValidateAndResolve(big, proc);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->options.backlog, 128) << "the effective value, which the configuration line shows";
  ASSERT_EQ(r->warnings.size(), 1u);
  EXPECT_NE(r->warnings[0].find("somaxconn=128"), std::string::npos) << r->warnings[0];
}

// Resolution happens only for options that passed Validate(): a bad value is the one-line usage
// error, whatever /proc holds.
TEST_F(ValidateAndResolveTest, RefusesInvalidOptionsWithValidatesMessage) {
  ServerOptions bad;
  bad.threads = 5000;
  absl::StatusOr<ResolvedOptions> r = ValidateAndResolve(bad, ProcFs(root_.string()));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status(), bad.Validate());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace socklab::server

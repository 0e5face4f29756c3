// socklab load against the real socklab-server (a child process from $SOCKLAB_BIN_DIR).
#include "client/load/load_engine.h"
#include "gtest/gtest.h"
#include "tests/client/load/server_process.h"

namespace socklab::client {
namespace {

using testing::ServerProcess;

class LoadServerTest : public ::testing::TestWithParam<loop::BackendChoice> {
 protected:
  void SetUp() override {
    if (!loop::SelectBackend(GetParam()).ok()) {
      GTEST_SKIP() << "backend unavailable";
    }
  }
  LoadOptions Options(const SocketAddress& target) {
    LoadOptions o;
    o.target = target;
    o.backend = GetParam();
    o.connections = 8;
    o.threads = 2;
    o.duration = absl::ZeroDuration();
    o.read_timeout = absl::Seconds(10);
    o.connect_timeout = absl::Seconds(5);
    return o;
  }
};

TEST_P(LoadServerTest, EveryModeAddsUpAgainstSocklabServer) {
  ServerProcess server({});
  if (!server.ok()) {
    GTEST_SKIP() << "socklab-server not built";
  }
  struct Mode {
    const char* name;
    int pipeline;
    double rate;
    uint64_t churn;
  };
  for (const Mode& mode : {Mode{"closed", 1, 0, 0}, Mode{"pipelined", 16, 0, 0},
                           Mode{"open", 1, 2000, 0}, Mode{"churn", 1, 0, 3}}) {
    LoadOptions o = Options(server.address());
    o.pipeline = mode.pipeline;
    o.rate = mode.rate;
    o.churn = mode.churn;
    o.size_min = 1;
    o.size_max = 9000;
    o.messages = 1200;
    absl::StatusOr<LoadResult> r = RunLoad(o);
    ASSERT_TRUE(r.ok()) << mode.name << ": " << r.status();
    EXPECT_EQ(r->messages_completed, 1200u) << mode.name;
    EXPECT_EQ(r->messages_sent, 1200u) << mode.name;
    EXPECT_EQ(r->bytes_sent, r->bytes_received) << mode.name;
    EXPECT_EQ(r->data_errors, 0u) << mode.name;
    EXPECT_EQ(r->errors.Total(), 0u) << mode.name << ": " << r->errors.ToText();
    if (mode.churn > 0) {
      EXPECT_EQ(r->connections_opened, 400u);
    }
  }
}

TEST_P(LoadServerTest, LingerRstIdleTimeoutCountsReadReset) {
  ServerProcess server({"--linger", "rst", "--idle-timeout", "100ms"});
  if (!server.ok()) {
    GTEST_SKIP() << "socklab-server not built";
  }
  LoadOptions o = Options(server.address());
  o.rate = 16;  // 2 msg/s per connection: 500 ms idle gaps
  o.duration = absl::Milliseconds(1500);
  absl::StatusOr<LoadResult> r = RunLoad(o);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_GT(r->errors.count(Phase::kRead, ErrorClass::kReset), 0u) << r->errors.ToText();
  EXPECT_EQ(r->data_errors, 0u);
}

INSTANTIATE_TEST_SUITE_P(Backends, LoadServerTest,
                         ::testing::Values(loop::BackendChoice::kEpoll,
                                           loop::BackendChoice::kIoUring),
                         [](const auto& info) {
                           return info.param == loop::BackendChoice::kEpoll ? "epoll" : "io_uring";
                         });

}  // namespace
}  // namespace socklab::client

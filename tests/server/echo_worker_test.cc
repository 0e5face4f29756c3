#include "server/echo_worker.h"

#include <errno.h>

#include <memory>
#include <thread>

#include "core/base/clock.h"
#include "core/loop/event_loop.h"
#include "core/net/socket.h"
#include "gtest/gtest.h"
#include "tests/server/test_client.h"

namespace socklab::server {
namespace {

using namespace socklab::server::testing;

class EchoWorkerTest : public ::testing::TestWithParam<loop::Backend> {
 protected:
  void SetUp() override {
    if (GetParam() == loop::Backend::kIoUring &&
        !loop::SelectBackend(loop::BackendChoice::kIoUring).ok()) {
      GTEST_SKIP() << "io_uring unavailable";
    }
  }
};

TEST_P(EchoWorkerTest, AnAbortedConnectionIsCountedAndAcceptingGoesOn) {
  // Linux hardly ever fails accept() with ECONNABORTED (the peer's RST usually arrives on the
  // accepted socket instead), so the loop's completion for it is fed in directly: more = true,
  // as both backends deliver it.
  ServerOptions options;
  options.listen = *SocketAddress::Parse("127.0.0.1:0");
  absl::StatusOr<UniqueFd> listener = ListenTcp({.address = options.listen});
  ASSERT_TRUE(listener.ok()) << listener.status();
  SocketAddress address = *LocalAddressOf(listener->get());
  SharedState shared;
  absl::StatusOr<std::unique_ptr<EchoWorker>> worker =
      EchoWorker::Create(options, GetParam(), *std::move(listener), &shared);
  ASSERT_TRUE(worker.ok()) << worker.status();
  shared.workers.push_back(worker->get());
  // The worker's accept token is slot 0, generation 0.
  (*worker)->OnCompletion(loop::Completion{loop::Op::kAccept, 0, -1, -ECONNABORTED, true, nullptr});
  StatsSnapshot s = (*worker)->stats().Snapshot();
  EXPECT_EQ(s.errors.count(Phase::kAccept, ErrorClass::kAborted), 1u) << s.errors.ToText();
  EXPECT_EQ(s.accept_pauses_no_fds, 0u);

  // No back-off: the next client is served at once.
  absl::Status run;
  std::thread thread([&] { run = (*worker)->Run(); });
  UniqueFd client = Connect(address);
  ASSERT_TRUE(client.valid());
  EXPECT_TRUE(SendAll(client.get(), "after"));
  EXPECT_EQ(RecvExactly(client.get(), 5), "after");
  client.Reset();  // the drain serves open connections until they close or the deadline
  shared.drain_deadline_ns.store(MonotonicNanos() + 5'000'000'000);
  shared.draining.store(true);
  (*worker)->Wake();
  thread.join();
  EXPECT_TRUE(run.ok()) << run;
  EXPECT_EQ((*worker)->stats().Snapshot().accepted, 1u);
}

INSTANTIATE_TEST_SUITE_P(Backends, EchoWorkerTest,
                         ::testing::Values(loop::Backend::kEpoll, loop::Backend::kIoUring),
                         [](const auto& info) {
                           return std::string(loop::BackendName(info.param));
                         });

}  // namespace
}  // namespace socklab::server

// Linked into the suites that count sockets the kernel holds (tcpstat's socket tests, socklab
// states run as a program, the fault suite's and load's TIME_WAIT counts). A suite running beside
// them under ctest --parallel (a churning load) leaves tens of thousands of TIME_WAIT sockets:
// their port numbers collide with these suites' listeners, and they fill the namespace's TIME_WAIT
// table (net.ipv4.tcp_max_tw_buckets), past which the kernel closes sockets without a TIME_WAIT. As
// root such a binary therefore runs in a network namespace of its own, with only loopback up: the
// only sockets it sees, and the only ones in its table, are its own.

#include <sched.h>
#include <unistd.h>

#include "core/net/netns.h"
#include "gtest/gtest.h"

namespace socklab::testing {
namespace {

class PrivateNetworkNamespace : public ::testing::Environment {
 public:
  void SetUp() override {
    if (geteuid() != 0 || !CheckNetnsAvailable().ok()) {
      return;  // the host's namespace: other programs' sockets may share a port number
    }
    // The main thread, before any test thread exists: gtest runs every test on it, and threads
    // the tests start inherit its namespace.
    ASSERT_EQ(unshare(CLONE_NEWNET), 0) << "unshare(CLONE_NEWNET)";
    absl::Status up = BringLoopbackUp();
    ASSERT_TRUE(up.ok()) << up;
  }
};

[[maybe_unused]] ::testing::Environment* const kPrivateNetworkNamespace =
    ::testing::AddGlobalTestEnvironment(new PrivateNetworkNamespace);

}  // namespace
}  // namespace socklab::testing

// Linked into the suites that find their sockets by port number (tcpstat's socket tests, socklab
// states run as a program). A suite running beside them under ctest --parallel (a churning load)
// leaves tens of thousands of TIME_WAIT sockets whose port numbers collide with their listeners.
// As root such a binary therefore runs in a network namespace of its own, with only loopback up:
// the only sockets it sees are its own.

#include <sched.h>
#include <unistd.h>

#include "core/net/netns.h"
#include "gtest/gtest.h"

namespace socklab::tcpstat {
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
}  // namespace socklab::tcpstat

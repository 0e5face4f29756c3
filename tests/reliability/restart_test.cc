// A server restarted on its port right after its predecessor was SIGKILLed serves at once, on
// both backends; a port that a live process listens on is still refused at once.

#include <signal.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <cstring>
#include <string>
#include <vector>

#include "tests/reliability/reliability.h"

namespace socklab::server::testing {
namespace {

class RestartTest : public ReliabilityTest {};

TEST_P(RestartTest, RestartRightAfterSigkillListensEveryTime) {
  std::string port_text = "0";
  uint16_t port = 0;
  for (int round = 0; round < 10; ++round) {
    std::vector<std::string> args = Args({"--threads", "2"});
    args[3] = "127.0.0.1:" + port_text;  // --listen's value
    ServerProcess server(args);
    std::string listening = server.WaitListening(5000);
    ASSERT_NE(listening, "") << "round " << round << ": " << server.err();
    SocketAddress address = server.Address();
    if (port == 0) {
      port = address.port();
      port_text = std::to_string(port);
    }
    ASSERT_EQ(address.port(), port);
    // The kernel's witness: something listens on the port.
    EXPECT_GE(ServerSocketsIn(port, tcpstat::TcpState::kListen), 1) << "round " << round;
    // Connections with traffic, open at the kill (the io_uring teardown then has work to do).
    std::vector<UniqueFd> clients;
    for (int i = 0; i < 50; ++i) {
      clients.push_back(Connect(address, 10));
      ASSERT_TRUE(clients.back().valid());
      ASSERT_TRUE(SendAll(clients.back().get(), "x"));
    }
    for (UniqueFd& c : clients) {
      ASSERT_EQ(RecvExactly(c.get(), 1), "x");
    }
    server.Kill();  // SIGKILL and reap; the next round binds at once
  }
}

// Sends `fd` over a unix socket pair that nobody reads: the file stays alive, referenced only by
// the message in flight, while no process has an fd for it. That is the state a SIGKILLed
// io_uring server's listener is in while the kernel tears its ring down (for 20 to 50 ms on a
// busy machine), held open here for as long as the test wants.
struct OwnerlessFile {
  UniqueFd ends[2];
};
OwnerlessFile DetachFromEveryProcess(UniqueFd fd) {
  OwnerlessFile held;
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
    return held;
  }
  held.ends[0] = UniqueFd(sv[0]);
  held.ends[1] = UniqueFd(sv[1]);
  char byte = 0;
  iovec iov{&byte, 1};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof(control);
  cmsghdr* cmsg = CMSG_FIRSTHDR(&msg);
  cmsg->cmsg_level = SOL_SOCKET;
  cmsg->cmsg_type = SCM_RIGHTS;
  cmsg->cmsg_len = CMSG_LEN(sizeof(int));
  int raw = fd.get();
  std::memcpy(CMSG_DATA(cmsg), &raw, sizeof(int));
  if (sendmsg(sv[0], &msg, 0) != 1) {
    held.ends[0].Reset();
  }
  return held;  // `fd` closes here: the message holds the only reference
}

TEST_P(RestartTest, AListenerThatOutlivesItsOwnerDelaysTheBindInsteadOfFailingIt) {
  absl::StatusOr<UniqueFd> listener =
      ListenTcp({.address = *SocketAddress::Parse("127.0.0.1:0"), .exclusive_bind = true});
  ASSERT_TRUE(listener.ok()) << listener.status();
  SocketAddress address = *LocalAddressOf(listener->get());
  OwnerlessFile held = DetachFromEveryProcess(*std::move(listener));
  ASSERT_TRUE(held.ends[0].valid());
  // The kernel still has the listener, and no process holds it.
  ASSERT_EQ(ServerSocketsIn(address.port(), tcpstat::TcpState::kListen), 1);
  std::vector<std::string> args = Args({"--threads", "2"});
  args[3] = address.ToString();
  ServerProcess server(args);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_FALSE(server.Exited(0)) << "gave up while the old listener lingered: " << server.err();
  held = OwnerlessFile();  // the message and with it the old listener go
  EXPECT_NE(server.WaitListening(5000), "") << server.err();
  UniqueFd client = Connect(server.Address(), 10);
  ASSERT_TRUE(client.valid());
  ASSERT_TRUE(SendAll(client.get(), "new"));
  EXPECT_EQ(RecvExactly(client.get(), 3), "new");
}

TEST_P(RestartTest, APortThatALiveServerHoldsIsRefusedAtOnce) {
  ServerProcess first(Args({"--threads", "1"}));
  SocketAddress address = first.Address();
  ASSERT_NE(address.port(), 0) << first.err();
  std::vector<std::string> args = Args({"--threads", "1"});
  args[3] = address.ToString();
  auto start = std::chrono::steady_clock::now();
  ServerProcess second(args);
  ASSERT_TRUE(second.Exited(20000));
  EXPECT_EQ(second.exit_code(), 2) << second.err();
  EXPECT_NE(second.err().find("EADDRINUSE"), std::string::npos) << second.err();
  // Not the bounded wait for a dead owner's listener (2 s): the owner is alive.
  EXPECT_LT(SecondsSince(start), 1.5) << "waited for a listener whose owner is alive";
}

SOCKLAB_RELIABILITY_BACKENDS(RestartTest);

}  // namespace
}  // namespace socklab::server::testing

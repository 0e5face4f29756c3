// The NETLINK_SOCK_DIAG reply parser (`socklab states --source netlink`, the tests' kernel
// witness): whatever the length and type fields say, it reads only the bytes it was given, and
// every record it reports is self-consistent.
#include <sys/socket.h>

#include <cstdint>
#include <cstring>
#include <vector>

#include "core/tcpstat/sock_diag_parser.h"
#include "tests/fuzz/fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using socklab::tcpstat::TcpSocket;
  // A receive buffer is aligned (the parser's contract); the copy's exact size keeps a read past
  // the end visible to ASan.
  std::vector<uint32_t> aligned((size + 3) / 4);
  if (size > 0) {
    std::memcpy(aligned.data(), data, size);
  }
  size_t seen = 0;
  socklab::tcpstat::SockDiagParseResult result =
      socklab::tcpstat::ParseSockDiagMessages(aligned.data(), size, [&](const TcpSocket& socket) {
        ++seen;
        SOCKLAB_FUZZ_CHECK(socket.family == AF_INET || socket.family == AF_INET6);
        SOCKLAB_FUZZ_CHECK(socket.local.family() == socket.family);
        SOCKLAB_FUZZ_CHECK(socket.remote.family() == socket.family);
        int code = static_cast<int>(socket.state);
        SOCKLAB_FUZZ_CHECK(code >= 1 && code <= 12);
        SOCKLAB_FUZZ_CHECK(static_cast<int>(socket.timer) <= 4);
      });
  SOCKLAB_FUZZ_CHECK(result.sockets == seen);
  SOCKLAB_FUZZ_CHECK(result.error >= 0);
  SOCKLAB_FUZZ_CHECK(!(result.done && result.error != 0));
  return 0;
}

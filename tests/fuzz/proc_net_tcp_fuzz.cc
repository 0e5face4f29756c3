// The /proc/net/tcp{,6} parser (what `socklab states` reads, and `tune --root` trees hold):
// arbitrary bytes never crash it, and every record it reports is self-consistent.
#include <sys/socket.h>

#include <cstdint>

#include "absl/strings/string_view.h"
#include "core/tcpstat/proc_parser.h"
#include "tests/fuzz/fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using socklab::tcpstat::TcpSocket;
  absl::string_view text = socklab::fuzz::AsText(data, size);
  size_t seen = 0;
  size_t newlines = 0;
  for (char c : text) {
    newlines += c == '\n' ? 1 : 0;
  }
  socklab::tcpstat::ProcParseStats stats =
      socklab::tcpstat::ParseProcNetTcp(text, [&](const TcpSocket& socket) {
        ++seen;
        SOCKLAB_FUZZ_CHECK(socket.family == AF_INET || socket.family == AF_INET6);
        SOCKLAB_FUZZ_CHECK(socket.local.family() == socket.family);
        SOCKLAB_FUZZ_CHECK(socket.remote.family() == socket.family);
        int code = static_cast<int>(socket.state);
        SOCKLAB_FUZZ_CHECK(code >= 1 && code <= 12);
        SOCKLAB_FUZZ_CHECK(static_cast<int>(socket.timer) <= 4);
        SOCKLAB_FUZZ_CHECK(socket.timer_ms >= 0);
        SOCKLAB_FUZZ_CHECK(!socket.accept_backlog.has_value());
      });
  SOCKLAB_FUZZ_CHECK(stats.sockets == seen);
  // Only '\n'-terminated lines can become records; one unterminated tail at most is skipped.
  SOCKLAB_FUZZ_CHECK(stats.sockets + stats.skipped_lines <= newlines + 1);
  SOCKLAB_FUZZ_CHECK(stats.sockets <= newlines);
  return 0;
}

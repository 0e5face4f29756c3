// libFuzzer target for the /proc/net/tcp parser: arbitrary bytes must never crash it, and every
// record it reports must be self-consistent. Built with clang++ -fsanitize=fuzzer,address,
// undefined by run_parser_fuzz.cmake (the main build uses g++, which has no libFuzzer).
#include <sys/socket.h>

#include <cstdint>
#include <cstdlib>

#include "absl/strings/string_view.h"
#include "core/tcpstat/proc_parser.h"

namespace {

void Check(bool condition) {
  if (!condition) {
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using socklab::tcpstat::TcpSocket;
  absl::string_view text(reinterpret_cast<const char*>(data), size);
  size_t seen = 0;
  size_t newlines = 0;
  for (char c : text) {
    newlines += c == '\n' ? 1 : 0;
  }
  socklab::tcpstat::ProcParseStats stats =
      socklab::tcpstat::ParseProcNetTcp(text, [&](const TcpSocket& socket) {
        ++seen;
        Check(socket.family == AF_INET || socket.family == AF_INET6);
        Check(socket.local.family() == socket.family);
        Check(socket.remote.family() == socket.family);
        int code = static_cast<int>(socket.state);
        Check(code >= 1 && code <= 12);
        Check(static_cast<int>(socket.timer) <= 4);
        Check(socket.timer_ms >= 0);
        Check(!socket.accept_backlog.has_value());
      });
  Check(stats.sockets == seen);
  // Only '\n'-terminated lines can become records; one unterminated tail at most is skipped.
  Check(stats.sockets + stats.skipped_lines <= newlines + 1);
  Check(stats.sockets <= newlines);
  return 0;
}

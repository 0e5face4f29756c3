#pragma once

#include <cstddef>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/strings/string_view.h"
#include "core/tcpstat/tcp_socket.h"

namespace socklab::tcpstat {

// What a parse saw besides the sockets.
struct ProcParseStats {
  size_t sockets = 0;        // lines turned into records
  size_t skipped_lines = 0;  // lines that were not a complete, well-formed socket line
};

// Parses the text of /proc/net/tcp or /proc/net/tcp6 (the family comes from each address's
// width: 8 hex digits IPv4, 32 IPv6). Pure: no I/O, no allocation beyond the callback's.
// The header line is recognized and not counted. Any other line that is not complete and
// well-formed - a wrong field count or width, a bad hex digit, an unknown state, a final line
// without its '\n' (the kernel ends every line with one, so that line was cut) - is skipped and
// counted, never half-read. Calls `on_socket` once per record, in file order; the reference is
// valid only during the call. Thread affinity: none.
ProcParseStats ParseProcNetTcp(absl::string_view text,
                               absl::FunctionRef<void(const TcpSocket&)> on_socket);

// Convenience: every record in a vector.
struct ProcParseResult {
  std::vector<TcpSocket> sockets;
  ProcParseStats stats;
};
ProcParseResult ParseProcNetTcp(absl::string_view text);

}  // namespace socklab::tcpstat

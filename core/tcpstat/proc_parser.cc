#include "core/tcpstat/proc_parser.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdint>

namespace socklab::tcpstat {
namespace {

// Hand-rolled field scanning instead of sscanf: a 10,000-socket table is ~1.5 MB of text read
// every sample, and sscanf's format interpretation per field costs several times the kernel's
// own generation of that text (see bench/tcpstat_parser_benchmark.cc).

constexpr std::array<int8_t, 256> MakeHexTable() {
  std::array<int8_t, 256> table{};
  for (int c = 0; c < 256; ++c) {
    table[c] = -1;
  }
  for (int c = '0'; c <= '9'; ++c) {
    table[c] = static_cast<int8_t>(c - '0');
  }
  for (int c = 'A'; c <= 'F'; ++c) {
    table[c] = static_cast<int8_t>(c - 'A' + 10);
  }
  for (int c = 'a'; c <= 'f'; ++c) {
    table[c] = static_cast<int8_t>(c - 'a' + 10);
  }
  return table;
}
constexpr std::array<int8_t, 256> kHex = MakeHexTable();

// `text` as hex, which must have min..max digits (max <= 16).
bool Hex(absl::string_view text, size_t min_digits, size_t max_digits, uint64_t* out) {
  if (text.size() < min_digits || text.size() > max_digits) {
    return false;
  }
  uint64_t value = 0;
  for (char c : text) {
    int8_t digit = kHex[static_cast<unsigned char>(c)];
    if (digit < 0) {
      return false;
    }
    value = (value << 4) | static_cast<uint64_t>(digit);
  }
  *out = value;
  return true;
}

// Unsigned decimal of 1..20 digits that fits in uint64_t.
bool Decimal(absl::string_view text, uint64_t* out) {
  if (text.empty() || text.size() > 20) {
    return false;
  }
  uint64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') {
      return false;
    }
    uint64_t digit = static_cast<uint64_t>(c - '0');
    if (value > (UINT64_MAX - digit) / 10) {
      return false;
    }
    value = value * 10 + digit;
  }
  *out = value;
  return true;
}

// "HEX:HEX" split at its only ':'.
bool SplitColon(absl::string_view text, absl::string_view* left, absl::string_view* right) {
  const char* colon = static_cast<const char*>(memchr(text.data(), ':', text.size()));
  if (colon == nullptr) {
    return false;
  }
  size_t at = static_cast<size_t>(colon - text.data());
  *left = text.substr(0, at);
  *right = text.substr(at + 1);
  return memchr(right->data(), ':', right->size()) == nullptr;
}

// "0100007F:1F90" (IPv4) or 32 hex digits ':' port (IPv6). The kernel prints each 32-bit word
// of the address as the integer it reads from memory (%08X of a __be32), so storing the parsed
// integer back natively restores the network-order bytes on either endianness.
bool Address(absl::string_view text, int* family, SocketAddress* out) {
  absl::string_view host;
  absl::string_view port_text;
  uint64_t port = 0;
  if (!SplitColon(text, &host, &port_text) || !Hex(port_text, 4, 4, &port)) {
    return false;
  }
  if (host.size() == 8) {
    uint64_t word = 0;
    if (!Hex(host, 8, 8, &word)) {
      return false;
    }
    sockaddr_in sin{};
    sin.sin_family = AF_INET;
    sin.sin_port = htons(static_cast<uint16_t>(port));
    sin.sin_addr.s_addr = static_cast<uint32_t>(word);
    *family = AF_INET;
    *out = SocketAddress::FromSockaddr(reinterpret_cast<const sockaddr*>(&sin), sizeof(sin));
    return true;
  }
  if (host.size() == 32) {
    sockaddr_in6 sin6{};
    sin6.sin6_family = AF_INET6;
    sin6.sin6_port = htons(static_cast<uint16_t>(port));
    for (int i = 0; i < 4; ++i) {
      uint64_t word = 0;
      if (!Hex(host.substr(i * 8, 8), 8, 8, &word)) {
        return false;
      }
      uint32_t word32 = static_cast<uint32_t>(word);
      memcpy(&sin6.sin6_addr.s6_addr[i * 4], &word32, 4);
    }
    *family = AF_INET6;
    *out = SocketAddress::FromSockaddr(reinterpret_cast<const sockaddr*>(&sin6), sizeof(sin6));
    return true;
  }
  return false;
}

// Clock ticks per second of the "when" column (USER_HZ; 100 on every common architecture).
int64_t TicksPerSecond() {
  static const int64_t ticks = [] {
    long value = sysconf(_SC_CLK_TCK);
    return value > 0 ? static_cast<int64_t>(value) : int64_t{100};
  }();
  return ticks;
}

constexpr size_t kFieldsNeeded = 10;

// Field separators: the kernel pads with spaces; tabs and '\r' are accepted too.
constexpr std::array<bool, 256> MakeSeparatorTable() {
  std::array<bool, 256> table{};
  table[' '] = true;
  table['\t'] = true;
  table['\r'] = true;
  return table;
}
constexpr std::array<bool, 256> kSeparator = MakeSeparatorTable();

using LineFields = std::array<absl::string_view, kFieldsNeeded>;

// Splits the line starting at `pos` into its first kFieldsNeeded fields in one pass (the
// remaining columns are only skipped to the '\n'). Returns the position of the line's '\n', or
// npos when the text ends first; `*count` is the number of fields found.
size_t SplitLine(absl::string_view text, size_t pos, LineFields* fields, size_t* count) {
  const char* data = text.data();
  const size_t n = text.size();
  size_t i = pos;
  *count = 0;
  while (*count < kFieldsNeeded) {
    while (i < n && kSeparator[static_cast<unsigned char>(data[i])]) {
      ++i;
    }
    if (i == n) {
      return absl::string_view::npos;
    }
    if (data[i] == '\n') {
      return i;
    }
    size_t start = i;
    while (i < n && !kSeparator[static_cast<unsigned char>(data[i])] && data[i] != '\n') {
      ++i;
    }
    (*fields)[(*count)++] = absl::string_view(data + start, i - start);
  }
  const void* newline = i < n ? memchr(data + i, '\n', n - i) : nullptr;
  return newline == nullptr ? absl::string_view::npos
                            : static_cast<size_t>(static_cast<const char*>(newline) - data);
}

enum class LineKind { kSocket, kHeader, kBlank, kBad };

// The fields of one complete line.
LineKind ParseLine(const LineFields& f, size_t count, TcpSocket* socket) {
  if (count == 0) {
    return LineKind::kBlank;
  }
  if (f[0] == "sl") {
    return LineKind::kHeader;
  }
  if (count < kFieldsNeeded) {
    return LineKind::kBad;
  }
  // "  12:" slot number.
  uint64_t slot = 0;
  if (f[0].size() < 2 || f[0].back() != ':' || !Decimal(f[0].substr(0, f[0].size() - 1), &slot)) {
    return LineKind::kBad;
  }
  int local_family = 0;
  int remote_family = 0;
  if (!Address(f[1], &local_family, &socket->local) ||
      !Address(f[2], &remote_family, &socket->remote) || local_family != remote_family) {
    return LineKind::kBad;
  }
  socket->family = local_family;
  uint64_t value = 0;
  if (!Hex(f[3], 2, 2, &value)) {
    return LineKind::kBad;
  }
  std::optional<TcpState> state = TcpStateFromCode(static_cast<int>(value));
  if (!state.has_value()) {
    return LineKind::kBad;
  }
  socket->state = *state;
  absl::string_view left;
  absl::string_view right;
  uint64_t tx = 0;
  uint64_t rx = 0;
  if (!SplitColon(f[4], &left, &right) || !Hex(left, 1, 8, &tx) || !Hex(right, 1, 8, &rx)) {
    return LineKind::kBad;
  }
  socket->tx_queue = static_cast<uint32_t>(tx);
  socket->rx_queue = static_cast<uint32_t>(rx);
  uint64_t timer = 0;
  uint64_t when = 0;
  if (!SplitColon(f[5], &left, &right) || !Hex(left, 1, 2, &timer) || timer > 4 ||
      !Hex(right, 1, 16, &when) || when > (uint64_t{1} << 40)) {
    return LineKind::kBad;
  }
  socket->timer = static_cast<TcpTimer>(timer);
  socket->timer_ms = static_cast<int64_t>(when) * 1000 / TicksPerSecond();
  uint64_t retransmits = 0;
  if (!Hex(f[6], 1, 8, &retransmits)) {
    return LineKind::kBad;
  }
  socket->retransmits = static_cast<uint32_t>(retransmits);
  uint64_t uid = 0;
  if (!Decimal(f[7], &uid) || uid > UINT32_MAX) {
    return LineKind::kBad;
  }
  socket->uid = static_cast<uint32_t>(uid);
  // Column 9 ("timeout") is icsk_probes_out, printed with %d.
  absl::string_view probes = f[8];
  if (!probes.empty() && probes.front() == '-') {
    probes.remove_prefix(1);
  }
  if (!Decimal(probes, &value)) {
    return LineKind::kBad;
  }
  if (!Decimal(f[9], &socket->inode)) {
    return LineKind::kBad;
  }
  socket->accept_backlog.reset();
  return LineKind::kSocket;
}

}  // namespace

ProcParseStats ParseProcNetTcp(absl::string_view text,
                               absl::FunctionRef<void(const TcpSocket&)> on_socket) {
  ProcParseStats stats;
  TcpSocket socket;
  size_t pos = 0;
  LineFields fields;
  while (pos < text.size()) {
    size_t count = 0;
    size_t end = SplitLine(text, pos, &fields, &count);
    if (end == absl::string_view::npos) {
      // A final line without '\n' was cut short (the kernel terminates every line); a complete
      // looking prefix could still hold a truncated number, so it is never parsed.
      if (count > 0) {
        ++stats.skipped_lines;
      }
      break;
    }
    pos = end + 1;
    switch (ParseLine(fields, count, &socket)) {
      case LineKind::kSocket:
        ++stats.sockets;
        on_socket(socket);
        break;
      case LineKind::kBad:
        ++stats.skipped_lines;
        break;
      case LineKind::kHeader:
      case LineKind::kBlank:
        break;
    }
  }
  return stats;
}

ProcParseResult ParseProcNetTcp(absl::string_view text) {
  ProcParseResult result;
  // One record per line at most: reserving avoids re-copying ~300-byte records as it grows.
  result.sockets.reserve(static_cast<size_t>(std::count(text.begin(), text.end(), '\n')));
  result.stats = ParseProcNetTcp(
      text, [&result](const TcpSocket& socket) { result.sockets.push_back(socket); });
  return result;
}

}  // namespace socklab::tcpstat

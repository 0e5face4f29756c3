#pragma once

#include <netinet/in.h>

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "core/tcpstat/tcp_socket.h"
#include "core/tcpstat/tcp_state.h"

namespace socklab::tcpstat {

// One side of a connection to match: an IP address, a port, or both. The address is compared
// with the socket's own address, as `ss src/dst` does: an IPv4 address also matches its
// IPv4-mapped form (::ffff:a.b.c.d), so `--local 127.0.0.1:7007` finds the connections a
// dual-stack [::]:7007 server accepted from IPv4 clients, but not that listener itself (bound to
// ::), nor one on 0.0.0.0:7007: wildcards are addresses of their own. To find a server by its
// port whatever it is bound to, use `--local *:7007` (or `--port 7007`). Unlike ss, the mapped
// form is not a filter of its own: ::ffff:127.0.0.1 matches plain IPv4 sockets too. A value;
// thread affinity: none.
struct Endpoint {
  // IPv4 is stored mapped (::ffff:a.b.c.d); nullopt matches any address.
  std::optional<in6_addr> address = std::nullopt;
  uint16_t port = 0;  // 0 = any

  // "127.0.0.1", "127.0.0.1:7007", "::1", "[::1]", "[::1]:7007", "*:7007", ":7007".
  // Errors are UsageErrors naming the forms.
  static absl::StatusOr<Endpoint> Parse(absl::string_view text);
  bool Matches(const SocketAddress& address) const;
  std::string ToString() const;
};

// Which sockets to keep. Every set field must match (AND); the defaults match everything.
// Example: Filter{.port = 7007, .states = TcpStateSet::Of({TcpState::kTimeWait})}.
struct Filter {
  uint16_t port = 0;  // local OR remote port; 0 = any
  std::optional<Endpoint> local = std::nullopt;
  std::optional<Endpoint> remote = std::nullopt;
  TcpStateSet states = TcpStateSet::All();
  int family = AF_UNSPEC;  // AF_INET, AF_INET6 (the socket's family, as `ss -4/-6`), AF_UNSPEC

  bool Matches(const TcpSocket& socket) const;
  // "port 7007, local 127.0.0.1, state TIME_WAIT, IPv4" or "all sockets".
  std::string ToString() const;
};

}  // namespace socklab::tcpstat

#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace socklab {

// An IPv4 or IPv6 socket address (sockaddr_in / sockaddr_in6), by value. Thread affinity: none.
class SocketAddress {
 public:
  SocketAddress() = default;

  // "127.0.0.1:7007", "[::1]:7007", "localhost:7007", ":7007" (IPv4 any). Numeric only apart from
  // "localhost": a load tool must not depend on DNS. Errors are UsageErrors.
  static absl::StatusOr<SocketAddress> Parse(absl::string_view text);
  // An address without a port ("127.0.0.2", "::1"); port set to `port`.
  static absl::StatusOr<SocketAddress> ParseHost(absl::string_view host, uint16_t port = 0);
  // Copies a kernel sockaddr (from accept, getsockname, ...). Unknown families give an empty
  // address (family() == AF_UNSPEC).
  static SocketAddress FromSockaddr(const sockaddr* sa, socklen_t len);
  static SocketAddress Loopback(int family, uint16_t port);

  int family() const { return storage_.ss_family; }
  bool is_v6() const { return family() == AF_INET6; }
  uint16_t port() const;
  void set_port(uint16_t port);

  const sockaddr* sockaddr_ptr() const { return reinterpret_cast<const sockaddr*>(&storage_); }
  socklen_t length() const;

  // "127.0.0.1:7007" or "[::1]:7007"; HostString() without the port.
  std::string ToString() const;
  std::string HostString() const;

  // 127.0.0.0/8, ::1 or ::ffff:127.x.y.z: the addresses the kernel treats as loopback for
  // tcp_tw_reuse=2 (tcp_twsk_unique checks the mapped form too).
  bool IsLoopback() const;

  friend bool operator==(const SocketAddress& a, const SocketAddress& b);

 private:
  sockaddr_storage storage_{};
};

// The local / peer address of a socket.
absl::StatusOr<SocketAddress> LocalAddressOf(int fd);
absl::StatusOr<SocketAddress> PeerAddressOf(int fd);

}  // namespace socklab

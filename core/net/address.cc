#include "core/net/address.h"

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include <charconv>

#include "absl/strings/str_cat.h"
#include "core/base/status.h"

namespace socklab {
namespace {

constexpr absl::string_view kAddressForms =
    "write it as IP:PORT, e.g. 127.0.0.1:7007 or [::1]:7007";

absl::StatusOr<uint16_t> ParsePort(absl::string_view text, absl::string_view whole) {
  unsigned value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() || value > 65535) {
    return UsageError(absl::StrCat("bad port in address '", whole, "'"),
                      "the port is a number from 0 to 65535 (0 picks a free port)");
  }
  return static_cast<uint16_t>(value);
}

}  // namespace

absl::StatusOr<SocketAddress> SocketAddress::ParseHost(absl::string_view host, uint16_t port) {
  SocketAddress address;
  std::string host_text(host);
  if (host_text == "localhost") {
    host_text = "127.0.0.1";
  }
  if (host_text.empty()) {
    host_text = "0.0.0.0";
  }
  auto* v4 = reinterpret_cast<sockaddr_in*>(&address.storage_);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&address.storage_);
  if (inet_pton(AF_INET, host_text.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    return address;
  }
  address.storage_ = {};
  if (inet_pton(AF_INET6, host_text.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    return address;
  }
  return UsageError(absl::StrCat("bad IP address '", host, "'"),
                    "use a numeric IPv4 or IPv6 address (or localhost); names are not resolved");
}

absl::StatusOr<SocketAddress> SocketAddress::Parse(absl::string_view text) {
  absl::string_view host;
  absl::string_view port;
  if (!text.empty() && text.front() == '[') {
    size_t close = text.find(']');
    if (close == absl::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return UsageError(absl::StrCat("bad address '", text, "'"), kAddressForms);
    }
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
    absl::StatusOr<SocketAddress> address = ParseHost(host);
    if (!address.ok() || !address->is_v6()) {
      return UsageError(absl::StrCat("bad IPv6 address in '", text, "'"), kAddressForms);
    }
  } else {
    size_t colon = text.rfind(':');
    if (colon == absl::string_view::npos) {
      return UsageError(absl::StrCat("address '", text, "' has no port"), kAddressForms);
    }
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (host.find(':') != absl::string_view::npos) {
      return UsageError(absl::StrCat("bad address '", text, "'"),
                        "put IPv6 addresses in brackets: [::1]:7007");
    }
  }
  absl::StatusOr<uint16_t> port_number = ParsePort(port, text);
  if (!port_number.ok()) {
    return port_number.status();
  }
  absl::StatusOr<SocketAddress> address = ParseHost(host, *port_number);
  if (!address.ok()) {
    return UsageError(absl::StrCat("bad address '", text, "'"), kAddressForms);
  }
  return address;
}

SocketAddress SocketAddress::FromSockaddr(const sockaddr* sa, socklen_t len) {
  SocketAddress address;
  if (sa != nullptr && ((sa->sa_family == AF_INET && len >= sizeof(sockaddr_in)) ||
                        (sa->sa_family == AF_INET6 && len >= sizeof(sockaddr_in6)))) {
    memcpy(&address.storage_, sa,
           sa->sa_family == AF_INET ? sizeof(sockaddr_in) : sizeof(sockaddr_in6));
  }
  return address;
}

SocketAddress SocketAddress::Loopback(int family, uint16_t port) {
  return *ParseHost(family == AF_INET6 ? "::1" : "127.0.0.1", port);
}

bool SocketAddress::IsLoopback() const {
  if (family() == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(&storage_);
    return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
  }
  if (family() == AF_INET6) {
    const in6_addr& a = reinterpret_cast<const sockaddr_in6*>(&storage_)->sin6_addr;
    return IN6_IS_ADDR_LOOPBACK(&a) || (IN6_IS_ADDR_V4MAPPED(&a) && a.s6_addr[12] == 127);
  }
  return false;
}

uint16_t SocketAddress::port() const {
  if (family() == AF_INET) {
    return ntohs(reinterpret_cast<const sockaddr_in*>(&storage_)->sin_port);
  }
  if (family() == AF_INET6) {
    return ntohs(reinterpret_cast<const sockaddr_in6*>(&storage_)->sin6_port);
  }
  return 0;
}

void SocketAddress::set_port(uint16_t port) {
  if (family() == AF_INET) {
    reinterpret_cast<sockaddr_in*>(&storage_)->sin_port = htons(port);
  } else if (family() == AF_INET6) {
    reinterpret_cast<sockaddr_in6*>(&storage_)->sin6_port = htons(port);
  }
}

socklen_t SocketAddress::length() const {
  if (family() == AF_INET) {
    return sizeof(sockaddr_in);
  }
  if (family() == AF_INET6) {
    return sizeof(sockaddr_in6);
  }
  return 0;
}

std::string SocketAddress::HostString() const {
  char buffer[INET6_ADDRSTRLEN] = {};
  if (family() == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&storage_)->sin_addr, buffer,
              sizeof(buffer));
  } else if (family() == AF_INET6) {
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(&storage_)->sin6_addr, buffer,
              sizeof(buffer));
  } else {
    return "unspecified";
  }
  return buffer;
}

std::string SocketAddress::ToString() const {
  if (is_v6()) {
    return absl::StrCat("[", HostString(), "]:", port());
  }
  return absl::StrCat(HostString(), ":", port());
}

bool operator==(const SocketAddress& a, const SocketAddress& b) {
  return a.length() == b.length() && memcmp(&a.storage_, &b.storage_, a.length()) == 0;
}

absl::StatusOr<SocketAddress> LocalAddressOf(int fd) {
  sockaddr_storage storage{};
  socklen_t len = sizeof(storage);
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&storage), &len) != 0) {
    return ErrnoError(errno, "getsockname");
  }
  return SocketAddress::FromSockaddr(reinterpret_cast<sockaddr*>(&storage), len);
}

absl::StatusOr<SocketAddress> PeerAddressOf(int fd) {
  sockaddr_storage storage{};
  socklen_t len = sizeof(storage);
  if (getpeername(fd, reinterpret_cast<sockaddr*>(&storage), &len) != 0) {
    return ErrnoError(errno, "getpeername");
  }
  return SocketAddress::FromSockaddr(reinterpret_cast<sockaddr*>(&storage), len);
}

}  // namespace socklab

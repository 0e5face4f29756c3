#include "core/tcpstat/filter.h"

#include <arpa/inet.h>
#include <string.h>

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/base/status.h"

namespace socklab::tcpstat {
namespace {

constexpr absl::string_view kEndpointForms =
    "write ADDR, ADDR:PORT or *:PORT, e.g. 127.0.0.1, 127.0.0.1:7007, [::1]:7007, *:7007";

// The address of `address` as 16 bytes, IPv4 in its mapped form (::ffff:a.b.c.d).
in6_addr MappedAddress(const SocketAddress& address) {
  in6_addr out{};
  if (address.family() == AF_INET) {
    const auto* sin = reinterpret_cast<const sockaddr_in*>(address.sockaddr_ptr());
    out.s6_addr[10] = 0xff;
    out.s6_addr[11] = 0xff;
    memcpy(&out.s6_addr[12], &sin->sin_addr, 4);
  } else if (address.family() == AF_INET6) {
    out = reinterpret_cast<const sockaddr_in6*>(address.sockaddr_ptr())->sin6_addr;
  }
  return out;
}

}  // namespace

absl::StatusOr<Endpoint> Endpoint::Parse(absl::string_view text) {
  Endpoint endpoint;
  if (text.empty()) {
    return UsageError("empty address filter", kEndpointForms);
  }
  // A bare address: "127.0.0.1", "::1", "[::1]".
  absl::string_view bare = text;
  if (bare.size() > 2 && bare.front() == '[' && bare.back() == ']') {
    bare = bare.substr(1, bare.size() - 2);
  }
  absl::StatusOr<SocketAddress> host = SocketAddress::ParseHost(bare);
  if (!bare.empty() && host.ok()) {
    endpoint.address = MappedAddress(*host);
    return endpoint;
  }
  // A port on any address: "*:7007", ":7007".
  absl::string_view rest = text;
  bool any_host = false;
  if (absl::StartsWith(rest, "*:")) {
    rest.remove_prefix(1);
    any_host = true;
  } else if (absl::StartsWith(rest, ":")) {
    any_host = true;
  }
  absl::StatusOr<SocketAddress> address =
      SocketAddress::Parse(any_host ? absl::StrCat("0.0.0.0", rest) : std::string(text));
  if (!address.ok()) {
    return UsageError(absl::StrCat("bad address filter '", text, "'"), kEndpointForms);
  }
  if (!any_host) {
    endpoint.address = MappedAddress(*address);
  }
  endpoint.port = address->port();
  if (any_host && endpoint.port == 0) {
    return UsageError(absl::StrCat("address filter '", text, "' matches everything"),
                      kEndpointForms);
  }
  return endpoint;
}

bool Endpoint::Matches(const SocketAddress& socket_address) const {
  if (port != 0 && socket_address.port() != port) {
    return false;
  }
  if (address.has_value()) {
    in6_addr mine = MappedAddress(socket_address);
    return memcmp(&mine, &*address, sizeof(mine)) == 0;
  }
  return true;
}

std::string Endpoint::ToString() const {
  std::string host = "*";
  if (address.has_value()) {
    char buffer[INET6_ADDRSTRLEN] = {};
    if (IN6_IS_ADDR_V4MAPPED(&*address)) {
      inet_ntop(AF_INET, &address->s6_addr[12], buffer, sizeof(buffer));
      host = buffer;
    } else {
      inet_ntop(AF_INET6, &*address, buffer, sizeof(buffer));
      host = absl::StrCat("[", buffer, "]");
    }
  }
  if (port == 0) {
    return host;
  }
  return absl::StrCat(host, ":", port);
}

bool Filter::Matches(const TcpSocket& socket) const {
  if (!states.Contains(socket.state)) {
    return false;
  }
  if (family != AF_UNSPEC && socket.family != family) {
    return false;
  }
  if (port != 0 && socket.local.port() != port && socket.remote.port() != port) {
    return false;
  }
  if (local.has_value() && !local->Matches(socket.local)) {
    return false;
  }
  if (remote.has_value() && !remote->Matches(socket.remote)) {
    return false;
  }
  return true;
}

std::string Filter::ToString() const {
  std::vector<std::string> parts;
  if (port != 0) {
    parts.push_back(absl::StrCat("port ", port));
  }
  if (local.has_value()) {
    parts.push_back(absl::StrCat("local ", local->ToString()));
  }
  if (remote.has_value()) {
    parts.push_back(absl::StrCat("remote ", remote->ToString()));
  }
  if (!states.IsAll()) {
    parts.push_back(absl::StrCat("state ", TcpStateSetToString(states)));
  }
  if (family == AF_INET) {
    parts.push_back("IPv4");
  } else if (family == AF_INET6) {
    parts.push_back("IPv6");
  }
  if (parts.empty()) {
    return "all sockets";
  }
  return absl::StrJoin(parts, ", ");
}

}  // namespace socklab::tcpstat

#include "client/load/target.h"

#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>

#include "absl/strings/str_cat.h"
#include "core/base/errno_name.h"
#include "core/base/status.h"
#include "core/net/socket.h"

namespace socklab::client {
namespace {

constexpr char kForms[] = "give HOST:PORT, e.g. 127.0.0.1:7007, [::1]:7007 or localhost:7007";

// 0 when a non-blocking connect to `address` completed within `timeout`, else its errno
// (ETIMEDOUT for our own deadline).
int TryConnect(const SocketAddress& address, absl::Duration timeout) {
  absl::StatusOr<UniqueFd> fd = CreateTcpSocket(address.family(), Blocking::kNonBlocking);
  if (!fd.ok()) {
    return ErrnoOf(fd.status()).value_or(EIO);
  }
  if (::connect(fd->get(), address.sockaddr_ptr(), address.length()) == 0) {
    return 0;
  }
  if (errno != EINPROGRESS) {
    return errno;
  }
  pollfd pfd = {fd->get(), POLLOUT, 0};
  const int ready = ::poll(&pfd, 1, static_cast<int>(absl::ToInt64Milliseconds(timeout)));
  if (ready <= 0) {
    return ETIMEDOUT;
  }
  int err = 0;
  socklen_t length = sizeof(err);
  getsockopt(fd->get(), SOL_SOCKET, SO_ERROR, &err, &length);
  return err;
}

}  // namespace

absl::StatusOr<std::vector<SocketAddress>> ResolveTarget(absl::string_view text, int family) {
  if (!text.empty() && text.front() == ':') {
    // ":7007" would be 0.0.0.0:7007 (a listener's "any"), which a connect turns into this host
    // without saying so.
    return UsageError(absl::StrCat("target '", text, "' has no host"),
                      absl::StrCat("give the server's address, e.g. 127.0.0.1", text));
  }
  const size_t colon = text.rfind(':');
  const bool bracketed = !text.empty() && text.front() == '[';
  if (colon == absl::string_view::npos) {
    return UsageError(absl::StrCat("target '", text, "' has no port"), kForms);
  }
  const std::string host(text.substr(0, colon));
  std::vector<SocketAddress> candidates;
  if (bracketed || host.find(':') != std::string::npos || SocketAddress::ParseHost(host).ok()) {
    // A literal (or "localhost", which ParseHost reads as 127.0.0.1).
    absl::StatusOr<SocketAddress> address = SocketAddress::Parse(text);
    if (!address.ok()) {
      return address.status();
    }
    if (host == "localhost") {
      candidates = {SocketAddress::Loopback(AF_INET, address->port()),
                    SocketAddress::Loopback(AF_INET6, address->port())};
    } else {
      candidates = {*address};
    }
  } else {
    // A name: the port must still be a number (no service names).
    absl::StatusOr<SocketAddress> port_only =
        SocketAddress::Parse(absl::StrCat("0.0.0.0", text.substr(colon)));
    if (!port_only.ok()) {
      return port_only.status();
    }
    addrinfo hints = {};
    hints.ai_family = family;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* found = nullptr;
    const int rc = getaddrinfo(host.c_str(), nullptr, &hints, &found);
    if (rc != 0) {
      return UsageError(absl::StrCat("cannot resolve '", host, "': ", gai_strerror(rc)),
                        "check the name, or give an address");
    }
    for (const addrinfo* ai = found; ai != nullptr; ai = ai->ai_next) {
      SocketAddress address = SocketAddress::FromSockaddr(ai->ai_addr, ai->ai_addrlen);
      if (address.family() != AF_INET && address.family() != AF_INET6) {
        continue;
      }
      absl::StatusOr<SocketAddress> with_port =
          SocketAddress::ParseHost(address.HostString(), port_only->port());
      if (with_port.ok() &&
          std::find(candidates.begin(), candidates.end(), *with_port) == candidates.end()) {
        candidates.push_back(*with_port);
      }
    }
    freeaddrinfo(found);
  }
  if (family != AF_UNSPEC) {
    std::erase_if(candidates, [family](const SocketAddress& a) { return a.family() != family; });
    if (candidates.empty()) {
      return UsageError(absl::StrCat("target ", text, " is not an ",
                                     family == AF_INET6 ? "IPv6" : "IPv4", " address"),
                        "drop -4/-6 or give an address of that family");
    }
  }
  if (candidates.empty()) {
    return UsageError(absl::StrCat("'", host, "' has no IPv4 or IPv6 address"),
                      "check the name, or give an address");
  }
  return candidates;
}

SocketAddress PickReachable(const std::vector<SocketAddress>& candidates, absl::Duration timeout,
                            std::string* note) {
  note->clear();
  if (candidates.size() == 1) {
    return candidates[0];
  }
  for (const SocketAddress& candidate : candidates) {
    const int err = TryConnect(candidate, timeout);
    if (err == 0) {
      return candidate;
    }
    absl::StrAppend(note, note->empty() ? "" : ", ", candidate.ToString(), " ", ErrnoName(err));
  }
  absl::StrAppend(note, "; none answered");
  return candidates[0];
}

}  // namespace socklab::client

#include "client/load/load_options.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstring>

#include "absl/strings/str_cat.h"
#include "client/load/load_flags.h"
#include "core/base/status.h"
#include "core/base/units.h"

namespace socklab::client {
namespace {

// The last 32 bits of an address in host order (all of it for IPv4).
uint32_t Low32(const SocketAddress& a) {
  if (a.is_v6()) {
    const auto* v6 = reinterpret_cast<const sockaddr_in6*>(a.sockaddr_ptr());
    uint32_t low;
    std::memcpy(&low, v6->sin6_addr.s6_addr + 12, 4);
    return ntohl(low);
  }
  return ntohl(reinterpret_cast<const sockaddr_in*>(a.sockaddr_ptr())->sin_addr.s_addr);
}

SocketAddress WithLow32(const SocketAddress& a, uint32_t low) {
  sockaddr_storage storage{};
  std::memcpy(&storage, a.sockaddr_ptr(), a.length());
  if (a.is_v6()) {
    const uint32_t net = htonl(low);
    std::memcpy(reinterpret_cast<sockaddr_in6*>(&storage)->sin6_addr.s6_addr + 12, &net, 4);
  } else {
    reinterpret_cast<sockaddr_in*>(&storage)->sin_addr.s_addr = htonl(low);
  }
  return SocketAddress::FromSockaddr(reinterpret_cast<const sockaddr*>(&storage), a.length());
}

bool SameHigh96(const SocketAddress& a, const SocketAddress& b) {
  if (!a.is_v6()) {
    return true;
  }
  const auto* x = reinterpret_cast<const sockaddr_in6*>(a.sockaddr_ptr());
  const auto* y = reinterpret_cast<const sockaddr_in6*>(b.sockaddr_ptr());
  return std::memcmp(x->sin6_addr.s6_addr, y->sin6_addr.s6_addr, 12) == 0;
}

}  // namespace

absl::StatusOr<std::pair<uint32_t, uint32_t>> ParseSizeRange(absl::string_view text) {
  const size_t dash = text.find('-');
  absl::StatusOr<uint64_t> min = ParseByteSize(text.substr(0, dash));
  if (!min.ok()) {
    return min.status();
  }
  uint64_t max = *min;
  if (dash != absl::string_view::npos) {
    absl::StatusOr<uint64_t> parsed = ParseByteSize(text.substr(dash + 1));
    if (!parsed.ok()) {
      return parsed.status();
    }
    max = *parsed;
  }
  if (*min == 0 || max < *min || max > kMaxMessageSize) {
    return UsageError(absl::StrCat("bad message size '", text, "'"),
                      "use BYTES or MIN-MAX with 1 <= MIN <= MAX <= 16M, e.g. 64 or 100-1400");
  }
  return std::make_pair(static_cast<uint32_t>(*min), static_cast<uint32_t>(max));
}

absl::StatusOr<std::vector<SocketAddress>> ParseSourceRange(absl::string_view text) {
  const size_t dash = text.find('-');
  absl::StatusOr<SocketAddress> first = SocketAddress::ParseHost(text.substr(0, dash));
  if (!first.ok()) {
    return first.status();
  }
  SocketAddress last = *first;
  if (dash != absl::string_view::npos) {
    absl::StatusOr<SocketAddress> parsed = SocketAddress::ParseHost(text.substr(dash + 1));
    if (!parsed.ok()) {
      return parsed.status();
    }
    last = *parsed;
  }
  if (first->family() != last.family() || !SameHigh96(*first, last) ||
      Low32(last) < Low32(*first)) {
    return UsageError(absl::StrCat("bad source address range '", text, "'"),
                      "use FIRST-LAST of one family in ascending order, e.g. "
                      "127.0.0.2-127.0.0.40");
  }
  const uint64_t count = uint64_t{Low32(last)} - Low32(*first) + 1;
  if (count > kMaxSourceAddresses) {
    return UsageError(absl::StrCat("source address range '", text, "' has ", count, " addresses"),
                      "use at most 65536");
  }
  std::vector<SocketAddress> out;
  out.reserve(count);
  for (uint64_t i = 0; i < count; ++i) {
    out.push_back(WithLow32(*first, Low32(*first) + static_cast<uint32_t>(i)));
  }
  return out;
}

absl::StatusOr<SocketAddress> ParseBindAddress(absl::string_view text) {
  // "127.0.0.2:40000" and "[::1]:40000" have a port; "127.0.0.2" and "::1" do not.
  const bool has_port =
      (!text.empty() && text.front() == '[') ||
      (text.find(':') != absl::string_view::npos && text.find(':') == text.rfind(':'));
  if (has_port) {
    return SocketAddress::Parse(text);
  }
  return SocketAddress::ParseHost(text);
}

absl::Status LoadOptions::Validate() const {
  if (target.family() != AF_INET && target.family() != AF_INET6) {
    return UsageError("no target", "give HOST:PORT, e.g. socklab load 127.0.0.1:7007");
  }
  if (target.port() == 0) {
    return UsageError("target port 0", "give the server's port, e.g. 127.0.0.1:7007");
  }
  // Each value flag's range, from its one declaration.
  for (const LoadFlag& flag : LoadFlagTable()) {
    if (absl::Status range = flag.CheckRange(*this); !range.ok()) {
      return range;
    }
  }
  if (size_min == 0 || size_max < size_min || size_max > kMaxMessageSize) {
    return UsageError("bad message size", "use 1 <= MIN <= MAX <= 16M");
  }
  if (messages == 0 && duration <= absl::ZeroDuration()) {
    return UsageError("neither --duration nor --messages bounds the run", "give -d 10s or -n 100k");
  }
  if (warmup < absl::ZeroDuration() || (messages == 0 && warmup >= duration)) {
    return UsageError("--warmup is not shorter than --duration",
                      "use a warmup shorter than the run, e.g. -d 12s --warmup 2s");
  }
  if (connect_timeout <= absl::ZeroDuration() || read_timeout <= absl::ZeroDuration()) {
    return UsageError("a timeout of zero", "give --connect-timeout and --read-timeout above 0");
  }
  if (min_rate_ratio > 0 && rate <= 0) {
    return UsageError("--min-rate-ratio without -R",
                      "it checks an open loop's schedule: add -R RATE, or drop it");
  }
  for (const SocketAddress& source : sources) {
    if (source.family() != target.family()) {
      return UsageError(absl::StrCat("source ", source.HostString(), " and target ",
                                     target.ToString(), " are of different families"),
                        "use source addresses of the target's family");
    }
  }
  if (sources.size() == 1 && sources[0].port() != 0 && connections > 1) {
    return UsageError("--bind with a fixed port allows one connection",
                      "drop the port (the kernel picks one) or use -c 1");
  }
  return absl::OkStatus();
}

}  // namespace socklab::client

#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "core/net/address.h"

namespace socklab::client {

// The addresses a target may mean, in the order to try them: one for an address literal; for
// "localhost", 127.0.0.1 then ::1 (both loopbacks, whatever /etc/hosts lists); for a name, what
// getaddrinfo returns. `family` (AF_INET, AF_INET6 from -4/-6, or AF_UNSPEC) keeps only that
// family. Errors are UsageErrors: "HOST:PORT" forms, ":PORT" without a host, a name that does
// not resolve, a literal of the other family.
absl::StatusOr<std::vector<SocketAddress>> ResolveTarget(absl::string_view text, int family);

// The target to load: the only candidate, or the first that accepts a connection within
// `timeout` (one connect each, closed at once; the server sees that connection). When none
// does, the first, so the run reports why. `note` says which were tried and what they answered,
// empty when there was one candidate. Thread affinity: any; blocks up to `timeout` each.
SocketAddress PickReachable(const std::vector<SocketAddress>& candidates, absl::Duration timeout,
                            std::string* note);

}  // namespace socklab::client

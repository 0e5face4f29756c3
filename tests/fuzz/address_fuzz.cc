// Socket addresses as flags and targets give them ("127.0.0.1:7007", "[::1]:0", "localhost:80",
// hosts alone): any text parses to an IPv4 or IPv6 address that prints back to itself, or is
// refused with a usage error.
#include <sys/socket.h>

#include <cstdint>

#include "absl/status/statusor.h"
#include "core/net/address.h"
#include "tests/fuzz/fuzz_input.h"

namespace {

using socklab::SocketAddress;

void CheckRefusal(const absl::Status& status) {
  SOCKLAB_FUZZ_CHECK(absl::IsInvalidArgument(status));
  SOCKLAB_FUZZ_CHECK(!status.message().empty());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  absl::string_view text = socklab::fuzz::AsText(data, size);

  absl::StatusOr<SocketAddress> address = SocketAddress::Parse(text);
  if (address.ok()) {
    SOCKLAB_FUZZ_CHECK(address->family() == AF_INET || address->family() == AF_INET6);
    absl::StatusOr<SocketAddress> again = SocketAddress::Parse(address->ToString());
    SOCKLAB_FUZZ_CHECK(again.ok() && *again == *address);
  } else {
    CheckRefusal(address.status());
  }

  absl::StatusOr<SocketAddress> host = SocketAddress::ParseHost(text, 7007);
  if (host.ok()) {
    SOCKLAB_FUZZ_CHECK(host->port() == 7007);
    absl::StatusOr<SocketAddress> again = SocketAddress::ParseHost(host->HostString(), 7007);
    SOCKLAB_FUZZ_CHECK(again.ok() && *again == *host);
  } else {
    CheckRefusal(host.status());
  }
  return 0;
}

// The values of socklab-server's own flags that take more than a number or a duration: --linger,
// --keepalive, --fault (any number of them), --backend. Any text parses to a value that prints
// back to itself, or is refused with a usage error naming the problem. The input's
// '\0'-separated pieces are the values; every piece is tried as each flag, and all of them
// together as the --fault list.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/loop/event_loop.h"
#include "server/fault.h"
#include "server/server_options.h"
#include "tests/fuzz/fuzz_input.h"

namespace {

void CheckRefusal(const absl::Status& status) {
  SOCKLAB_FUZZ_CHECK(absl::IsInvalidArgument(status));
  SOCKLAB_FUZZ_CHECK(!status.message().empty());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::vector<std::string> specs;
  for (absl::string_view piece : socklab::fuzz::Pieces(data, size)) {
    absl::StatusOr<socklab::Linger> linger = socklab::server::ParseLinger(piece);
    if (linger.ok()) {
      std::string text = socklab::server::LingerToString(*linger);
      absl::StatusOr<socklab::Linger> again = socklab::server::ParseLinger(text);
      SOCKLAB_FUZZ_CHECK(again.ok() && again->mode == linger->mode &&
                         again->seconds == linger->seconds);
    } else {
      CheckRefusal(linger.status());
    }

    absl::StatusOr<std::optional<socklab::Keepalive>> keepalive =
        socklab::server::ParseKeepalive(piece);
    if (keepalive.ok()) {
      std::string text = socklab::server::KeepaliveToString(*keepalive);
      absl::StatusOr<std::optional<socklab::Keepalive>> again =
          socklab::server::ParseKeepalive(text);
      SOCKLAB_FUZZ_CHECK(again.ok() && again->has_value() == keepalive->has_value());
      if (keepalive->has_value()) {
        SOCKLAB_FUZZ_CHECK((*again)->idle_s == (*keepalive)->idle_s &&
                           (*again)->interval_s == (*keepalive)->interval_s &&
                           (*again)->count == (*keepalive)->count);
      }
    } else {
      CheckRefusal(keepalive.status());
    }

    absl::StatusOr<socklab::loop::BackendChoice> backend = socklab::loop::ParseBackendChoice(piece);
    if (!backend.ok()) {
      CheckRefusal(backend.status());
    }
    specs.emplace_back(piece);
  }

  absl::StatusOr<socklab::server::FaultPlan> plan =
      socklab::server::ParseFaultPlan(specs, /*probability=*/0.5, /*seed=*/1);
  if (plan.ok()) {
    SOCKLAB_FUZZ_CHECK(!socklab::server::FaultPlanToString(*plan).empty());
  } else {
    CheckRefusal(plan.status());
  }
  return 0;
}

#pragma once

#include <optional>
#include <string_view>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace socklab {

// The project's one error convention for setup and configuration: an absl::Status whose message
// reads "<what>: <strerror> (<ENAME>)[. <fix>]" and which carries the errno itself as a payload,
// so callers can branch on the exact errno (absl::ErrnoToStatusCode folds several into one code).
absl::Status ErrnoError(int err, absl::string_view what, absl::string_view fix = {});

// The errno an ErrnoError carries, if any.
std::optional<int> ErrnoOf(const absl::Status& status);

// An invalid-argument Status for bad user input: "<problem>; <fix>". The front ends map it to
// exit code 2.
absl::Status UsageError(absl::string_view problem, absl::string_view fix);

}  // namespace socklab

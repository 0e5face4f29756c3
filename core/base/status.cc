#include "core/base/status.h"

#include <charconv>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "core/base/errno_name.h"

namespace socklab {
namespace {
constexpr absl::string_view kErrnoPayloadUrl = "socklab/errno";
}  // namespace

absl::Status ErrnoError(int err, absl::string_view what, absl::string_view fix) {
  std::string message = absl::StrCat(what, ": ", DescribeErrno(err));
  if (!fix.empty()) {
    absl::StrAppend(&message, ". ", fix);
  }
  absl::Status status(absl::ErrnoToStatusCode(err), message);
  status.SetPayload(kErrnoPayloadUrl, absl::Cord(std::to_string(err)));
  return status;
}

std::optional<int> ErrnoOf(const absl::Status& status) {
  absl::optional<absl::Cord> payload = status.GetPayload(kErrnoPayloadUrl);
  if (!payload.has_value()) {
    return std::nullopt;
  }
  std::string text(*payload);
  int err = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), err);
  if (ec != std::errc() || end != text.data() + text.size()) {
    return std::nullopt;
  }
  return err;
}

absl::Status UsageError(absl::string_view problem, absl::string_view fix) {
  return absl::InvalidArgumentError(absl::StrCat(problem, "; ", fix));
}

}  // namespace socklab

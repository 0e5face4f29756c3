// Durations, counts, rates and byte sizes (core/base/units), as every flag of both programs reads
// them: any text gives a value in range or a usage error naming the problem, never a crash.
#include <cmath>
#include <cstdint>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "core/base/units.h"
#include "tests/fuzz/fuzz_input.h"

namespace {

template <typename T>
void CheckRefusal(const absl::StatusOr<T>& value) {
  if (!value.ok()) {
    SOCKLAB_FUZZ_CHECK(absl::IsInvalidArgument(value.status()));
    SOCKLAB_FUZZ_CHECK(!value.status().message().empty());
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  absl::string_view text = socklab::fuzz::AsText(data, size);

  absl::StatusOr<absl::Duration> duration = socklab::ParseDuration(text);
  CheckRefusal(duration);
  if (duration.ok()) {
    SOCKLAB_FUZZ_CHECK(*duration >= absl::ZeroDuration());
    SOCKLAB_FUZZ_CHECK(*duration != absl::InfiniteDuration());
  }

  CheckRefusal(socklab::ParseCount(text));

  absl::StatusOr<double> rate = socklab::ParseRate(text);
  CheckRefusal(rate);
  if (rate.ok()) {
    SOCKLAB_FUZZ_CHECK(std::isfinite(*rate) && *rate >= 0);
  }

  absl::StatusOr<uint64_t> bytes = socklab::ParseByteSize(text);
  CheckRefusal(bytes);
  if (bytes.ok()) {
    SOCKLAB_FUZZ_CHECK(!socklab::FormatBytes(static_cast<double>(*bytes)).empty());
  }
  return 0;
}

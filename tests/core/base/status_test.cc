#include "core/base/status.h"

#include <errno.h>

#include "core/base/errno_name.h"
#include "gtest/gtest.h"

namespace socklab {
namespace {

TEST(ErrnoError, CarriesErrnoAndNamesIt) {
  absl::Status status = ErrnoError(EADDRINUSE, "bind 127.0.0.1:7007", "pick another port");
  EXPECT_EQ(ErrnoOf(status), EADDRINUSE);
  EXPECT_EQ(status.message(),
            "bind 127.0.0.1:7007: Address already in use (EADDRINUSE). pick another port");
}

TEST(ErrnoError, PlainStatusHasNoErrno) {
  EXPECT_FALSE(ErrnoOf(absl::InternalError("x")).has_value());
  EXPECT_FALSE(ErrnoOf(absl::OkStatus()).has_value());
}

TEST(ErrnoName, KnownAndUnknown) {
  EXPECT_EQ(ErrnoName(ECONNRESET), "ECONNRESET");
  EXPECT_EQ(ErrnoName(EMFILE), "EMFILE");
  EXPECT_EQ(ErrnoName(99999), "errno 99999");
  EXPECT_EQ(DescribeErrno(EPIPE), "Broken pipe (EPIPE)");
}

}  // namespace
}  // namespace socklab

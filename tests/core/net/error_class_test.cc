#include "core/net/error_class.h"

#include <errno.h>

#include <set>
#include <string>

#include "gtest/gtest.h"

namespace socklab {
namespace {

TEST(Classify, MapsEachErrnoToItsOwnClass) {
  EXPECT_EQ(Classify(Phase::kConnect, ECONNREFUSED), ErrorClass::kRefused);
  EXPECT_EQ(Classify(Phase::kRead, ECONNRESET), ErrorClass::kReset);
  EXPECT_EQ(Classify(Phase::kWrite, EPIPE), ErrorClass::kBrokenPipe);
  EXPECT_EQ(Classify(Phase::kSocket, EMFILE), ErrorClass::kNoFds);
  EXPECT_EQ(Classify(Phase::kAccept, ENFILE), ErrorClass::kNoFds);
  EXPECT_EQ(Classify(Phase::kBind, EADDRINUSE), ErrorClass::kAddrInUse);
  EXPECT_EQ(Classify(Phase::kConnect, EADDRNOTAVAIL), ErrorClass::kAddrNotAvail);
  EXPECT_EQ(Classify(Phase::kConnect, ETIMEDOUT), ErrorClass::kTimedOut);
  EXPECT_EQ(Classify(Phase::kConnect, ENETUNREACH), ErrorClass::kUnreachable);
  EXPECT_EQ(Classify(Phase::kAccept, ECONNABORTED), ErrorClass::kAborted);
  EXPECT_EQ(Classify(Phase::kBind, EACCES), ErrorClass::kPermission);
  EXPECT_EQ(Classify(Phase::kRead, EAGAIN), ErrorClass::kWouldBlock);
  EXPECT_EQ(Classify(Phase::kRead, EXDEV), ErrorClass::kOther);
}

TEST(Classify, KeysAndLabelsAreDistinctAndStable) {
  std::set<std::string> keys;
  for (int c = 0; c < kErrorClassCount; ++c) {
    auto error_class = static_cast<ErrorClass>(c);
    EXPECT_TRUE(keys.insert(std::string(ClassKey(error_class))).second) << ClassKey(error_class);
    EXPECT_FALSE(ClassLabel(error_class).empty());
    EXPECT_FALSE(ClassExplanation(Phase::kConnect, error_class).empty());
    if (std::optional<int> err = ClassErrno(error_class); err.has_value()) {
      EXPECT_EQ(Classify(Phase::kRead, *err), error_class) << ClassKey(error_class);
    }
  }
  EXPECT_EQ(ClassKey(ErrorClass::kBrokenPipe), "broken_pipe");
  EXPECT_EQ(ClassLabel(ErrorClass::kDeadline), "deadline");
}

TEST(IsProgrammerError, OnlyBugsAbort) {
  EXPECT_TRUE(IsProgrammerError(Phase::kRead, EBADF));
  EXPECT_TRUE(IsProgrammerError(Phase::kWrite, EFAULT));
  EXPECT_TRUE(IsProgrammerError(Phase::kRead, EINVAL));
  EXPECT_FALSE(IsProgrammerError(Phase::kBind, EINVAL));
  EXPECT_FALSE(IsProgrammerError(Phase::kRead, ECONNRESET));
}

}  // namespace
}  // namespace socklab

#include "core/net/error_class.h"

#include <errno.h>

#include <set>
#include <string>

#include "core/base/errno_name.h"
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

TEST(Classify, LabelsAreTheErrnoNamesOfTheCanonicalErrno) {
  for (int c = 0; c < kErrorClassCount; ++c) {
    auto error_class = static_cast<ErrorClass>(c);
    if (std::optional<int> err = ClassErrno(error_class); err.has_value()) {
      EXPECT_EQ(ClassLabel(error_class), ErrnoName(*err)) << ClassKey(error_class);
    } else {
      EXPECT_EQ(ClassLabel(error_class), ClassKey(error_class));
    }
  }
}

TEST(Dispose, AcceptSkipsWhatAcceptTwoSaysToTreatLikeEagain) {
  // accept(2), "Error handling": pending network errors of the new socket, and a handshake the
  // peer aborted in the queue, concern that one connection only.
  for (int err : {ECONNABORTED, EPROTO, ENETDOWN, ENOPROTOOPT, EHOSTDOWN, ENONET, EHOSTUNREACH,
                  EOPNOTSUPP, ENETUNREACH}) {
    EXPECT_EQ(Dispose(Phase::kAccept, err), Disposition::kSkip) << ErrnoName(err);
  }
  // The same errno from connect is the path's answer, not a connection to skip.
  EXPECT_EQ(Dispose(Phase::kConnect, ENETUNREACH), Disposition::kPeerFailure);
  EXPECT_EQ(Dispose(Phase::kConnect, EHOSTUNREACH), Disposition::kPeerFailure);
}

TEST(Dispose, EintrAndEagainAreNoErrors) {
  for (Phase phase : {Phase::kAccept, Phase::kRead, Phase::kWrite}) {
    EXPECT_EQ(Dispose(phase, EINTR), Disposition::kRetry) << PhaseName(phase);
    EXPECT_EQ(Dispose(phase, EAGAIN), Disposition::kNotReady) << PhaseName(phase);
    EXPECT_EQ(Dispose(phase, EWOULDBLOCK), Disposition::kNotReady) << PhaseName(phase);
  }
  EXPECT_EQ(Dispose(Phase::kConnect, EINPROGRESS), Disposition::kNotReady);
  // connect(2): a TCP connect's EAGAIN is a routing-cache (or, on old kernels, port) shortage.
  EXPECT_EQ(Dispose(Phase::kConnect, EAGAIN), Disposition::kLocalShortage);
}

TEST(Dispose, ShortagesOfThisMachineAreBackedOffFrom) {
  for (Phase phase : {Phase::kSocket, Phase::kAccept, Phase::kConnect}) {
    for (int err : {EMFILE, ENFILE, ENOBUFS, ENOMEM}) {
      EXPECT_EQ(Dispose(phase, err), Disposition::kLocalShortage)
          << PhaseName(phase) << " " << ErrnoName(err);
      EXPECT_TRUE(IsLocalShortage(phase, err)) << PhaseName(phase) << " " << ErrnoName(err);
    }
  }
  // Ports to one destination run out at connect; at bind the address is taken or not ours.
  EXPECT_TRUE(IsLocalShortage(Phase::kConnect, EADDRNOTAVAIL));
  EXPECT_TRUE(IsLocalShortage(Phase::kConnect, EADDRINUSE));
  EXPECT_FALSE(IsLocalShortage(Phase::kBind, EADDRNOTAVAIL));
  EXPECT_FALSE(IsLocalShortage(Phase::kBind, EADDRINUSE));
  // The target's answers are no shortage.
  for (int err : {ECONNREFUSED, ECONNRESET, ETIMEDOUT, ENETUNREACH, EPIPE}) {
    EXPECT_FALSE(IsLocalShortage(Phase::kConnect, err)) << ErrnoName(err);
  }
}

TEST(Dispose, PeerFailuresBugsAndTheRest) {
  EXPECT_EQ(Dispose(Phase::kConnect, ECONNREFUSED), Disposition::kPeerFailure);
  EXPECT_EQ(Dispose(Phase::kRead, ECONNRESET), Disposition::kPeerFailure);
  EXPECT_EQ(Dispose(Phase::kWrite, EPIPE), Disposition::kPeerFailure);
  EXPECT_EQ(Dispose(Phase::kRead, ETIMEDOUT), Disposition::kPeerFailure);
  EXPECT_EQ(Dispose(Phase::kRead, EBADF), Disposition::kBug);
  EXPECT_EQ(Dispose(Phase::kAccept, EINVAL), Disposition::kBug);  // not a listener
  EXPECT_EQ(Dispose(Phase::kAccept, ENOTSOCK), Disposition::kBug);
  EXPECT_EQ(Dispose(Phase::kBind, EINVAL), Disposition::kUnexpected);  // user input
  EXPECT_EQ(Dispose(Phase::kAccept, EPERM), Disposition::kUnexpected);
  EXPECT_EQ(Dispose(Phase::kRead, EXDEV), Disposition::kUnexpected);
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

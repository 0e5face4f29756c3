#include "client/repro/recorder.h"

#include <errno.h>
#include <sys/socket.h>
#include <unistd.h>

#include "gtest/gtest.h"

namespace socklab::repro {
namespace {

TEST(Recorder, RecordsTheErrnoTheCallReturned) {
  Recorder rec("t");
  // A real syscall failing for a real reason: close of a never-opened fd.
  CallResult r = rec.Call("close(-1)", [] { return close(-1); });
  EXPECT_TRUE(r.failed());
  EXPECT_EQ(r.err, EBADF);
  rec.CheckErrno("close", Phase::kClose, EBADF, r);
  ScenarioResult result = rec.Finish({}, "");
  ASSERT_EQ(result.checks.size(), 1u);
  EXPECT_TRUE(result.checks[0].ok);
  EXPECT_EQ(result.checks[0].observed, "EBADF");
  EXPECT_EQ(result.outcome, Outcome::kReproduced);
  ASSERT_EQ(result.steps.size(), 1u);
  EXPECT_NE(result.steps[0].text.find("= -1 EBADF (Bad file descriptor)"), std::string::npos);
}

TEST(Recorder, AMismatchIsNotReproduced) {
  Recorder rec("t");
  int fds[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
  CallResult r = rec.Call("send", [&] { return send(fds[0], "x", 1, MSG_NOSIGNAL); });
  rec.CheckErrno("send", Phase::kWrite, EPIPE, r);
  close(fds[0]);
  close(fds[1]);
  ScenarioResult result = rec.Finish({}, "");
  EXPECT_EQ(result.outcome, Outcome::kNotReproduced);
  EXPECT_EQ(result.checks[0].observed, "returned 1");
  EXPECT_NE(result.reason.find("expected EPIPE"), std::string::npos);
}

TEST(Recorder, SkipAndFailWinOverChecks) {
  Recorder skipped("s");
  skipped.Skip("no root");
  EXPECT_TRUE(skipped.stopped());
  EXPECT_EQ(skipped.Finish({}, "").outcome, Outcome::kSkipped);
  Recorder failed("f");
  failed.Fail("setup");
  failed.Skip("ignored after Fail");
  ScenarioResult r = failed.Finish({}, "");
  EXPECT_EQ(r.outcome, Outcome::kError);
  EXPECT_EQ(r.reason, "setup");
  Recorder empty("e");
  EXPECT_EQ(empty.Finish({}, "").outcome, Outcome::kError);  // no check: never "reproduced"
}

}  // namespace
}  // namespace socklab::repro

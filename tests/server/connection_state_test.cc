#include "server/connection_state.h"

#include "gtest/gtest.h"

namespace socklab::server {
namespace {

using Phase = ConnectionState::Phase;
using Receive = ConnectionState::Receive;
using HalfClose = ConnectionState::HalfClose;

ConnectionState Opened() {
  ConnectionState state;
  state.Open();
  return state;
}

TEST(ConnectionStateTest, StartsFreeAndOpensReading) {
  ConnectionState state;
  EXPECT_EQ(state.phase(), Phase::kFree);
  EXPECT_FALSE(state.in_use());
  EXPECT_FALSE(state.reads_on());
  state.Open();
  EXPECT_EQ(state.phase(), Phase::kOpen);
  EXPECT_TRUE(state.in_use());
  EXPECT_TRUE(state.live());
  EXPECT_FALSE(state.closing());
  EXPECT_TRUE(state.reads_on());
  EXPECT_TRUE(state.owns_fd());
  EXPECT_EQ(state.in_flight(), 0);
}

// The peer's FIN: no more reads, the echo of what was read goes out, then the close; the slot is
// freed only once the close and every operation completed.
TEST(ConnectionStateTest, EofFinishesThenClosesThenFreesWhenNothingIsInFlight) {
  ConnectionState state = Opened();
  state.StartReceive();
  state.StartSend();
  EXPECT_EQ(state.in_flight(), 2);
  state.ReceiveEnded();  // the EOF completion (more == false)
  EXPECT_TRUE(state.EndReads());
  EXPECT_EQ(state.phase(), Phase::kFinishing);
  EXPECT_FALSE(state.reads_on());
  EXPECT_TRUE(state.live());
  EXPECT_FALSE(state.EndReads());  // a close-after afterwards changes nothing
  state.SendEnded();
  state.SubmitClose();
  EXPECT_EQ(state.phase(), Phase::kClosing);
  EXPECT_TRUE(state.closing());
  EXPECT_FALSE(state.owns_fd());
  EXPECT_EQ(state.in_flight(), 1);  // the Close
  EXPECT_FALSE(state.done());
  state.CloseCompleted();
  EXPECT_EQ(state.phase(), Phase::kClosed);
  EXPECT_TRUE(state.done());
  state.Free();
  EXPECT_EQ(state.phase(), Phase::kFree);
}

// A close while the receive and a send are in flight (a timeout, the drain deadline): the loop
// cancels them, and the slot stays taken until their completions are in too.
TEST(ConnectionStateTest, ClosedIsNotDoneWhileAnOperationIsStillInFlight) {
  ConnectionState state = Opened();
  state.StartReceive();
  state.StartSend();
  state.SubmitClose();
  EXPECT_EQ(state.in_flight(), 3);
  EXPECT_FALSE(state.EndReads());  // an EOF arriving meanwhile
  EXPECT_EQ(state.phase(), Phase::kClosing);
  state.ReceiveEnded();
  state.CloseCompleted();
  EXPECT_FALSE(state.done());
  state.SendEnded();
  EXPECT_TRUE(state.done());
}

TEST(ConnectionStateTest, LingerKeepsTheFdUntilTheCloseIsSubmitted) {
  ConnectionState state = Opened();
  state.StartReceive();
  state.BeginLinger();
  EXPECT_EQ(state.phase(), Phase::kLingering);
  EXPECT_TRUE(state.closing());
  EXPECT_TRUE(state.owns_fd());
  EXPECT_FALSE(state.live());
  EXPECT_FALSE(state.reads_on());
  EXPECT_TRUE(state.CancelReceive());
  EXPECT_FALSE(state.EndReads());
  state.SubmitClose();
  EXPECT_FALSE(state.owns_fd());
  state.ReceiveEnded();
  state.CloseCompleted();
  EXPECT_TRUE(state.done());
}

TEST(ConnectionStateTest, AReceiveIsCancelledOnceAndMayBeArmedAgainAfterItEnds) {
  ConnectionState state = Opened();
  EXPECT_FALSE(state.CancelReceive());  // nothing to cancel
  state.StartReceive();
  EXPECT_EQ(state.receive(), Receive::kArmed);
  EXPECT_TRUE(state.CancelReceive());
  EXPECT_EQ(state.receive(), Receive::kCancelling);
  EXPECT_FALSE(state.CancelReceive());  // its cancel is on its way already
  EXPECT_EQ(state.in_flight(), 1);
  state.ReceiveEnded();  // -ECANCELED, more == false
  EXPECT_EQ(state.receive(), Receive::kIdle);
  state.StartReceive();  // backpressure released
  EXPECT_EQ(state.receive(), Receive::kArmed);
}

// stop-reading-after, then close-after: the stream ends, and the stop stays on record (the fault
// fired once).
TEST(ConnectionStateTest, StopReadingStaysOnRecordWhenTheStreamEnds) {
  ConnectionState state = Opened();
  state.StopReading();
  EXPECT_TRUE(state.read_stopped());
  EXPECT_FALSE(state.reads_on());
  EXPECT_TRUE(state.live());
  EXPECT_TRUE(state.EndReads());
  EXPECT_EQ(state.phase(), Phase::kFinishing);
  EXPECT_TRUE(state.read_stopped());
}

// half-close-after: the write side shuts down once the echo so far is out, while reading goes on.
TEST(ConnectionStateTest, HalfCloseIsAskedForThenDoneWhileReadingGoesOn) {
  ConnectionState state = Opened();
  state.RequestHalfClose();
  EXPECT_EQ(state.half_close(), HalfClose::kPending);
  EXPECT_TRUE(state.reads_on());
  state.ShutWrite();
  EXPECT_EQ(state.half_close(), HalfClose::kDone);
  EXPECT_TRUE(state.reads_on());
  state.StartReceive();
  EXPECT_EQ(state.phase(), Phase::kOpen);
}

TEST(ConnectionStateTest, FreeingAndOpeningStartFromScratch) {
  ConnectionState state = Opened();
  state.StopReading();
  state.RequestHalfClose();
  state.SubmitClose();
  state.CloseCompleted();
  state.Free();
  state.Open();
  EXPECT_FALSE(state.read_stopped());
  EXPECT_EQ(state.half_close(), HalfClose::kNone);
  EXPECT_TRUE(state.reads_on());
}

// Transitions the worker never makes are bugs: each aborts rather than write down a state that
// cannot be.
using ConnectionStateDeathTest = ::testing::Test;

TEST_F(ConnectionStateDeathTest, ImpossibleTransitionsAbort) {
  EXPECT_DEATH(
      {
        ConnectionState state = Opened();
        state.SubmitClose();
        state.BeginLinger();
      },
      "lingering");
  EXPECT_DEATH(
      {
        ConnectionState state = Opened();
        state.SubmitClose();
        state.SubmitClose();
      },
      "closing a connection twice");
  EXPECT_DEATH(
      {
        ConnectionState state = Opened();
        state.ShutWrite();
      },
      "SHUT_WR not asked for");
  EXPECT_DEATH(
      {
        ConnectionState state = Opened();
        state.StartReceive();
        state.StartReceive();
      },
      "a second receive");
  EXPECT_DEATH(
      {
        ConnectionState state = Opened();
        state.StopReading();
        state.StartReceive();
      },
      "not wanted");
  EXPECT_DEATH(
      {
        ConnectionState state = Opened();
        state.StartReceive();
        state.SubmitClose();
        state.CloseCompleted();
        state.Free();
      },
      "freeing a busy connection");
  EXPECT_DEATH(
      {
        ConnectionState state = Opened();
        state.CloseCompleted();
      },
      "never submitted");
  EXPECT_DEATH(
      {
        ConnectionState state = Opened();
        state.Open();
      },
      "in use");
}

}  // namespace
}  // namespace socklab::server

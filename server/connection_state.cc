#include "server/connection_state.h"

#include "core/base/check.h"

namespace socklab::server {

void ConnectionState::Open() {
  SOCKLAB_CHECK(phase_ == Phase::kFree, "opening a slot in use");
  *this = ConnectionState();
  phase_ = Phase::kOpen;
}

bool ConnectionState::EndReads() {
  if (phase_ != Phase::kOpen) {
    return false;
  }
  phase_ = Phase::kFinishing;
  return true;
}

void ConnectionState::StopReading() {
  SOCKLAB_CHECK(live() && !read_stopped_, "stop-reading on a closing connection, or twice");
  read_stopped_ = true;
}

void ConnectionState::RequestHalfClose() {
  SOCKLAB_CHECK(live() && half_close_ == HalfClose::kNone,
                "half-close on a closing connection, or twice");
  half_close_ = HalfClose::kPending;
}

void ConnectionState::ShutWrite() {
  SOCKLAB_CHECK(live() && half_close_ == HalfClose::kPending, "SHUT_WR not asked for");
  half_close_ = HalfClose::kDone;
}

void ConnectionState::BeginLinger() {
  SOCKLAB_CHECK(live(), "lingering on a connection that is not open");
  phase_ = Phase::kLingering;
}

void ConnectionState::SubmitClose() {
  SOCKLAB_CHECK(owns_fd(), "closing a connection twice");
  phase_ = Phase::kClosing;
}

void ConnectionState::CloseCompleted() {
  SOCKLAB_CHECK(phase_ == Phase::kClosing, "a close completed that was never submitted");
  phase_ = Phase::kClosed;
}

void ConnectionState::Free() {
  SOCKLAB_CHECK(done(), "freeing a busy connection");
  *this = ConnectionState();
}

void ConnectionState::StartReceive() {
  SOCKLAB_CHECK(reads_on() && receive_ == Receive::kIdle, "a second receive, or one not wanted");
  receive_ = Receive::kArmed;
}

bool ConnectionState::CancelReceive() {
  if (receive_ != Receive::kArmed) {
    return false;
  }
  receive_ = Receive::kCancelling;
  return true;
}

void ConnectionState::ReceiveEnded() {
  SOCKLAB_CHECK(receive_ != Receive::kIdle, "a receive ended that was never armed");
  receive_ = Receive::kIdle;
}

void ConnectionState::StartSend() {
  SOCKLAB_CHECK(live() && !sending_, "a second send, or one on a closing connection");
  sending_ = true;
}

void ConnectionState::SendEnded() {
  SOCKLAB_CHECK(sending_, "a send ended that was never submitted");
  sending_ = false;
}

}  // namespace socklab::server

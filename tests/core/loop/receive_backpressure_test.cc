// Backpressure through CancelReceive/Receive while the peer keeps sending: the receiver stops
// whenever it holds more than a cap and resumes once it has worked its bytes down, as the echo
// server does for a peer that does not read its echo. The bytes the peer sent must wait in the
// kernel's socket buffer, not in the loop: what the loop holds is measured against the kernel
// (the peer's own count of bytes sent, minus its SIOCOUTQ, minus the receiving socket's
// SIOCINQ, minus what the handler got), and every byte must arrive once and in order.
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <thread>

#include "core/base/clock.h"
#include "core/base/unique_fd.h"
#include "core/loop/event_loop.h"
#include "core/loop/uring_loop.h"
#include "core/net/address.h"
#include "core/net/socket.h"
#include "gtest/gtest.h"
#include "tests/core/loop/loop_test_util.h"

namespace socklab::loop {
namespace {

std::string Pattern(size_t size) {
  std::string s(size, '\0');
  for (size_t i = 0; i < size; ++i) {
    s[i] = static_cast<char>((i * 7 + i / 1000 + i / 65521) & 0xff);
  }
  return s;
}

int QueueBytes(int fd, unsigned long request) {
  int bytes = 0;
  return ioctl(fd, request, &bytes) == 0 ? bytes : -1;
}

// Sends `payload` in `chunk`-sized blocking sends on its own thread, then shuts down its side;
// counts what send() accepted.
class CountingWriter {
 public:
  CountingWriter(int fd, const std::string& payload, size_t chunk)
      : thread_([this, fd, &payload, chunk] {
          size_t off = 0;
          while (off < payload.size()) {
            size_t n = std::min(chunk, payload.size() - off);
            ssize_t sent = ::send(fd, payload.data() + off, n, MSG_NOSIGNAL);
            if (sent <= 0) {
              return;
            }
            off += static_cast<size_t>(sent);
            sent_.store(off);
          }
          ::shutdown(fd, SHUT_WR);
        }) {}
  ~CountingWriter() { thread_.join(); }
  size_t sent() const { return sent_.load(); }

 private:
  std::atomic<size_t> sent_{0};
  std::thread thread_;
};

// The receiving end: checks every byte against the payload, stops receiving above `cap`.
class PausingReader : public CompletionHandler {
 public:
  PausingReader(const std::string& payload, size_t cap) : payload_(payload), cap_(cap) {}

  void OnCompletion(const Completion& c) override {
    if (c.op == Op::kAccept) {
      if (c.res >= 0 && !server_.valid()) {
        server_.Reset(c.res);
      }
      return;
    }
    if (c.op != Op::kReceive) {
      return;
    }
    if (c.res > 0) {
      size_t n = static_cast<size_t>(c.res);
      if (!armed_) {
        ++after_cancel_;  // delivered between CancelReceive and the next Receive
      }
      if (got_ + n > payload_.size() || std::memcmp(payload_.data() + got_, c.data, n) != 0) {
        ++mismatches_;
      }
      got_ += n;
      held_ += n;
      if (held_ > cap_ && armed_) {
        armed_ = false;
        ++pauses_;
        loop_->CancelReceive(server_.get());
      }
    } else if (c.res == -ECANCELED) {
      ++cancels_;
    } else if (c.res == 0) {
      eof_ = true;
    } else {
      error_ = c.res;
    }
  }

  void set_loop(EventLoop* loop) { loop_ = loop; }
  // The slow peer of the echo takes `bytes` of what the reader holds; resumes the receive once
  // it holds at most half the cap.
  void Drain(size_t bytes) {
    held_ -= std::min(held_, bytes);
    if (!armed_ && !eof_ && held_ <= cap_ / 2) {
      armed_ = true;
      loop_->Receive(server_.get(), 2);
    }
  }
  void Start() {
    armed_ = true;
    loop_->Receive(server_.get(), 2);
  }

  const UniqueFd& server() const { return server_; }
  bool armed() const { return armed_; }
  size_t got() const { return got_; }
  bool eof() const { return eof_; }
  int error() const { return error_; }
  int pauses() const { return pauses_; }
  int cancels() const { return cancels_; }
  int mismatches() const { return mismatches_; }
  int after_cancel() const { return after_cancel_; }

 private:
  const std::string& payload_;
  const size_t cap_;
  EventLoop* loop_ = nullptr;
  UniqueFd server_;
  bool armed_ = false;
  size_t got_ = 0;
  size_t held_ = 0;
  bool eof_ = false;
  int error_ = 0;
  int pauses_ = 0;
  int cancels_ = 0;
  int mismatches_ = 0;
  int after_cancel_ = 0;
};

class ReceiveBackpressureTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override { SOCKLAB_SKIP_IF_UNAVAILABLE(GetParam()); }
};

TEST_P(ReceiveBackpressureTest, PausedReceiveLeavesTheBytesInTheSocket) {
  constexpr size_t kCap = 64 * 1024;
  constexpr size_t kDrainPerTurn = 4 * 1024;
  constexpr size_t kSendChunk = 16 * 1024;
  const LoopOptions options;  // the defaults, as the server runs: 1024 buffers of 16 KiB
  const std::string payload = Pattern(8 << 20);
  // Beyond the reader's own bytes, a paused receive may leave what the io_uring receive in
  // flight took before its cancel landed. While the reader is behind that is one buffer; once,
  // when the reader caught up with a writer that then floods, it can be one multishot pass
  // (29 buffers measured on 6.18). Never a multiple of the cap, never growing with the pauses.
  const size_t kOneBuffer = options.receive_buffer_size;
  const size_t kOnePass = 64 * size_t{options.receive_buffer_size};

  PausingReader reader(payload, kCap);
  absl::StatusOr<std::unique_ptr<EventLoop>> made = EventLoop::Create(GetParam(), &reader, options);
  ASSERT_TRUE(made.ok()) << made.status();
  EventLoop& loop = **made;
  reader.set_loop(&loop);
  ListenOptions listen_options;
  listen_options.address = SocketAddress::Loopback(AF_INET, 0);
  absl::StatusOr<UniqueFd> listener = ListenTcp(listen_options);
  ASSERT_TRUE(listener.ok()) << listener.status();
  absl::StatusOr<UniqueFd> client = ConnectTcp(*LocalAddressOf(listener->get()));
  ASSERT_TRUE(client.ok()) << client.status();
  loop.Accept(listener->get(), 1);
  ASSERT_TRUE(testing::RunUntil(loop, [&] { return reader.server().valid(); }));
  loop.CancelAccept(listener->get());

  size_t loop_held_max = 0;
  int samples = 0;
  int pauses_leaving_more_than_a_buffer = 0;
  int last_counted_pause = 0;
  int64_t deadline = MonotonicNanos() + testing::kTestTimeoutNs;
  {
    CountingWriter writer(client->get(), payload, kSendChunk);
    reader.Start();
    while (!reader.eof() && reader.error() == 0 && MonotonicNanos() < deadline) {
      ASSERT_TRUE(loop.RunOnce(1'000'000).ok());
      if (!reader.armed()) {
        // Paused: the bytes the peer got rid of are in its send queue, in our socket's receive
        // queue, with the reader, or held by the loop. Only samples during which the writer
        // made no progress count (a send() in progress is then not yet in `sent`, which can
        // only make the loop's share look smaller, by at most one chunk).
        size_t sent_before = writer.sent();
        int inq = QueueBytes(reader.server().get(), SIOCINQ);
        int outq = QueueBytes(client->get(), SIOCOUTQ);
        size_t sent_after = writer.sent();
        if (inq >= 0 && outq >= 0 && sent_before == sent_after) {
          size_t accounted = reader.got() + static_cast<size_t>(inq) + static_cast<size_t>(outq);
          size_t held = sent_after > accounted ? sent_after - accounted : 0;
          loop_held_max = std::max(loop_held_max, held);
          ++samples;
          if (held > kOneBuffer + kSendChunk && last_counted_pause != reader.pauses()) {
            last_counted_pause = reader.pauses();
            ++pauses_leaving_more_than_a_buffer;
          }
        }
      }
      reader.Drain(kDrainPerTurn);
    }
  }
  EXPECT_TRUE(reader.eof()) << "got " << reader.got() << " of " << payload.size();
  EXPECT_EQ(reader.error(), 0);
  EXPECT_EQ(reader.got(), payload.size());
  EXPECT_EQ(reader.mismatches(), 0) << "bytes lost, duplicated or reordered";
  EXPECT_EQ(reader.after_cancel(), 0);
  EXPECT_EQ(reader.cancels(), reader.pauses());
  // The peer outran the reader many times, or the test proves nothing.
  EXPECT_GT(reader.pauses(), 20);
  EXPECT_GT(samples, 20);
  EXPECT_LE(loop_held_max, kOnePass + kSendChunk)
      << "the loop held bytes the kernel should have kept (" << reader.pauses() << " pauses)";
  EXPECT_LE(pauses_leaving_more_than_a_buffer, reader.pauses() / 4);
  if (GetParam() == Backend::kIoUring) {
    const UringLoop::Counters& counters = static_cast<UringLoop&>(loop).counters();
    EXPECT_LE(counters.stash_peak_bytes, kOnePass);
    RecordProperty("stash_peak_bytes", std::to_string(counters.stash_peak_bytes));
    RecordProperty("stashed_bytes", std::to_string(counters.stashed_bytes));
  }
  RecordProperty("loop_held_max_bytes", std::to_string(loop_held_max));
  RecordProperty("pauses", std::to_string(reader.pauses()));
  RecordProperty("pauses_leaving_more_than_a_buffer",
                 std::to_string(pauses_leaving_more_than_a_buffer));
}

INSTANTIATE_TEST_SUITE_P(Backends, ReceiveBackpressureTest,
                         ::testing::Values(Backend::kEpoll, Backend::kIoUring),
                         testing::BackendParamName);

}  // namespace
}  // namespace socklab::loop

// BufferRing against a real io_uring, without sockets: reads from a pipe select its buffers the
// way the loop's receives do (IOSQE_BUFFER_SELECT), so the kernel says which buffer it filled.
#include "core/loop/buffer_ring.h"

#include <liburing.h>
#include <unistd.h>

#include <cerrno>
#include <set>
#include <string>
#include <vector>

#include "core/base/unique_fd.h"
#include "gtest/gtest.h"
#include "tests/core/loop/loop_test_util.h"

namespace socklab::loop {
namespace {

struct Cqe {
  int res;
  int id;  // the buffer it took, -1 for none
};

class BufferRingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SOCKLAB_SKIP_IF_UNAVAILABLE(Backend::kIoUring);
    ASSERT_EQ(io_uring_queue_init(64, &ring_, 0), 0);
    ring_ready_ = true;
    int fds[2];
    ASSERT_EQ(::pipe(fds), 0);
    read_end_.Reset(fds[0]);
    write_end_.Reset(fds[1]);
  }
  void TearDown() override {
    if (ring_ready_) {
      io_uring_queue_exit(&ring_);
    }
  }

  void Write(const std::string& bytes) {
    ASSERT_EQ(::write(write_end_.get(), bytes.data(), bytes.size()),
              static_cast<ssize_t>(bytes.size()));
  }

  // One read of the pipe into a buffer the kernel selects from `group`, after topping up the
  // kernel's window of `buffers` as the loop does before each submission.
  Cqe ReadSelecting(uint16_t group, BufferRing* buffers) {
    if (buffers != nullptr) {
      buffers->Refill();
    }
    io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
    // Length 0 with a selected buffer: up to the buffer's size.
    io_uring_prep_read(sqe, read_end_.get(), nullptr, 0, 0);
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = group;
    io_uring_cqe* cqe = nullptr;
    int ret = io_uring_submit_and_wait(&ring_, 1);
    EXPECT_EQ(ret, 1);
    EXPECT_EQ(io_uring_wait_cqe(&ring_, &cqe), 0);
    Cqe copy{cqe->res, buffers != nullptr ? buffers->Take(cqe->flags) : -1};
    io_uring_cqe_seen(&ring_, cqe);
    return copy;
  }

  // `n` reads of 4 bytes submitted at once, after one refill: the kernel runs them in order.
  std::vector<Cqe> ReadBatch(uint16_t group, BufferRing* buffers, unsigned n) {
    buffers->Refill();
    for (unsigned i = 0; i < n; ++i) {
      Write("abcd");
      io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
      io_uring_prep_read(sqe, read_end_.get(), nullptr, 4, 0);
      sqe->flags |= IOSQE_BUFFER_SELECT;
      sqe->buf_group = group;
    }
    EXPECT_EQ(io_uring_submit_and_wait(&ring_, n), static_cast<int>(n));
    std::vector<Cqe> done;
    for (unsigned i = 0; i < n; ++i) {
      io_uring_cqe* cqe = nullptr;
      EXPECT_EQ(io_uring_wait_cqe(&ring_, &cqe), 0);
      done.push_back(Cqe{cqe->res, buffers->Take(cqe->flags)});
      io_uring_cqe_seen(&ring_, cqe);
    }
    return done;
  }

  // The bytes a completion put into its buffer.
  static std::string BytesOf(const BufferRing& buffers, const Cqe& cqe) {
    if (cqe.id < 0 || cqe.res <= 0) {
      return "";
    }
    return std::string(reinterpret_cast<const char*>(buffers.data(cqe.id)),
                       static_cast<size_t>(cqe.res));
  }

  io_uring ring_{};
  bool ring_ready_ = false;
  UniqueFd read_end_;
  UniqueFd write_end_;
};

TEST_F(BufferRingTest, CompletionWithoutABufferNamesNone) {
  auto buffers = BufferRing::Create(&ring_, 0, 2, 8);
  ASSERT_TRUE(buffers.ok()) << buffers.status();
  EXPECT_EQ((*buffers)->Take(0), -1);
  EXPECT_EQ((*buffers)->Take(IORING_CQE_F_MORE), -1);
}

TEST_F(BufferRingTest, EmptyRingIsAUsageError) {
  EXPECT_FALSE(BufferRing::Create(&ring_, 0, 0, 16).ok());
  EXPECT_FALSE(BufferRing::Create(&ring_, 0, 16, 0).ok());
}

TEST_F(BufferRingTest, CountIsRoundedUpToAPowerOfTwoAndCapped) {
  for (auto [asked, got] : {std::pair{1u, 1u}, {3u, 4u}, {1024u, 1024u}, {40000u, 32768u}}) {
    auto buffers = BufferRing::Create(&ring_, 0, asked, 1);
    ASSERT_TRUE(buffers.ok()) << buffers.status();
    EXPECT_EQ((*buffers)->count(), got) << "asked for " << asked;
    EXPECT_EQ((*buffers)->buffer_size(), 1u);
  }
}

TEST_F(BufferRingTest, ReadsFillDistinctBuffersUntilTheRingRunsDry) {
  auto buffers = BufferRing::Create(&ring_, 1, 2, 8);
  ASSERT_TRUE(buffers.ok()) << buffers.status();
  Write("abcdefgh12345678xyz");
  Cqe first = ReadSelecting(1, buffers->get());
  Cqe second = ReadSelecting(1, buffers->get());
  ASSERT_EQ(first.res, 8);
  ASSERT_EQ(second.res, 8);
  EXPECT_EQ(BytesOf(**buffers, first), "abcdefgh");
  EXPECT_EQ(BytesOf(**buffers, second), "12345678");
  EXPECT_NE(first.id, second.id);
  // Both buffers are ours now: the kernel has none to give, though the pipe has bytes.
  Cqe dry = ReadSelecting(1, buffers->get());
  EXPECT_EQ(dry.res, -ENOBUFS);
  EXPECT_EQ(dry.id, -1);
}

TEST_F(BufferRingTest, AReturnedBufferIsFilledAgain) {
  auto buffers = BufferRing::Create(&ring_, 1, 2, 8);
  ASSERT_TRUE(buffers.ok()) << buffers.status();
  Write("abcdefgh12345678xyz");
  Cqe first = ReadSelecting(1, buffers->get());
  Cqe second = ReadSelecting(1, buffers->get());
  ASSERT_GE(first.id, 0);
  ASSERT_GE(second.id, 0);
  (*buffers)->Return(first.id);
  Cqe third = ReadSelecting(1, buffers->get());
  ASSERT_EQ(third.res, 3);
  EXPECT_EQ(third.id, first.id);
  EXPECT_EQ(BytesOf(**buffers, third), "xyz");
  EXPECT_EQ(BytesOf(**buffers, second), "12345678");  // a buffer not returned is left alone
}

TEST_F(BufferRingTest, EveryBufferComesBackAroundTheRing) {
  // More reads than buffers, each buffer returned after its read: the kernel keeps finding one.
  auto buffers = BufferRing::Create(&ring_, 1, 4, 4);
  ASSERT_TRUE(buffers.ok()) << buffers.status();
  std::string seen;
  for (int i = 0; i < 12; ++i) {
    Write(std::to_string(1000 + i));
    Cqe cqe = ReadSelecting(1, buffers->get());
    ASSERT_EQ(cqe.res, 4) << "read " << i;
    seen += BytesOf(**buffers, cqe);
    (*buffers)->Return(cqe.id);
  }
  EXPECT_EQ(seen, "100010011002100310041005100610071008100910101011");
}

TEST_F(BufferRingTest, ReadsThatReturnTheirBufferCycleThroughTheWindowOnly) {
  // A ring of 1024 used to hand out all 1024 buffers in turn, each one cold by the time it came
  // back. Read, return, read again: the kernel only ever picks among the window's few.
  auto buffers = BufferRing::Create(&ring_, 1, 1024, 4096);
  ASSERT_TRUE(buffers.ok()) << buffers.status();
  std::set<int> picked;
  for (int i = 0; i < 200; ++i) {
    Write(std::to_string(1000 + i));
    Cqe cqe = ReadSelecting(1, buffers->get());
    ASSERT_EQ(cqe.res, 4) << "read " << i;
    picked.insert(cqe.id);
    (*buffers)->Return(cqe.id);
  }
  EXPECT_LE(picked.size(), (*buffers)->window());
  EXPECT_LT((*buffers)->window(), 1024u);
}

TEST_F(BufferRingTest, ARingFoundDryGrowsItsWindowUpToEveryBuffer) {
  auto buffers = BufferRing::Create(&ring_, 1, 32, 16384);
  ASSERT_TRUE(buffers.ok()) << buffers.status();
  const unsigned window = (*buffers)->window();
  ASSERT_LT(window, 32u);
  // One more read between two refills than the kernel holds buffers: the last finds none.
  std::vector<Cqe> first = ReadBatch(1, buffers->get(), window + 1);
  std::set<int> held;
  for (unsigned i = 0; i < window; ++i) {
    ASSERT_EQ(first[i].res, 4) << "read " << i;
    held.insert(first[i].id);
  }
  EXPECT_EQ(first[window].res, -ENOBUFS);
  EXPECT_EQ(first[window].id, -1);
  // Told so, the ring posts twice as many at its next refill, none of them one still held.
  (*buffers)->RanDry();
  std::vector<Cqe> second = ReadBatch(1, buffers->get(), 2 * window);
  EXPECT_EQ((*buffers)->window(), 2 * window);
  for (const Cqe& cqe : second) {
    ASSERT_EQ(cqe.res, 4);
    EXPECT_TRUE(held.insert(cqe.id).second) << "buffer " << cqe.id << " handed out twice";
  }
  // Many dry receives in one pass widen it by as many, up to every buffer and no further.
  for (int i = 0; i < 40; ++i) {
    (*buffers)->RanDry();
  }
  (*buffers)->Refill();
  EXPECT_EQ((*buffers)->window(), 32u) << "no window wider than the ring";
}

TEST_F(BufferRingTest, DestructorUnregistersTheGroup) {
  {
    auto buffers = BufferRing::Create(&ring_, 3, 2, 8);
    ASSERT_TRUE(buffers.ok()) << buffers.status();
  }
  Write("abc");
  EXPECT_EQ(ReadSelecting(3, nullptr).res, -ENOBUFS);  // the kernel has no group 3 any more
  // ... so the group can be registered again (a group in use is refused with EEXIST).
  auto again = BufferRing::Create(&ring_, 3, 2, 8);
  ASSERT_TRUE(again.ok()) << again.status();
  Cqe cqe = ReadSelecting(3, again->get());
  EXPECT_EQ(BytesOf(**again, cqe), "abc");
}

TEST_F(BufferRingTest, ARefusedRegistrationLeavesTheGroupToItsOwner) {
  auto owner = BufferRing::Create(&ring_, 2, 2, 8);
  ASSERT_TRUE(owner.ok()) << owner.status();
  auto second = BufferRing::Create(&ring_, 2, 2, 8);
  EXPECT_FALSE(second.ok());  // the group is taken; destroying what was built must not free it
  Write("abc");
  Cqe cqe = ReadSelecting(2, owner->get());
  EXPECT_EQ(BytesOf(**owner, cqe), "abc");
}

}  // namespace
}  // namespace socklab::loop

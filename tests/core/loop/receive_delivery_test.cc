// ReceiveDelivery without sockets: completions fed in as the kernel would complete them, and what
// the flush hands to the user read back in order.
#include "core/loop/receive_delivery.h"

#include <cerrno>
#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace socklab::loop {
namespace {

// A Release with its bytes copied out (they are valid only inside the callback).
struct Released {
  Token token;
  int res;
  bool more;
  std::string bytes;

  bool operator==(const Released& o) const {
    return token == o.token && res == o.res && more == o.more && bytes == o.bytes;
  }
};

void PrintTo(const Released& r, std::ostream* os) {
  *os << "{token " << r.token << ", res " << r.res << ", more " << r.more << ", \"" << r.bytes
      << "\"}";
}

Released Cancelled(Token token) { return {token, -ECANCELED, false, ""}; }
Released Bytes(Token token, std::string bytes) {
  return {token, static_cast<int>(bytes.size()), true, std::move(bytes)};
}
Released Ended(Token token, int res) { return {token, res, false, ""}; }

void Keep(ReceiveDelivery& d, const std::string& bytes) {
  d.Keep(reinterpret_cast<const std::byte*>(bytes.data()), bytes.size());
}

// Runs one Flush, recording what it releases; `on_release` plays the handler (it may call back).
struct FlushResult {
  std::vector<Released> released;
  bool wants_kernel_receive;
};
FlushResult Flush(ReceiveDelivery& d, size_t max_chunk,
                  const std::function<void(const ReceiveDelivery::Release&)>& on_release = {}) {
  FlushResult result{{}, false};
  result.wants_kernel_receive = d.Flush(max_chunk, [&](const ReceiveDelivery::Release& r) {
    Released copy{r.token, r.res, r.more, ""};
    if (r.res > 0) {
      copy.bytes.assign(reinterpret_cast<const char*>(r.data), static_cast<size_t>(r.res));
    }
    result.released.push_back(std::move(copy));
    if (on_release) {
      on_release(r);
    }
  });
  return result;
}

// The user's receive 1 cancelled while the kernel's receive took `bytes`, then receive 2 armed.
ReceiveDelivery CancelledWhileBytesArrived(const std::string& bytes) {
  ReceiveDelivery d;
  d.Arm(1);
  EXPECT_TRUE(d.Cancel());
  EXPECT_FALSE(d.DeliversNow());
  Keep(d, bytes);
  return d;
}

TEST(ReceiveDeliveryTest, ArmedWithNothingKeptGoesStraightToTheHandler) {
  ReceiveDelivery d;
  EXPECT_FALSE(d.DeliversNow());  // no receive armed yet
  EXPECT_FALSE(d.Arm(7));         // nothing to flush first
  EXPECT_TRUE(d.DeliversNow());
  EXPECT_EQ(d.token(), 7u);
  FlushResult flushed = Flush(d, 16);
  EXPECT_TRUE(flushed.released.empty());
  EXPECT_TRUE(flushed.wants_kernel_receive);
}

TEST(ReceiveDeliveryTest, EndWhileDeliveringNowDisarmsAndNamesTheToken) {
  ReceiveDelivery d;
  d.Arm(7);
  EXPECT_EQ(d.End(), 7u);
  EXPECT_FALSE(d.armed());
  EXPECT_FALSE(d.DeliversNow());
  EXPECT_FALSE(Flush(d, 16).wants_kernel_receive);
}

TEST(ReceiveDeliveryTest, EachCancelledReceiveIsOwedOneCancelledCompletion) {
  ReceiveDelivery d;
  d.Arm(1);
  EXPECT_TRUE(d.Cancel());
  EXPECT_FALSE(d.Cancel());  // nothing armed: nothing more owed
  d.Arm(2);
  EXPECT_TRUE(d.Cancel());
  FlushResult flushed = Flush(d, 16);
  EXPECT_EQ(flushed.released, (std::vector<Released>{Cancelled(1), Cancelled(2)}));
  EXPECT_FALSE(flushed.wants_kernel_receive);  // the user has no receive armed
  EXPECT_TRUE(Flush(d, 16).released.empty());  // delivered once
}

TEST(ReceiveDeliveryTest, BytesTakenAfterCancelFollowTheCancelInOrderAndInChunks) {
  ReceiveDelivery d = CancelledWhileBytesArrived("abc");
  Keep(d, "defgh");
  EXPECT_EQ(d.kept_bytes(), 8u);
  EXPECT_TRUE(d.Arm(2));  // kept bytes go first
  EXPECT_FALSE(d.DeliversNow());
  FlushResult flushed = Flush(d, 3);
  EXPECT_EQ(flushed.released, (std::vector<Released>{Cancelled(1), Bytes(2, "abc"), Bytes(2, "def"),
                                                     Bytes(2, "gh")}));
  EXPECT_TRUE(flushed.wants_kernel_receive);
  EXPECT_EQ(d.kept_bytes(), 0u);
  EXPECT_TRUE(d.DeliversNow());
}

TEST(ReceiveDeliveryTest, EveryKeptByteIsReleasedOnceWithinTheChunkSize) {
  std::string sent;
  for (int i = 0; i < 1000; ++i) {
    sent.push_back(static_cast<char>('a' + i % 26));
  }
  ReceiveDelivery d;
  d.Arm(1);
  d.Cancel();
  for (size_t at = 0; at < sent.size(); at += 37) {  // as kernel completions of 37 bytes
    Keep(d, sent.substr(at, 37));
  }
  EXPECT_EQ(d.kept_bytes(), sent.size());
  d.Arm(2);
  FlushResult flushed = Flush(d, 64);
  std::string received;
  ASSERT_FALSE(flushed.released.empty());
  EXPECT_EQ(flushed.released.front(), Cancelled(1));
  for (size_t i = 1; i < flushed.released.size(); ++i) {
    const Released& r = flushed.released[i];
    EXPECT_EQ(r.token, 2u);
    EXPECT_TRUE(r.more);
    EXPECT_GT(r.res, 0);
    EXPECT_LE(r.res, 64);
    received += r.bytes;
  }
  EXPECT_EQ(received, sent);
  EXPECT_EQ(flushed.released.size(), 1 + (sent.size() + 63) / 64);
}

TEST(ReceiveDeliveryTest, EofAfterKeptBytesEndsTheReceiveAfterThem) {
  ReceiveDelivery d = CancelledWhileBytesArrived("xy");
  d.KeepEnd(0);
  EXPECT_TRUE(d.Arm(2));
  FlushResult flushed = Flush(d, 16);
  EXPECT_EQ(flushed.released, (std::vector<Released>{Cancelled(1), Bytes(2, "xy"), Ended(2, 0)}));
  EXPECT_FALSE(flushed.wants_kernel_receive);
  EXPECT_FALSE(d.armed());
  EXPECT_FALSE(d.end_kept());
}

TEST(ReceiveDeliveryTest, ErrorAfterKeptBytesEndsTheReceiveAfterThem) {
  ReceiveDelivery d = CancelledWhileBytesArrived("xyz");
  d.KeepEnd(-ECONNRESET);
  EXPECT_TRUE(d.Arm(2));
  FlushResult flushed = Flush(d, 2);
  EXPECT_EQ(flushed.released, (std::vector<Released>{Cancelled(1), Bytes(2, "xy"), Bytes(2, "z"),
                                                     Ended(2, -ECONNRESET)}));
  EXPECT_FALSE(flushed.wants_kernel_receive);
}

TEST(ReceiveDeliveryTest, KeptEndWithoutBytesWaitsForTheNextReceive) {
  ReceiveDelivery d;
  d.Arm(1);
  d.Cancel();
  d.KeepEnd(0);
  EXPECT_EQ(Flush(d, 16).released, (std::vector<Released>{Cancelled(1)}));  // none armed: kept
  EXPECT_TRUE(d.end_kept());
  EXPECT_TRUE(d.Arm(2));
  EXPECT_EQ(Flush(d, 16).released, (std::vector<Released>{Ended(2, 0)}));
}

TEST(ReceiveDeliveryTest, NothingKeptIsReleasedWhileNoReceiveIsArmed) {
  ReceiveDelivery d = CancelledWhileBytesArrived("abc");
  FlushResult flushed = Flush(d, 16);
  EXPECT_EQ(flushed.released, (std::vector<Released>{Cancelled(1)}));
  EXPECT_FALSE(flushed.wants_kernel_receive);
  EXPECT_EQ(d.kept_bytes(), 3u);
}

TEST(ReceiveDeliveryTest, CancelFromTheHandlerStopsTheChunksAndTheRestWaits) {
  ReceiveDelivery d = CancelledWhileBytesArrived("0123456789");
  d.Arm(2);
  FlushResult flushed = Flush(d, 4, [&](const ReceiveDelivery::Release& r) {
    if (r.res > 0) {
      d.Cancel();  // backpressure after the first chunk
    }
  });
  EXPECT_EQ(flushed.released, (std::vector<Released>{Cancelled(1), Bytes(2, "0123")}));
  EXPECT_FALSE(flushed.wants_kernel_receive);
  EXPECT_EQ(d.kept_bytes(), 6u);
  EXPECT_TRUE(d.Arm(3));
  flushed = Flush(d, 4);
  EXPECT_EQ(flushed.released,
            (std::vector<Released>{Cancelled(2), Bytes(3, "4567"), Bytes(3, "89")}));
  EXPECT_TRUE(flushed.wants_kernel_receive);
}

TEST(ReceiveDeliveryTest, CancelAndReArmFromTheHandlerKeepTheOrder) {
  // The handler pauses and resumes at once on the first chunk: the new -ECANCELED must come
  // before the next chunk, which goes to the new token.
  ReceiveDelivery d = CancelledWhileBytesArrived("abcdef");
  d.Arm(2);
  bool once = false;
  FlushResult flushed = Flush(d, 2, [&](const ReceiveDelivery::Release& r) {
    if (r.res > 0 && !once) {
      once = true;
      d.Cancel();
      EXPECT_TRUE(d.Arm(3));
    }
  });
  EXPECT_EQ(flushed.released, (std::vector<Released>{Cancelled(1), Bytes(2, "ab")}));
  flushed = Flush(d, 2);
  EXPECT_EQ(flushed.released,
            (std::vector<Released>{Cancelled(2), Bytes(3, "cd"), Bytes(3, "ef")}));
  EXPECT_TRUE(flushed.wants_kernel_receive);
}

TEST(ReceiveDeliveryTest, OneFlushDeliversOnlyTheCancelsOwedWhenItStarted) {
  ReceiveDelivery d;
  d.Arm(1);
  d.Cancel();
  Token next = 2;
  FlushResult flushed = Flush(d, 16, [&](const ReceiveDelivery::Release&) {
    d.Arm(next);  // a handler that re-arms and cancels on every -ECANCELED
    d.Cancel();
    ++next;
  });
  EXPECT_EQ(flushed.released, (std::vector<Released>{Cancelled(1)}));
  EXPECT_EQ(Flush(d, 16).released, (std::vector<Released>{Cancelled(2)}));
}

TEST(ReceiveDeliveryTest, AbandonDropsWhatIsKeptAndNamesTheArmedReceive) {
  ReceiveDelivery d = CancelledWhileBytesArrived("abc");
  d.KeepEnd(0);
  d.Arm(2);
  EXPECT_EQ(d.Abandon(), std::optional<Token>(2));
  EXPECT_EQ(d.kept_bytes(), 0u);
  EXPECT_FALSE(d.end_kept());
  EXPECT_FALSE(d.armed());
  // The -ECANCELED owed to receive 1 is still owed; nothing else follows.
  FlushResult flushed = Flush(d, 16);
  EXPECT_EQ(flushed.released, (std::vector<Released>{Cancelled(1)}));
  EXPECT_FALSE(flushed.wants_kernel_receive);
  EXPECT_EQ(d.Abandon(), std::nullopt);  // nothing armed
}

TEST(ReceiveDeliveryTest, AbandonFromTheHandlerEndsTheFlushAndTheChunkStaysReadable) {
  ReceiveDelivery d = CancelledWhileBytesArrived(std::string(4096, 'k'));
  d.Arm(2);
  std::optional<Token> abandoned;
  std::string read_after_abandon;
  FlushResult flushed = Flush(d, 1024, [&](const ReceiveDelivery::Release& r) {
    if (r.res > 0) {
      abandoned = d.Abandon();  // Close() from the handler, which then still reads its chunk
      read_after_abandon.assign(reinterpret_cast<const char*>(r.data), static_cast<size_t>(r.res));
    }
  });
  EXPECT_EQ(flushed.released,
            (std::vector<Released>{Cancelled(1), Bytes(2, std::string(1024, 'k'))}));
  EXPECT_EQ(read_after_abandon, std::string(1024, 'k'));
  EXPECT_EQ(abandoned, std::optional<Token>(2));
  EXPECT_FALSE(flushed.wants_kernel_receive);
  EXPECT_EQ(d.kept_bytes(), 0u);
}

TEST(ReceiveDeliveryTest, OwedCancelsMoveToTheStateThatReplacesThisOne) {
  ReceiveDelivery old_socket;
  old_socket.Arm(1);
  old_socket.Cancel();
  ReceiveDelivery new_socket;
  new_socket.Arm(5);
  new_socket.Cancel();
  new_socket.InheritOwedCancels(old_socket.TakeOwedCancels());
  EXPECT_TRUE(Flush(old_socket, 16).released.empty());
  EXPECT_EQ(Flush(new_socket, 16).released, (std::vector<Released>{Cancelled(1), Cancelled(5)}));
}

TEST(ReceiveDeliveryTest, OwedCancelHoldsBackWhatTheKernelCompletesNext) {
  // Cancel then re-arm with nothing kept: the kernel receive may be armed at once, but its first
  // bytes must wait for the -ECANCELED of the receive before.
  ReceiveDelivery d;
  d.Arm(1);
  d.Cancel();
  EXPECT_FALSE(d.Arm(2));  // nothing kept: the caller may read the socket again
  EXPECT_FALSE(d.DeliversNow());
  Keep(d, "hi");
  FlushResult flushed = Flush(d, 16);
  EXPECT_EQ(flushed.released, (std::vector<Released>{Cancelled(1), Bytes(2, "hi")}));
  EXPECT_TRUE(d.DeliversNow());
}

}  // namespace
}  // namespace socklab::loop

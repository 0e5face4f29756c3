#include "server/echo_buffer.h"

#include <algorithm>
#include <cstddef>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace socklab::server {
namespace {

TEST(ChunkPoolTest, KeepsItsWorkingSetSoASteadyLoadAllocatesNothing) {
  ChunkPool pool(/*min_free=*/4);
  // 500 connections with an echo in flight at once, then all sent: every chunk is kept...
  std::vector<Chunk*> chunks;
  for (int i = 0; i < 500; ++i) chunks.push_back(pool.Get());
  EXPECT_EQ(pool.in_use(), 500u);
  for (Chunk* c : chunks) pool.Put(c);
  EXPECT_EQ(pool.spare(), 500u);
  // ...and the next round takes the same chunks back.
  std::vector<Chunk*> again;
  for (int i = 0; i < 500; ++i) again.push_back(pool.Get());
  EXPECT_EQ(pool.spare(), 0u);
  std::sort(chunks.begin(), chunks.end());
  std::sort(again.begin(), again.end());
  EXPECT_EQ(chunks, again);
  for (Chunk* c : again) pool.Put(c);
}

TEST(ChunkPoolTest, ReturnsTheSparesBeyondTheWorkingSetWithinTwoPeriods) {
  ChunkPool pool(/*min_free=*/4);
  std::vector<Chunk*> burst;
  for (int i = 0; i < 300; ++i) burst.push_back(pool.Get());
  for (Chunk* c : burst) pool.Put(c);
  EXPECT_EQ(pool.spare(), 300u);
  // After the burst: one echo at a time for two periods.
  for (uint64_t i = 0; i < 2 * ChunkPool::kPeriodGets + 1; ++i) pool.Put(pool.Get());
  EXPECT_LE(pool.spare(), 4u);
}

TEST(EchoQueueTest, KeepsBytesInOrderAcrossChunksAndRecyclesThem) {
  ChunkPool pool;
  EchoQueue queue;
  std::string sent;
  for (int i = 0; i < 5000; ++i) {
    std::string piece = std::to_string(i) + ",";
    queue.Append(reinterpret_cast<const std::byte*>(piece.data()), piece.size(), pool);
    sent += piece;
  }
  std::string out;
  while (!queue.empty()) {
    size_t n = std::min<size_t>(queue.front_size(), 1000);
    out.append(reinterpret_cast<const char*>(queue.front_data()), n);
    queue.Consume(n, pool);
  }
  EXPECT_EQ(out, sent);
  EXPECT_EQ(pool.in_use(), 0u);
}

}  // namespace
}  // namespace socklab::server

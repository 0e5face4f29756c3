#include "client/load/message_pipeline.h"

#include "gtest/gtest.h"

namespace socklab::client {
namespace {

using Message = MessagePipeline::Message;

TEST(MessagePipeline, MessagesAreNumberedAndAnsweredOldestFirst) {
  MessagePipeline pipeline(3);
  EXPECT_TRUE(pipeline.empty());
  for (uint64_t i = 0; i < 3; ++i) {
    EXPECT_EQ(pipeline.Push().seq, i);
  }
  EXPECT_TRUE(pipeline.full());
  pipeline.PopOldest();
  EXPECT_EQ(pipeline.Oldest().seq, 1u);
  // The ring wraps: the next message takes the freed place, numbered on.
  EXPECT_EQ(pipeline.Push().seq, 3u);
  EXPECT_EQ(pipeline.At(2).seq, 3u);
  EXPECT_EQ(pipeline.size(), 3u);
  // A failed connection drops its messages; the numbering goes on until Reset.
  pipeline.Clear();
  EXPECT_TRUE(pipeline.empty());
  EXPECT_EQ(pipeline.Push().seq, 4u);
  pipeline.Reset();
  EXPECT_TRUE(pipeline.empty());
  EXPECT_EQ(pipeline.Push().seq, 0u);
}

TEST(MessagePipeline, SendCursorWalksShortSendsInOrder) {
  MessagePipeline pipeline(4);
  pipeline.Push().size = 100;
  pipeline.Push().size = 50;
  Message* next = pipeline.NextToSend();
  ASSERT_NE(next, nullptr);
  EXPECT_EQ(next->seq, 0u);
  // A short send: the rest of message 0 goes next.
  pipeline.AdvanceSend(60, 100);
  EXPECT_EQ(pipeline.send_seq(), 0u);
  EXPECT_EQ(pipeline.send_offset(), 60u);
  EXPECT_FALSE(pipeline.Written(0));
  pipeline.AdvanceSend(40, 100);
  EXPECT_TRUE(pipeline.Written(0));
  EXPECT_EQ(pipeline.NextToSend()->seq, 1u);
  EXPECT_EQ(pipeline.send_offset(), 0u);
  pipeline.AdvanceSend(50, 50);
  EXPECT_EQ(pipeline.NextToSend(), nullptr) << "everything issued is sent";
}

TEST(MessagePipeline, CursorCatchesUpWhenAnEchoOvertakesItsSendCompletion) {
  MessagePipeline pipeline(4);
  pipeline.Push().size = 10;
  pipeline.Push().size = 10;
  pipeline.AdvanceSend(4, 10);  // message 0 partly sent
  pipeline.PopOldest();         // ...and its echo already complete
  Message* next = pipeline.NextToSend();
  ASSERT_NE(next, nullptr);
  EXPECT_EQ(next->seq, 1u);
  EXPECT_EQ(pipeline.send_offset(), 0u);
}

TEST(MessagePipeline, AwaitingEchoOnceTheOldestWasSent) {
  MessagePipeline pipeline(2);
  EXPECT_FALSE(pipeline.AwaitingEcho());
  Message& m = pipeline.Push();
  EXPECT_FALSE(pipeline.AwaitingEcho());
  m.sent_ns = 5;
  EXPECT_TRUE(pipeline.AwaitingEcho());
}

TEST(MessagePipeline, TheWindowCountsFromItsFirstMessageOn) {
  MessagePipeline pipeline(4);
  EXPECT_FALSE(pipeline.WindowStarted());
  EXPECT_FALSE(pipeline.Counted(0));
  pipeline.StartWindowAt(2);
  pipeline.StartWindowAt(3);  // the first start stays
  EXPECT_FALSE(pipeline.Counted(1));
  EXPECT_TRUE(pipeline.Counted(2));
  EXPECT_TRUE(pipeline.Counted(3));
  pipeline.Reset();
  EXPECT_FALSE(pipeline.WindowStarted());
}

}  // namespace
}  // namespace socklab::client

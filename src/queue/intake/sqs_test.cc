// SqsQueue against both SQS servers of the tests, sqslite and StrictSqs (the fault matrix's and
// the soak's): send, receive, visibility, batched delete; on StrictSqs, redelivery.
#include "queue/intake/sqs.h"

#include <gtest/gtest.h>

#include <thread>

#include "testing/sqs_fixture.h"

namespace sluice::intake {
namespace {

using SqsTest = SqsFixture;

// Sends three messages, receives them, extends each one's visibility and deletes them in one
// batch.
void ExpectSendReceiveExtendAndDeleteInABatch(runtime::Runtime& rt, SqsQueue* queue) {
  std::vector<std::string> ids;
  for (const char* set : {"brand-a", "brand-b", "brand-c"}) {
    Result<std::string> id = rt.Run(
        queue->Send(std::string(R"({"set": ")") + set + R"(", "urls": ["http://x/1.jpg"]})"));
    ASSERT_TRUE(id.ok()) << id.status();
    ids.push_back(*id);
  }
  std::vector<SqsMessage> received;
  for (int poll = 0; poll < 5 && received.size() < 3; ++poll) {
    Result<std::vector<SqsMessage>> batch = rt.Run(queue->Receive());
    ASSERT_TRUE(batch.ok()) << batch.status();
    received.insert(received.end(), batch->begin(), batch->end());
  }
  ASSERT_EQ(received.size(), 3u);
  std::vector<std::string> handles;
  for (const SqsMessage& message : received) {
    EXPECT_NE(std::find(ids.begin(), ids.end(), message.id), ids.end()) << message.id;
    EXPECT_NE(message.body.find("\"urls\""), std::string::npos) << message.body;
    EXPECT_FALSE(message.receipt_handle.empty());
    EXPECT_TRUE(rt.Run(queue->ExtendVisibility(message.receipt_handle, 60)).ok());
    handles.push_back(message.receipt_handle);
  }
  Status deleted = rt.Run(queue->DeleteBatch(handles));
  EXPECT_TRUE(deleted.ok()) << deleted;
  EXPECT_EQ(rt.Run(queue->DeleteBatch(std::vector<std::string>(11, "h"))).code(),
            absl::StatusCode::kInvalidArgument)
      << "SQS takes at most 10 per batch";
}

TEST_F(SqsTest, SendReceiveExtendAndDeleteInABatch) {
  // (sqslite never shows a received message again, so redelivery is not observable here.)
  ExpectSendReceiveExtendAndDeleteInABatch(rt_, Queue("media").get());
}

TEST(StrictSqsTest, SendReceiveExtendDeleteAndRedeliver) {
  using namespace std::chrono_literals;
  testing::StrictSqs sqs(300ms, "media");
  StrictSqsClient sqs_client(sqs, 0);
  runtime::Runtime& rt = sqs_client.rt;
  SqsQueue& queue = sqs_client.queue;
  ExpectSendReceiveExtendAndDeleteInABatch(rt, &queue);
  EXPECT_EQ(sqs.messages_left(), 0);

  // A message not deleted comes back once its visibility runs out, with a new handle.
  ASSERT_TRUE(rt.Run(queue.Send(R"({"set": "s", "urls": []})")).ok());
  Result<std::vector<SqsMessage>> first = rt.Run(queue.Receive());
  ASSERT_TRUE(first.ok() && first->size() == 1u) << first.status();
  EXPECT_TRUE(rt.Run(queue.Receive())->empty()) << "invisible while in flight";
  std::this_thread::sleep_for(400ms);
  Result<std::vector<SqsMessage>> again = rt.Run(queue.Receive());
  ASSERT_TRUE(again.ok() && again->size() == 1u) << again.status();
  EXPECT_EQ(again->at(0).id, first->at(0).id);
  EXPECT_EQ(again->at(0).receive_count, 2);
  EXPECT_NE(again->at(0).receipt_handle, first->at(0).receipt_handle);
  EXPECT_EQ(sqs.redeliveries(), 1);
  EXPECT_TRUE(rt.Run(queue.Delete(first->at(0).receipt_handle)).ok());
  EXPECT_EQ(sqs.messages_left(), 1) << "an older handle deletes nothing";
  EXPECT_TRUE(rt.Run(queue.Delete(again->at(0).receipt_handle)).ok());
  EXPECT_EQ(sqs.messages_left(), 0);
}

TEST_F(SqsTest, AMissingQueueIsNotFound) {
  SqsQueue missing(*client_,
                   {.queue_url = server_->endpoint() + "/queues/nope",
                    .credentials = {.access_key = "AK", .secret_key = "SK", .region = "us-east-1"},
                    .wait_seconds = 0,
                    .allow_private = true});
  Result<std::vector<SqsMessage>> received = rt_.Run(missing.Receive());
  EXPECT_EQ(received.status().code(), absl::StatusCode::kNotFound) << received.status();
  EXPECT_NE(received.status().message().find("NonExistentQueue"), std::string::npos);
}

}  // namespace
}  // namespace sluice::intake

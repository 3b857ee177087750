// SqsQueue against sqslite on loopback: send, long-poll receive, visibility, batched delete.
#include "queue/intake/sqs.h"

#include <gtest/gtest.h>

#include "testing/sqs_fixture.h"

namespace sluice::intake {
namespace {

using SqsTest = SqsFixture;

TEST_F(SqsTest, SendReceiveExtendAndDeleteInABatch) {
  auto queue = Queue("media");
  std::vector<std::string> ids;
  for (const char* set : {"brand-a", "brand-b", "brand-c"}) {
    Result<std::string> id = rt_.Run(
        queue->Send(std::string(R"({"set": ")") + set + R"(", "urls": ["http://x/1.jpg"]})"));
    ASSERT_TRUE(id.ok()) << id.status();
    ids.push_back(*id);
  }
  std::vector<SqsMessage> received;
  for (int poll = 0; poll < 5 && received.size() < 3; ++poll) {
    Result<std::vector<SqsMessage>> batch = rt_.Run(queue->Receive());
    ASSERT_TRUE(batch.ok()) << batch.status();
    received.insert(received.end(), batch->begin(), batch->end());
  }
  ASSERT_EQ(received.size(), 3u);
  std::vector<std::string> handles;
  for (const SqsMessage& message : received) {
    EXPECT_NE(std::find(ids.begin(), ids.end(), message.id), ids.end()) << message.id;
    EXPECT_NE(message.body.find("\"urls\""), std::string::npos) << message.body;
    EXPECT_FALSE(message.receipt_handle.empty());
    EXPECT_TRUE(rt_.Run(queue->ExtendVisibility(message.receipt_handle, 60)).ok());
    handles.push_back(message.receipt_handle);
  }
  // (sqslite never shows a received message again, so redelivery is not observable here.)
  Status deleted = rt_.Run(queue->DeleteBatch(handles));
  EXPECT_TRUE(deleted.ok()) << deleted;
  EXPECT_EQ(rt_.Run(queue->DeleteBatch(std::vector<std::string>(11, "h"))).code(),
            absl::StatusCode::kInvalidArgument)
      << "SQS takes at most 10 per batch";
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

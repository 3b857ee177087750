// SqsQueue: an SQS queue over the query protocol (form-encoded Action=…, XML answers), which
// AWS serves and sqslite implements, on the event loop's libcurl client, signed with SigV4.
// The pieces of the SQS intake (DESIGN.md §7): long-poll receive, visibility extension while a
// message's job is created, batched deletes that check every entry.
//
// Event-loop only.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "http/curl_client.h"
#include "http/request.h"

namespace sluice::intake {

struct SqsOptions {
  // "https://sqs.eu-west-1.amazonaws.com/123456789012/media" or, with sqslite,
  // "http://localhost:PORT/queues/NAME".
  std::string queue_url;
  // Region (service is set to "sqs"), and long-term keys when credential_provider is null.
  http::SigV4 credentials;
  // Where the keys come from when set (temporary credentials refreshed as they expire).
  std::shared_ptr<http::AwsCredentialProvider> credential_provider;
  // Long-poll wait of a receive, 0–20 s. Default 20.
  int wait_seconds = 20;
  // Messages per receive, 1–10. Default 10.
  int max_messages = 10;
  // A queue on this machine or a private network needs this.
  bool allow_private = false;
};

struct SqsMessage {
  std::string id;  // MessageId: the job key (a redelivered message has the same one)
  std::string receipt_handle;
  std::string body;
  int receive_count = 0;  // ApproximateReceiveCount
};

// The readers of SQS's answers, apart from the calls (tests and the fuzz target use them).
// The MessageId a SendMessage answer gives; Internal when it gives none.
Result<std::string> MessageIdOfSend(std::string_view xml);
// The messages of a ReceiveMessage answer; Internal when it is not XML or a message lacks its
// MessageId or ReceiptHandle.
Result<std::vector<SqsMessage>> MessagesOfReceive(std::string_view xml);
// The entries a DeleteMessageBatch answer says SQS kept, "Id: Code Message; …" ("" for none).
std::string FailuresOfDeleteBatch(std::string_view xml);

class SqsQueue {
 public:
  SqsQueue(http::HttpClient& client, SqsOptions options);

  // The MessageId of the sent message.
  boost::asio::awaitable<Result<std::string>> Send(std::string body);
  // Up to max_messages, waiting up to wait_seconds for the first; empty when none came.
  boost::asio::awaitable<Result<std::vector<SqsMessage>>> Receive();
  // Keeps the message invisible to other consumers for `seconds` from now.
  boost::asio::awaitable<Status> ExtendVisibility(std::string receipt_handle, int seconds);
  // Deletes up to 10 messages in one call. Unavailable naming every entry that failed (those
  // stay in the queue and come back), OK when all were deleted.
  boost::asio::awaitable<Status> DeleteBatch(std::vector<std::string> receipt_handles);
  // Deletes one message (DeleteMessage).
  boost::asio::awaitable<Status> Delete(std::string receipt_handle);

 private:
  // Sends Action=`action` with `params`; the answer's XML on 2xx, else the SQS error as status.
  using Params = std::vector<std::pair<std::string, std::string>>;
  boost::asio::awaitable<Result<std::string>> Call(std::string action, Params params);

  http::HttpClient& client_;
  SqsOptions options_;
  std::string endpoint_;  // scheme://host[:port]/ of the queue URL
};

}  // namespace sluice::intake

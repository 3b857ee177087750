#include "queue/intake/sqs.h"

#include <pugixml.hpp>

#include "common/strings.h"
#include "http/aws_error.h"

namespace sluice::intake {
namespace {

Status SqsError(const http::ClientResponse& response, std::string_view action) {
  http::AwsError error = http::ParseAwsError(response, StrCat("SQS ", action));
  const std::string& code = error.code;
  const std::string& text = error.text;
  if (response.status >= 500 || code.find("Throttl") != std::string::npos)
    return Failure(absl::StatusCode::kUnavailable, "queue_unavailable", text);
  if (response.status == 403)
    return Failure(absl::StatusCode::kPermissionDenied, "auth_failed", text);
  if (code.find("NonExistentQueue") != std::string::npos) return absl::NotFoundError(text);
  return Failure(absl::StatusCode::kInvalidArgument, "queue_request", text);
}

}  // namespace

Result<std::string> MessageIdOfSend(std::string_view xml) {
  pugi::xml_document doc;
  doc.load_buffer(xml.data(), xml.size());
  std::string id =
      doc.child("SendMessageResponse").child("SendMessageResult").child_value("MessageId");
  if (id.empty()) return absl::InternalError("SQS SendMessage answered without a MessageId");
  return id;
}

Result<std::vector<SqsMessage>> MessagesOfReceive(std::string_view xml) {
  pugi::xml_document doc;
  if (!doc.load_buffer(xml.data(), xml.size()))
    return absl::InternalError("SQS ReceiveMessage answered with something that is not XML");
  std::vector<SqsMessage> messages;
  for (pugi::xml_node m :
       doc.child("ReceiveMessageResponse").child("ReceiveMessageResult").children("Message")) {
    SqsMessage message{.id = m.child_value("MessageId"),
                       .receipt_handle = m.child_value("ReceiptHandle"),
                       .body = m.child_value("Body")};
    if (message.id.empty() || message.receipt_handle.empty())
      return absl::InternalError("SQS ReceiveMessage answered a message without its id or handle");
    for (pugi::xml_node attribute : m.children("Attribute")) {
      if (std::string_view(attribute.child_value("Name")) == "ApproximateReceiveCount")
        ParseInt(attribute.child_value("Value"), message.receive_count);
    }
    messages.push_back(std::move(message));
  }
  return messages;
}

std::string FailuresOfDeleteBatch(std::string_view xml) {
  pugi::xml_document doc;
  doc.load_buffer(xml.data(), xml.size());
  std::string failed;
  for (pugi::xml_node entry : doc.child("DeleteMessageBatchResponse")
                                  .child("DeleteMessageBatchResult")
                                  .children("BatchResultErrorEntry")) {
    StrAppend(failed, failed.empty() ? "" : "; ", entry.child_value("Id"), ": ",
              entry.child_value("Code"), " ", entry.child_value("Message"));
  }
  return failed;
}

SqsQueue::SqsQueue(http::HttpClient& client, SqsOptions options)
    : client_(client), options_(std::move(options)) {
  options_.credentials.service = "sqs";
  size_t scheme = options_.queue_url.find("://");
  size_t path = options_.queue_url.find('/', scheme == std::string::npos ? 0 : scheme + 3);
  endpoint_ = StrCat(options_.queue_url.substr(0, path), "/");
}

boost::asio::awaitable<Result<std::string>> SqsQueue::Call(std::string action, Params params) {
  std::string body =
      StrCat("Action=", action,
             "&Version=2012-11-05&QueueUrl=", http::AwsUriEncode(options_.queue_url, false));
  for (const auto& [name, value] : params)
    StrAppend(body, "&", http::AwsUriEncode(name, false), "=", http::AwsUriEncode(value, false));
  http::ClientRequest request;
  request.method = "POST";
  request.url = endpoint_;
  request.headers.emplace_back("Content-Type", "application/x-www-form-urlencoded");
  request.body = std::move(body);
  request.sigv4 = options_.credentials;
  request.aws_credentials = options_.credential_provider;
  request.addresses.allow_private = options_.allow_private;
  request.timeout = runtime::Duration{(options_.wait_seconds + 30) * 1000};
  SLUICE_CO_ASSIGN_OR_RETURN(http::ClientResponse response,
                             co_await http::Send(client_, std::move(request)));
  if (!response.successful()) co_return SqsError(response, action);
  co_return std::move(response.body);
}

boost::asio::awaitable<Result<std::string>> SqsQueue::Send(std::string body) {
  // Params are built as named values: g++ 12 cannot keep braced lists of string literals in a
  // coroutine frame.
  Params params;
  params.emplace_back("MessageBody", std::move(body));
  SLUICE_CO_ASSIGN_OR_RETURN(std::string xml, co_await Call("SendMessage", std::move(params)));
  co_return MessageIdOfSend(xml);
}

boost::asio::awaitable<Result<std::vector<SqsMessage>>> SqsQueue::Receive() {
  Params params;
  params.emplace_back("MaxNumberOfMessages", std::to_string(options_.max_messages));
  params.emplace_back("WaitTimeSeconds", std::to_string(options_.wait_seconds));
  params.emplace_back("AttributeName.1", "ApproximateReceiveCount");
  SLUICE_CO_ASSIGN_OR_RETURN(std::string xml, co_await Call("ReceiveMessage", std::move(params)));
  co_return MessagesOfReceive(xml);
}

boost::asio::awaitable<Status> SqsQueue::ExtendVisibility(std::string receipt_handle, int seconds) {
  Params params;
  params.emplace_back("ReceiptHandle", std::move(receipt_handle));
  params.emplace_back("VisibilityTimeout", std::to_string(seconds));
  Result<std::string> answer = co_await Call("ChangeMessageVisibility", std::move(params));
  co_return answer.status();
}

boost::asio::awaitable<Status> SqsQueue::Delete(std::string receipt_handle) {
  Params params;
  params.emplace_back("ReceiptHandle", std::move(receipt_handle));
  Result<std::string> answer = co_await Call("DeleteMessage", std::move(params));
  co_return answer.status();
}

boost::asio::awaitable<Status> SqsQueue::DeleteBatch(std::vector<std::string> receipt_handles) {
  if (receipt_handles.empty()) co_return absl::OkStatus();
  if (receipt_handles.size() > 10)
    co_return absl::InvalidArgumentError("SQS deletes at most 10 messages per batch");
  Params params;
  for (size_t i = 0; i < receipt_handles.size(); ++i) {
    std::string entry = StrCat("DeleteMessageBatchRequestEntry.", i + 1);
    params.emplace_back(StrCat(entry, ".Id"), StrCat("m", i));
    params.emplace_back(StrCat(entry, ".ReceiptHandle"), receipt_handles[i]);
  }
  SLUICE_CO_ASSIGN_OR_RETURN(std::string xml,
                             co_await Call("DeleteMessageBatch", std::move(params)));
  std::string failed = FailuresOfDeleteBatch(xml);
  if (!failed.empty()) {
    co_return Failure(absl::StatusCode::kUnavailable, "delete_failed",
                      StrCat("SQS kept some messages: ", failed));
  }
  co_return absl::OkStatus();
}

}  // namespace sluice::intake

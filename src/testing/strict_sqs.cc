#include "testing/strict_sqs.h"

#include <boost/url/parse.hpp>

#include "common/strings.h"

namespace sluice::testing {
namespace {

using http::HttpReply;
using http::HttpRequest;

std::string XmlText(std::string_view text) {
  std::string escaped;
  for (char c : text) {
    switch (c) {
      case '&':
        escaped += "&amp;";
        break;
      case '<':
        escaped += "&lt;";
        break;
      case '>':
        escaped += "&gt;";
        break;
      default:
        escaped += c;
    }
  }
  return escaped;
}

HttpReply SqsError(int status, std::string_view code) {
  return XmlReply(status, StrCat("<ErrorResponse><Error><Type>Sender</Type><Code>", code,
                                 "</Code><Message>", code, "</Message></Error></ErrorResponse>"));
}

// The path of a URL ("http://host:port/path" → "/path"); "" when it is not one.
std::string PathOf(std::string_view url) {
  boost::system::result<boost::urls::url_view> parsed = boost::urls::parse_uri(url);
  return parsed ? std::string(parsed->encoded_path()) : "";
}

}  // namespace

StrictSqs::StrictSqs(std::chrono::milliseconds visibility, std::string queue_name)
    : visibility_(visibility),
      queue_name_(std::move(queue_name)),
      queue_path_(StrCat("/queue/", queue_name_)) {
  // The query protocol posts to the endpoint's root and names the queue in QueueUrl.
  origin_.Route("/", [this](const HttpRequest& request, int) { return Handle(request); });
}

std::string StrictSqs::Add(std::string body) {
  std::lock_guard lock(mu_);
  return AddLocked(std::move(body));
}

std::string StrictSqs::AddLocked(std::string body) {
  std::string id = StrCat("msg-", messages_.size() + 1);
  messages_.push_back({.id = id,
                       .body = std::move(body),
                       .visible_at = std::chrono::steady_clock::now(),
                       .deleted = false});
  return id;
}

void StrictSqs::RefuseExtensions(bool refuse) {
  std::lock_guard lock(mu_);
  refuse_extensions_ = refuse;
}

int StrictSqs::CountLocked(bool visible, std::chrono::steady_clock::time_point now) const {
  int count = 0;
  for (const Message& message : messages_)
    count += !message.deleted && (message.visible_at <= now) == visible ? 1 : 0;
  return count;
}

int StrictSqs::messages_left() const {
  std::lock_guard lock(mu_);
  int left = 0;
  for (const Message& message : messages_) left += message.deleted ? 0 : 1;
  return left;
}

int StrictSqs::messages_visible() const {
  std::lock_guard lock(mu_);
  return CountLocked(true, std::chrono::steady_clock::now());
}

int StrictSqs::redeliveries() const {
  std::lock_guard lock(mu_);
  return redeliveries_;
}

int StrictSqs::receives() const {
  std::lock_guard lock(mu_);
  return receives_;
}

int StrictSqs::receive_calls() const {
  std::lock_guard lock(mu_);
  return receive_calls_;
}

int StrictSqs::stale_deletes() const {
  std::lock_guard lock(mu_);
  return stale_deletes_;
}

StrictSqs::Message* StrictSqs::FindByHandleLocked(const std::string& handle) {
  // Handles are "<id>/<receive count>".
  size_t slash = handle.find('/');
  if (slash == std::string::npos) return nullptr;
  for (Message& message : messages_)
    if (message.id == handle.substr(0, slash)) return &message;
  return nullptr;
}

std::string StrictSqs::DeleteLocked(const std::string& handle) {
  Message* message = FindByHandleLocked(handle);
  if (!message) return "ReceiptHandleIsInvalid";
  if (handle == message->receipt_handle) {
    message->deleted = true;
  } else {
    ++stale_deletes_;
  }
  return "";
}

HttpReply StrictSqs::Handle(const HttpRequest& request) {
  std::lock_guard lock(mu_);
  std::string action = FormValue(request.body, "Action");
  if (action == "CreateQueue") {
    // Of its one queue only; creating an existing queue answers its URL, as SQS does.
    if (FormValue(request.body, "QueueName") != queue_name_)
      return SqsError(400, "InvalidParameterValue");
    return XmlReply(200, StrCat("<CreateQueueResponse><CreateQueueResult><QueueUrl>", queue_url(),
                                "</QueueUrl></CreateQueueResult></CreateQueueResponse>"));
  }
  if (PathOf(FormValue(request.body, "QueueUrl")) != queue_path_)
    return SqsError(400, "AWS.SimpleQueueService.NonExistentQueue");
  auto now = std::chrono::steady_clock::now();
  if (action == "SendMessage") {
    std::string body = FormValue(request.body, "MessageBody");
    if (body.empty()) return SqsError(400, "MissingParameter");
    std::string id = AddLocked(std::move(body));
    return XmlReply(200, StrCat("<SendMessageResponse><SendMessageResult><MessageId>", id,
                                "</MessageId></SendMessageResult></SendMessageResponse>"));
  }
  if (action == "GetQueueAttributes") {
    return XmlReply(200,
                    StrCat("<GetQueueAttributesResponse><GetQueueAttributesResult>",
                           "<Attribute><Name>ApproximateNumberOfMessages</Name><Value>",
                           CountLocked(true, now), "</Value></Attribute>",
                           "<Attribute><Name>ApproximateNumberOfMessagesNotVisible</Name><Value>",
                           CountLocked(false, now), "</Value></Attribute>",
                           "</GetQueueAttributesResult></GetQueueAttributesResponse>"));
  }
  if (action == "ReceiveMessage") {
    ++receive_calls_;
    int max = 1;
    ParseInt(FormValue(request.body, "MaxNumberOfMessages"), max);
    std::string listed;
    for (Message& message : messages_) {
      if (max == 0) break;
      if (message.deleted || message.visible_at > now) continue;
      --max;
      ++receives_;
      if (message.receive_count > 0) ++redeliveries_;
      ++message.receive_count;
      message.receipt_handle = StrCat(message.id, "/", message.receive_count);
      message.visible_at = now + visibility_;
      StrAppend(listed, "<Message><MessageId>", message.id, "</MessageId><ReceiptHandle>",
                message.receipt_handle, "</ReceiptHandle><Body>", XmlText(message.body),
                "</Body><Attribute><Name>ApproximateReceiveCount</Name><Value>",
                message.receive_count, "</Value></Attribute></Message>");
    }
    return XmlReply(200, StrCat("<ReceiveMessageResponse><ReceiveMessageResult>", listed,
                                "</ReceiveMessageResult></ReceiveMessageResponse>"));
  }
  if (action == "ChangeMessageVisibility") {
    if (refuse_extensions_) return SqsError(500, "InternalError");
    Message* message = FindByHandleLocked(FormValue(request.body, "ReceiptHandle"));
    if (!message) return SqsError(400, "ReceiptHandleIsInvalid");
    if (message->deleted || message->receipt_handle != FormValue(request.body, "ReceiptHandle") ||
        message->visible_at <= now)
      return SqsError(400, "MessageNotInflight");
    int seconds = 0;
    ParseInt(FormValue(request.body, "VisibilityTimeout"), seconds);
    message->visible_at = now + std::chrono::seconds(seconds);
    return XmlReply(200, "<ChangeMessageVisibilityResponse/>");
  }
  if (action == "DeleteMessage") {
    std::string error = DeleteLocked(FormValue(request.body, "ReceiptHandle"));
    if (!error.empty()) return SqsError(400, error);
    return XmlReply(200, "<DeleteMessageResponse/>");
  }
  if (action == "DeleteMessageBatch") {
    std::string results;
    for (int i = 1; i <= 10; ++i) {
      std::string entry = StrCat("DeleteMessageBatchRequestEntry.", i);
      std::string id = FormValue(request.body, entry + ".Id");
      if (id.empty()) break;
      std::string error = DeleteLocked(FormValue(request.body, entry + ".ReceiptHandle"));
      if (error.empty()) {
        StrAppend(results, "<DeleteMessageBatchResultEntry><Id>", id,
                  "</Id></DeleteMessageBatchResultEntry>");
      } else {
        StrAppend(results, "<BatchResultErrorEntry><Id>", id, "</Id><Code>", error,
                  "</Code><Message>", error, "</Message><SenderFault>true</SenderFault>",
                  "</BatchResultErrorEntry>");
      }
    }
    return XmlReply(200, StrCat("<DeleteMessageBatchResponse><DeleteMessageBatchResult>", results,
                                "</DeleteMessageBatchResult></DeleteMessageBatchResponse>"));
  }
  return SqsError(400, "InvalidAction");
}

}  // namespace sluice::testing

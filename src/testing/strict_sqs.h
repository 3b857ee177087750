// StrictSqs: one SQS queue on a loopback origin that keeps SQS's visibility rules, which sqslite
// does not (a message it handed out never comes back): a received message is invisible for the
// visibility timeout and then received again with a new receipt handle; only the newest handle
// of a message deletes it — an older one is answered 200 and deletes nothing, as SQS documents;
// ChangeMessageVisibility with an older handle fails (MessageNotInflight), and can be made to
// fail for every handle (an extension lost to the network or to throttling).
//
// Speaks the query protocol (form-encoded Action=…): CreateQueue (of its one queue),
// SendMessage, ReceiveMessage (answers at once, no long poll), ChangeMessageVisibility,
// DeleteMessage, DeleteMessageBatch, GetQueueAttributes (the approximate counts). Requests name
// the queue by QueueUrl, whose path alone is compared, so a proxy in front may change the
// authority. Signatures are not checked. `sluice-strict-sqs` serves it as a process (the soak).
//
// Thread-safe: the routes run on the server thread; the rest may be called from any thread.
#pragma once

#include <chrono>
#include <mutex>
#include <string>
#include <vector>

#include "testing/origin.h"

namespace sluice::testing {

class StrictSqs {
 public:
  // One queue named `queue_name`; received messages stay invisible for `visibility`.
  explicit StrictSqs(std::chrono::milliseconds visibility, std::string queue_name = "jobs");

  int port() const { return origin_.port(); }
  std::string queue_url() const { return origin_.Url(queue_path_); }
  // Puts a message in the queue, visible now; its MessageId.
  std::string Add(std::string body);
  // From now on every ChangeMessageVisibility answers 500 InternalError.
  void RefuseExtensions(bool refuse);

  // Messages not deleted yet, and receives of any message so far.
  int messages_left() const;
  // Messages not deleted that a receive would hand out now.
  int messages_visible() const;
  int receives() const;
  // Receives of a message that had been received before (its visibility ran out).
  int redeliveries() const;
  // ReceiveMessage calls, empty ones included.
  int receive_calls() const;
  // Deletes that named an older handle of a message (answered 200, deleting nothing).
  int stale_deletes() const;

 private:
  struct Message {
    std::string id;
    std::string body;
    int receive_count = 0;
    std::string receipt_handle;  // the newest; "" before the first receive
    std::chrono::steady_clock::time_point visible_at;
    bool deleted = false;
  };
  http::HttpReply Handle(const http::HttpRequest& request);
  std::string AddLocked(std::string body);
  int CountLocked(bool visible, std::chrono::steady_clock::time_point now) const;
  // Deletes the message `handle` names when it is the newest handle; "" when it was one of
  // ours, else the SQS error code.
  std::string DeleteLocked(const std::string& handle);
  Message* FindByHandleLocked(const std::string& handle);

  std::chrono::milliseconds visibility_;
  std::string queue_name_;
  std::string queue_path_;
  mutable std::mutex mu_;
  std::vector<Message> messages_;
  bool refuse_extensions_ = false;
  int receives_ = 0;
  int redeliveries_ = 0;
  int receive_calls_ = 0;
  int stale_deletes_ = 0;
  ScriptedOrigin origin_;
};

}  // namespace sluice::testing

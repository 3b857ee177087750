// StrictSqs: one SQS queue on a loopback origin that keeps SQS's visibility rules, which sqslite
// does not (a message it handed out never comes back): a received message is invisible for the
// visibility timeout and then received again with a new receipt handle; only the newest handle
// of a message deletes it — an older one is answered 200 and deletes nothing, as SQS documents;
// ChangeMessageVisibility with an older handle fails (MessageNotInflight), and can be made to
// fail for every handle (an extension lost to the network or to throttling).
//
// Speaks the query protocol (form-encoded Action=…): ReceiveMessage (answers at once, no long
// poll), ChangeMessageVisibility, DeleteMessage, DeleteMessageBatch. Signatures are not checked.
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
  explicit StrictSqs(std::chrono::milliseconds visibility);

  std::string queue_url() const { return origin_.Url("/queue/jobs"); }
  // Puts a message in the queue, visible now; its MessageId.
  std::string Add(std::string body);
  // From now on every ChangeMessageVisibility answers 500 InternalError.
  void RefuseExtensions(bool refuse);

  // Messages not deleted yet, and receives of any message so far.
  int messages_left() const;
  int receives() const;
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
  // Deletes the message `handle` names when it is the newest handle; "" when it was one of
  // ours, else the SQS error code.
  std::string DeleteLocked(const std::string& handle);
  Message* FindByHandleLocked(const std::string& handle);

  std::chrono::milliseconds visibility_;
  mutable std::mutex mu_;
  std::vector<Message> messages_;
  bool refuse_extensions_ = false;
  int receives_ = 0;
  int stale_deletes_ = 0;
  ScriptedOrigin origin_;
};

}  // namespace sluice::testing

// The readers of what AWS services answer — S3 (CreateMultipartUpload, ListObjectsV2, errors),
// SQS (SendMessage, ReceiveMessage, DeleteMessageBatch), STS (AssumeRole) and the container
// and instance-metadata credential endpoints (JSON) — over any bytes: an endpoint may be a
// MinIO, a proxy or a test server, and a broken answer must come back as an error that says
// what, never a crash or a result missing what it promised. The first byte picks the reader.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "http/aws_credentials.h"
#include "http/aws_error.h"
#include "queue/intake/sqs.h"
#include "storage/s3/s3_blob_store.h"

namespace {

void CheckError(const sluice::Status& status) {
  if (!status.ok() && status.message().empty()) __builtin_trap();  // errors say what
}

void CheckCredentials(const sluice::Result<sluice::http::AwsCredentials>& credentials) {
  CheckError(credentials.status());
  if (credentials.ok() && (credentials->access_key.empty() || credentials->secret_key.empty()))
    __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string_view answer(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 8) {
    case 0: {
      sluice::Result<std::string> id = sluice::storage::UploadIdOf(answer);
      CheckError(id.status());
      if (id.ok() && id->empty()) __builtin_trap();
      break;
    }
    case 1: {
      sluice::Result<sluice::storage::S3ListPage> page = sluice::storage::ListPageOf(answer);
      CheckError(page.status());
      if (page.ok()) {
        for (const sluice::storage::BlobInfo& object : page->objects)
          if (object.size < 0) __builtin_trap();
      }
      break;
    }
    case 2: {
      sluice::Result<std::string> id = sluice::intake::MessageIdOfSend(answer);
      CheckError(id.status());
      if (id.ok() && id->empty()) __builtin_trap();
      break;
    }
    case 3: {
      auto messages = sluice::intake::MessagesOfReceive(answer);
      CheckError(messages.status());
      if (messages.ok()) {
        for (const sluice::intake::SqsMessage& message : *messages)
          if (message.id.empty() || message.receipt_handle.empty()) __builtin_trap();
      }
      break;
    }
    case 4:
      (void)sluice::intake::FailuresOfDeleteBatch(answer);
      break;
    case 5:
      CheckCredentials(sluice::http::CredentialsFromJson(answer, "the container endpoint"));
      break;
    case 6:
      CheckCredentials(sluice::http::CredentialsFromStsXml(answer, "AssumeRole"));
      break;
    case 7: {
      sluice::http::ClientResponse response{
          .status = 403, .headers = {}, .body = std::string(answer)};
      sluice::http::AwsError error = sluice::http::ParseAwsError(response, "S3 GET k");
      if (error.text.empty()) __builtin_trap();
      break;
    }
  }
  return 0;
}

// The error documents AWS services answer with, shared by the S3 store and the SQS queue:
// <Error><Code/><Message/></Error> (REST APIs: S3) and
// <ErrorResponse><Error><Code/><Message/></Error></ErrorResponse> (query APIs: SQS).
//
// Thread-safe: pure functions.
#pragma once

#include <string>
#include <string_view>

#include "http/request.h"

namespace sluice::http {

struct AwsError {
  std::string code;     // "NoSuchKey", "AWS.SimpleQueueService.NonExistentQueue"; "" if none
  std::string message;  // "" if none
  // "WHAT: HTTP 404 NoSuchKey: The specified key does not exist."
  std::string text;
};

AwsError ParseAwsError(const ClientResponse& response, std::string_view what);

}  // namespace sluice::http

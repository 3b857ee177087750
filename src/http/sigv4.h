// AWS Signature Version 4, computed here rather than by libcurl: curl 7.88's CURLOPT_AWS_SIGV4
// signs the request path as sent, but every AWS service except S3 verifies against the path
// URI-encoded once more (Bedrock model ids carry ':' → "%3A" on the wire → "%253A" signed), so
// curl-signed Bedrock calls are refused; it also omits x-amz-content-sha256 and does not sort
// query parameters. One signer for S3, SQS and Bedrock, tested against AWS's published vectors.
//
// Thread-safe: pure functions.
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"

namespace sluice::http {

// Credentials and scope.
struct SigV4 {
  std::string access_key;
  std::string secret_key;
  // Sent as x-amz-security-token when set (temporary credentials).
  std::string session_token;
  std::string region;   // "us-east-1"
  std::string service;  // "s3", "sqs", "bedrock"
  // Add x-amz-content-sha256 (the body's hash) and sign it. S3 requires it. Default true.
  bool sign_payload = true;
};

using HeaderList = std::vector<std::pair<std::string, std::string>>;

struct SignedRequest {
  // The headers to send: the caller's, plus Host, X-Amz-Date, Authorization and, when asked,
  // x-amz-content-sha256 and x-amz-security-token.
  HeaderList headers;
  // For tests and diagnostics: what was signed.
  std::string canonical_request;
  std::string string_to_sign;
};

// Signs `method url` with `headers` and `body` at `now`. A "Host" or "X-Amz-Date" among
// `headers` is used as given (tests pin the date). Every given header is signed. InvalidArgument
// "bad_url" when `url` does not parse.
Result<SignedRequest> SignV4(const SigV4& credentials, std::string_view method,
                             std::string_view url, const HeaderList& headers, std::string_view body,
                             std::chrono::system_clock::time_point now);

// RFC 3986 percent-encoding as SigV4 wants it: unreserved characters kept, every other byte
// %XX in upper case; '/' kept when `keep_slash`.
std::string AwsUriEncode(std::string_view text, bool keep_slash);

}  // namespace sluice::http

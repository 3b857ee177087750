// Send: one HTTP request whose whole response is wanted in memory — the calls remote AI
// providers and object stores make (JSON in, JSON or XML out), as opposed to Fetcher's
// streaming downloads. Runs on the HttpClient's event loop, under the same SSRF guard, with
// optional AWS Signature V4 signing (http/sigv4.h).
//
// Event-loop only.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/status.h"
#include "http/address_guard.h"
#include "http/aws_credentials.h"
#include "http/curl_client.h"
#include "http/sigv4.h"
#include "runtime/retry.h"

namespace sluice::http {

struct ClientRequest {
  std::string method = "GET";
  std::string url;
  // Sent as given; a "Host" or "X-Amz-Date" here is used (and signed) instead of curl's.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::optional<SigV4> sigv4;
  // When set, the keys sigv4 signs with are this provider's current ones (sigv4 must be set for
  // the region and service); its error fails the request before anything is sent.
  std::shared_ptr<AwsCredentialProvider> aws_credentials;
  runtime::Duration connect_timeout{10'000};
  // Whole exchange. Default 60 s.
  runtime::Duration timeout{60'000};
  // Larger responses fail with "too_large". Default 64 MiB.
  int64_t max_response_bytes = int64_t{64} << 20;
  // Default: public addresses only (a local model server needs allow_private or an endpoint).
  AddressPolicy addresses;
};

struct ClientResponse {
  long status = 0;
  std::map<std::string, std::string> headers;  // names lowercased; the final response's
  std::string body;
  // "" when absent. `name` lowercase.
  std::string Header(const std::string& name) const;
  // A 2xx status.
  bool successful() const { return status >= 200 && status < 300; }
};

// Sends `request` and returns the response, whatever its status (callers decide what a 429 or
// 500 means). Errors: InvalidArgument "bad_url"; PermissionDenied "scheme_not_allowed" /
// "blocked_address"; FailedPrecondition "too_large"; DeadlineExceeded "timeout"; Unavailable for
// connection failures (CurlFailureStatus causes).
boost::asio::awaitable<Result<ClientResponse>> Send(HttpClient& client, ClientRequest request);
// The same, with the request left to the caller, who keeps it until the call completes: a
// request sent again after a failure (an S3 part of 16 MiB) is not copied for each attempt.
boost::asio::awaitable<Result<ClientResponse>> SendKept(HttpClient& client,
                                                        const ClientRequest& request);

}  // namespace sluice::http

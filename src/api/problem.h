// The answers every part of the API gives: JSON bodies, and problem+json (RFC 9457) for
// refusals and failures.
#pragma once

#include <boost/json/value.hpp>
#include <string_view>

#include "api/http_server.h"
#include "common/status.h"

namespace sluice::api {

// A JSON answer.
Response JsonResponse(int status, const boost::json::value& body);
// A problem+json answer: {"type": "about:blank", "title", "status", "detail"} and, when given,
// "cause" (the machine-readable reason sluice's errors carry).
Response Problem(int status, std::string_view title, std::string_view detail,
                 std::string_view cause = "");
// The problem for a failed call: InvalidArgument 400, Unauthenticated 401, PermissionDenied 403,
// NotFound 404, FailedPrecondition and AlreadyExists 409, ResourceExhausted 429, Unavailable 503,
// DeadlineExceeded 504, anything else 500; the detail is the status's message.
Response ProblemFor(const Status& status);

}  // namespace sluice::api

#include "api/problem.h"

#include <boost/json/serialize.hpp>

#include "common/redact.h"

namespace sluice::api {

namespace json = boost::json;

Response JsonResponse(int status, const json::value& body) {
  return Response{.status = status, .body = json::serialize(body)};
}

Response Problem(int status, std::string_view title, std::string_view detail,
                 std::string_view cause) {
  json::object body{
      {"type", "about:blank"}, {"title", title}, {"status", status}, {"detail", detail}};
  if (!cause.empty()) body["cause"] = cause;
  return Response{
      .status = status, .content_type = "application/problem+json", .body = json::serialize(body)};
}

Response ProblemFor(const Status& status) {
  struct Mapping {
    int status;
    std::string_view title;
  };
  auto mapping = [&]() -> Mapping {
    switch (status.code()) {
      case absl::StatusCode::kInvalidArgument:
        return {400, "Bad request"};
      case absl::StatusCode::kUnauthenticated:
        return {401, "Unauthenticated"};
      case absl::StatusCode::kPermissionDenied:
        return {403, "Forbidden"};
      case absl::StatusCode::kNotFound:
        return {404, "Not found"};
      case absl::StatusCode::kFailedPrecondition:
      case absl::StatusCode::kAlreadyExists:
        return {409, "Conflict"};
      case absl::StatusCode::kResourceExhausted:
        return {429, "Too many requests"};
      case absl::StatusCode::kUnavailable:
        return {503, "Unavailable"};
      case absl::StatusCode::kDeadlineExceeded:
        return {504, "Deadline exceeded"};
      default:
        return {500, "Internal error"};
    }
  }();
  return Problem(mapping.status, mapping.title, RedactSecrets(std::string(status.message())),
                 CauseOf(status));
}

}  // namespace sluice::api

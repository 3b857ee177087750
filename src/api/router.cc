#include "api/router.h"

#include <boost/json/serialize.hpp>

#include "common/strings.h"

namespace sluice::api {

namespace json = boost::json;

namespace {

std::vector<std::string> Segments(std::string_view path) {
  std::vector<std::string> out;
  for (std::string_view part : Split(path, "/"))
    if (!part.empty()) out.emplace_back(part);
  return out;
}

bool IsParameter(const std::string& segment) {
  return segment.size() > 2 && segment.front() == '{' && segment.back() == '}';
}

}  // namespace

void Router::Add(std::string method, std::string pattern, Handler handler) {
  std::vector<std::string> segments = Segments(pattern);
  entries_.push_back(Entry{.route = {std::move(method), std::move(pattern)},
                           .segments = std::move(segments),
                           .handler = std::move(handler)});
}

std::vector<Router::Route> Router::routes() const {
  std::vector<Route> out;
  for (const Entry& entry : entries_) out.push_back(entry.route);
  return out;
}

boost::asio::awaitable<Response> Router::Dispatch(Request request) const {
  std::vector<std::string> path = Segments(request.path);
  std::string allowed;
  for (const Entry& entry : entries_) {
    if (entry.segments.size() != path.size()) continue;
    std::map<std::string, std::string> params;
    bool match = true;
    for (size_t i = 0; i < path.size() && match; ++i) {
      const std::string& segment = entry.segments[i];
      if (IsParameter(segment)) {
        params[segment.substr(1, segment.size() - 2)] = path[i];
      } else {
        match = segment == path[i];
      }
    }
    if (!match) continue;
    if (entry.route.method != request.method) {
      StrAppend(allowed, allowed.empty() ? "" : ", ", entry.route.method);
      continue;
    }
    request.params = std::move(params);
    co_return co_await entry.handler(std::move(request));
  }
  if (!allowed.empty()) {
    Response refused = Problem(405, "Method not allowed",
                               StrCat(request.method, " is not served at ", request.path));
    refused.headers.emplace_back("Allow", allowed);
    co_return refused;
  }
  co_return Problem(404, "Not found", StrCat("nothing is served at ", request.path));
}

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
  return Problem(mapping.status, mapping.title, std::string(status.message()), CauseOf(status));
}

}  // namespace sluice::api

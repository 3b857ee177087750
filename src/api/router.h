// Router: the API's routes by method and path pattern ("/v1/jobs/{token}": a braced segment
// matches one path segment and lands in Request::params), and the problem+json answers every
// front of the API gives for a failure (RFC 9457).
//
// Event-loop only.
#pragma once

#include <boost/json/value.hpp>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "api/http_server.h"
#include "common/status.h"

namespace sluice::api {

class Router {
 public:
  void Add(std::string method, std::string pattern, Handler handler);

  // The answer of the route matching the request; 404 problem when no route's pattern matches
  // the path, 405 (with Allow) when some do but not for this method.
  boost::asio::awaitable<Response> Dispatch(Request request) const;

  struct Route {
    std::string method;
    std::string pattern;
  };
  // Every route, in the order added (the OpenAPI document must list exactly these).
  std::vector<Route> routes() const;

  // Called with each answered request: its method, the pattern it matched ("" for none), the
  // status and the seconds the handler took.
  using Observer = std::function<void(std::string_view method, std::string_view pattern, int status,
                                      double seconds)>;
  void SetObserver(Observer observer) { observer_ = std::move(observer); }

 private:
  struct Entry {
    Route route;
    std::vector<std::string> segments;
    Handler handler;
  };
  // The route of `method` at `path` with its parameters; no entry (and the methods the path is
  // served for, if any) when none matches.
  struct Match {
    const Entry* entry = nullptr;
    std::map<std::string, std::string> params;
    std::string allowed;  // "POST, GET"
  };
  Match Find(const std::string& method, const std::string& path) const;

  std::vector<Entry> entries_;
  Observer observer_;
};

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

// Router: the API's routes by method and path pattern ("/v1/jobs/{token}": a braced segment
// matches one path segment and lands in Request::params).
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
#include "api/problem.h"
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

}  // namespace sluice::api

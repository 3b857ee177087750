// What the route files of the API share (internal to src/api/): database calls off the event
// loop, request bodies and query parameters, and binding a route object's members as handlers.
#pragma once

#include <boost/json/object.hpp>
#include <memory>
#include <string>

#include "api/api_parts.h"
#include "api/router.h"
#include "runtime/offload.h"

namespace sluice::api {

// Runs `fn` (a database or file call) on the blocking pool.
template <class F>
auto Blocking(const ApiParts& parts, F fn) {
  return runtime::RunOn(parts.runtime->blocking(), std::move(fn));
}

// The request body as a JSON object; InvalidArgument saying why not.
Result<boost::json::object> BodyObject(const Request& request);

// Query parameter `name`; "" when absent.
std::string QueryParam(const Request& request, const std::string& name);

// Query parameter `name` as a number within [min, max], `fallback` when absent; InvalidArgument
// naming the parameter and the range otherwise.
Result<int> IntParam(const Request& request, const std::string& name, int fallback, int min,
                     int max);

// A handler calling `member` of the shared `routes`.
template <class Routes>
Handler BindRoute(std::shared_ptr<Routes> routes,
                  boost::asio::awaitable<Response> (Routes::*member)(Request)) {
  return [routes, member](Request request) { return ((*routes).*member)(std::move(request)); };
}

// The routes of each file: /v1/jobs…; /v1/sets…, /v1/items, /v1/media; /v1/search;
// /v1/analyze; the web UI.
void AddJobRoutes(Router& router, const ApiParts& parts);
void AddCatalogRoutes(Router& router, const ApiParts& parts);
void AddSearchRoutes(Router& router, const ApiParts& parts);
void AddAnalyzeRoutes(Router& router, const ApiParts& parts);
void AddUiRoutes(Router& router);

}  // namespace sluice::api

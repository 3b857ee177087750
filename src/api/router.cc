#include "api/router.h"

#include <boost/json/serialize.hpp>
#include <chrono>

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

Router::Match Router::Find(const std::string& method, const std::string& path) const {
  std::vector<std::string> segments = Segments(path);
  Match found;
  for (const Entry& entry : entries_) {
    if (entry.segments.size() != segments.size()) continue;
    std::map<std::string, std::string> params;
    bool match = true;
    for (size_t i = 0; i < segments.size() && match; ++i) {
      const std::string& segment = entry.segments[i];
      if (IsParameter(segment)) {
        params[segment.substr(1, segment.size() - 2)] = segments[i];
      } else {
        match = segment == segments[i];
      }
    }
    if (!match) continue;
    if (entry.route.method != method) {
      StrAppend(found.allowed, found.allowed.empty() ? "" : ", ", entry.route.method);
      continue;
    }
    found.entry = &entry;
    found.params = std::move(params);
    return found;
  }
  return found;
}

boost::asio::awaitable<Response> Router::Dispatch(Request request) const {
  auto start = std::chrono::steady_clock::now();
  Match found = Find(request.method, request.path);
  std::string method = request.method;
  Response response;
  if (found.entry) {
    request.params = std::move(found.params);
    response = co_await found.entry->handler(std::move(request));
  } else if (!found.allowed.empty()) {
    response = Problem(405, "Method not allowed",
                       StrCat(request.method, " is not served at ", request.path));
    response.headers.emplace_back("Allow", found.allowed);
  } else {
    response = Problem(404, "Not found", StrCat("nothing is served at ", request.path));
  }
  if (observer_)
    observer_(method, found.entry ? std::string_view(found.entry->route.pattern) : "",
              response.status,
              std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  co_return response;
}

}  // namespace sluice::api

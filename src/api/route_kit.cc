#include "api/route_kit.h"

#include <boost/json/parse.hpp>

#include "common/strings.h"

namespace sluice::api {

namespace json = boost::json;

Result<json::object> BodyObject(const Request& request) {
  boost::system::error_code ec;
  json::value body = json::parse(request.body, ec);
  if (ec) return absl::InvalidArgumentError(StrCat("the body is not JSON: ", ec.message()));
  if (!body.is_object()) return absl::InvalidArgumentError("the body must be a JSON object");
  return std::move(body.as_object());
}

Result<int> IntParam(const Request& request, const std::string& name, int fallback, int min,
                     int max) {
  auto it = request.query.find(name);
  if (it == request.query.end()) return fallback;
  int value = 0;
  if (!ParseInt(it->second, value) || value < min || value > max)
    return absl::InvalidArgumentError(StrCat(name, " must be a whole number from ", min, " to ",
                                             max, ", not '", it->second, "'"));
  return value;
}

std::string QueryParam(const Request& request, const std::string& name) {
  auto it = request.query.find(name);
  return it == request.query.end() ? std::string() : it->second;
}

}  // namespace sluice::api

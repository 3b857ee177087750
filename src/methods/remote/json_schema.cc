#include "methods/remote/json_schema.h"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "common/strings.h"
#include "methods/method.h"

namespace sluice::methods::remote {
namespace {

namespace json = boost::json;

// JSON Schema's name of `value`'s type, "integer" for whole numbers written as such.
std::string TypeOf(const json::value& value) {
  if (value.is_int64() || value.is_uint64()) return "integer";
  return std::string(JsonKindName(value.kind()));
}

Status Misfit(const std::string& path, std::string_view what) {
  return Failure(absl::StatusCode::kInvalidArgument, "does_not_fit_schema",
                 StrCat(path, ": ", what));
}

Status CheckAt(const json::value& value, const json::object& schema, const std::string& path) {
  if (const json::value* type = schema.if_contains("type"); type && type->is_string()) {
    std::string want(type->as_string()), have = TypeOf(value);
    bool ok = want == have || (want == "number" && have == "integer");
    if (!ok) return Misfit(path, StrCat("expected ", want, ", got ", have));
  }
  if (const json::value* options = schema.if_contains("enum"); options && options->is_array()) {
    const json::array& a = options->as_array();
    if (std::find(a.begin(), a.end(), value) == a.end())
      return Misfit(path, StrCat(json::serialize(value), " is not one of ", json::serialize(a)));
  }
  auto bound = [&schema](const char* name) -> std::optional<double> {
    const json::value* v = schema.if_contains(name);
    if (!v || !v->is_number()) return std::nullopt;
    return v->to_number<double>();
  };
  if (value.is_number()) {
    double x = value.to_number<double>();
    if (auto min = bound("minimum"); min && x < *min) return Misfit(path, "below the minimum");
    if (auto max = bound("maximum"); max && x > *max) return Misfit(path, "above the maximum");
  }
  if (value.is_string()) {
    auto size = static_cast<double>(value.as_string().size());
    if (auto min = bound("minLength"); min && size < *min) return Misfit(path, "too short");
    if (auto max = bound("maxLength"); max && size > *max) return Misfit(path, "too long");
  }
  if (value.is_array()) {
    const json::array& a = value.as_array();
    auto size = static_cast<double>(a.size());
    if (auto min = bound("minItems"); min && size < *min) return Misfit(path, "too few items");
    if (auto max = bound("maxItems"); max && size > *max) return Misfit(path, "too many items");
    if (const json::value* items = schema.if_contains("items"); items && items->is_object()) {
      for (size_t i = 0; i < a.size(); ++i)
        SLUICE_RETURN_IF_ERROR(CheckAt(a[i], items->as_object(), StrCat(path, "[", i, "]")));
    }
  }
  if (value.is_object()) {
    const json::object& o = value.as_object();
    const json::value* properties = schema.if_contains("properties");
    if (const json::value* required = schema.if_contains("required");
        required && required->is_array()) {
      for (const json::value& name : required->as_array()) {
        if (name.is_string() && !o.contains(name.as_string()))
          return Misfit(path, StrCat("missing \"", std::string_view(name.as_string()), "\""));
      }
    }
    for (const auto& [name, member] : o) {
      const json::value* sub = properties && properties->is_object()
                                   ? properties->as_object().if_contains(name)
                                   : nullptr;
      if (sub && sub->is_object()) {
        SLUICE_RETURN_IF_ERROR(CheckAt(member, sub->as_object(), StrCat(path, ".", name)));
      } else if (const json::value* extra = schema.if_contains("additionalProperties");
                 extra && extra->is_bool() && !extra->as_bool()) {
        return Misfit(path, StrCat("unexpected \"", std::string_view(name), "\""));
      }
    }
  }
  return absl::OkStatus();
}

// Models wrap JSON in prose or code fences now and then: take the outermost {...}.
std::string_view JsonPart(std::string_view text) {
  size_t begin = text.find('{'), end = text.rfind('}');
  if (begin == std::string_view::npos || end == std::string_view::npos || end < begin) return text;
  return text.substr(begin, end - begin + 1);
}

}  // namespace

Result<json::value> DocumentFitting(std::string_view reply, const json::object& schema) {
  boost::system::error_code ec;
  json::value value = json::parse(JsonPart(reply), ec);
  if (ec) return Misfit("$", StrCat("not JSON (", ec.message(), ")"));
  SLUICE_RETURN_IF_ERROR(CheckAgainstSchema(value, schema));
  return value;
}

Status CheckAgainstSchema(const json::value& value, const json::object& schema) {
  return CheckAt(value, schema, "$");
}

}  // namespace sluice::methods::remote

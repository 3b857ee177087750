// The JSON-schema subset remote methods hold model replies to (structured output): the
// schema a method or a user's pipeline gives, checked on every reply before it is stored.
#pragma once

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <string_view>

#include "common/status.h"

namespace sluice::methods::remote {

// Whether `value` fits `schema` (type, properties, required, additionalProperties, items,
// enum, minItems/maxItems, minLength/maxLength, minimum/maximum). InvalidArgument
// "does_not_fit_schema" naming the first place that does not, as a JSON path ("$.tags[2]").
Status CheckAgainstSchema(const boost::json::value& value, const boost::json::object& schema);

// The JSON document in a model's reply text — the outermost {...}, as models wrap it in prose or
// code fences now and then — when it fits `schema`; the same InvalidArgument when it does not,
// or when it is not JSON ("$: not JSON (…)").
Result<boost::json::value> DocumentFitting(std::string_view reply,
                                           const boost::json::object& schema);

}  // namespace sluice::methods::remote

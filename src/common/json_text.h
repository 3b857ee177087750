// JSON text a person can read: what every document, row and line sluice writes for people uses
// (result documents, step rows, CLI output). Numbers are the shortest text that reads back as
// the same double, without an exponent for ordinary magnitudes ("96.3", "0", "0.25", "1e-07");
// boost::json::serialize would write "9.63E1" and "0E0". Integers and strings are as JSON has
// them; NaN and infinities, which JSON lacks, become null.
//
// Any thread.
#pragma once

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <concepts>
#include <string>
#include <string_view>

namespace sluice {

std::string JsonText(const boost::json::value& value);
// The same text, appended to `out`.
void AppendJsonText(std::string& out, const boost::json::value& value);

// Exactly boost::json::serialize's text (numbers as Boost writes them, which read back as the
// same kind), appended to `out` without a string of its own.
void AppendSerializedJson(std::string& out, const boost::json::value& value);
// The length of boost::json::serialize(object), counted without writing it anywhere.
size_t SerializedJsonSize(const boost::json::object& object);
// `text` as a JSON string, quoted and escaped exactly as boost::json::serialize does.
void AppendJsonString(std::string& out, std::string_view text);

// The same for an object, which the overloads above would first copy into a value. (Templates,
// so that a number passed to the functions above is not also taken for an object's capacity.)
namespace json_text_internal {
std::string ObjectText(const boost::json::object& object);
void AppendObjectText(std::string& out, const boost::json::object& object);
void AppendSerializedObject(std::string& out, const boost::json::object& object);
}  // namespace json_text_internal

template <std::same_as<boost::json::object> Object>
std::string JsonText(const Object& object) {
  return json_text_internal::ObjectText(object);
}
template <std::same_as<boost::json::object> Object>
void AppendJsonText(std::string& out, const Object& object) {
  json_text_internal::AppendObjectText(out, object);
}
template <std::same_as<boost::json::object> Object>
void AppendSerializedJson(std::string& out, const Object& object) {
  json_text_internal::AppendSerializedObject(out, object);
}

}  // namespace sluice

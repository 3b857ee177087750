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
#include <string>
#include <string_view>

namespace sluice {

std::string JsonText(const boost::json::value& value);
// The same text, appended to `out`.
void AppendJsonText(std::string& out, const boost::json::value& value);

// Exactly boost::json::serialize's text (numbers as Boost writes them, which read back as the
// same kind), appended to `out` without a string of its own.
void AppendSerializedJson(std::string& out, const boost::json::value& value);
void AppendSerializedJson(std::string& out, const boost::json::object& object);
// The length of boost::json::serialize(object), counted without writing it anywhere.
size_t SerializedJsonSize(const boost::json::object& object);
// `text` as a JSON string, quoted and escaped exactly as boost::json::serialize does.
void AppendJsonString(std::string& out, std::string_view text);

}  // namespace sluice

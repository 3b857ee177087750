// JSON text a person can read: what every document, row and line sluice writes for people uses
// (result documents, step rows, CLI output). Numbers are the shortest text that reads back as
// the same double, without an exponent for ordinary magnitudes ("96.3", "0", "0.25", "1e-07");
// boost::json::serialize would write "9.63E1" and "0E0". Integers and strings are as JSON has
// them; NaN and infinities, which JSON lacks, become null.
//
// Any thread.
#pragma once

#include <boost/json/value.hpp>
#include <string>

namespace sluice {

std::string JsonText(const boost::json::value& value);
// The same text, appended to `out`.
void AppendJsonText(std::string& out, const boost::json::value& value);

}  // namespace sluice

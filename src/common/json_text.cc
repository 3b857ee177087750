#include "common/json_text.h"

#include <boost/json/serialize.hpp>
#include <charconv>
#include <cmath>

namespace sluice {
namespace {

void AppendNumber(std::string& out, double number) {
  if (!std::isfinite(number)) {
    out += "null";
    return;
  }
  char buffer[32];
  // Plain to_chars is the shortest round-trip form, fixed or scientific, whichever is shorter.
  auto [end, error] = std::to_chars(buffer, buffer + sizeof buffer, number);
  out.append(buffer, error == std::errc() ? end : buffer);
}

void Append(std::string& out, const boost::json::value& value) {
  switch (value.kind()) {
    case boost::json::kind::object: {
      out += '{';
      bool first = true;
      for (const auto& [key, member] : value.get_object()) {
        if (!first) out += ',';
        first = false;
        out += boost::json::serialize(boost::json::string_view(key));
        out += ':';
        Append(out, member);
      }
      out += '}';
      return;
    }
    case boost::json::kind::array: {
      out += '[';
      bool first = true;
      for (const boost::json::value& element : value.get_array()) {
        if (!first) out += ',';
        first = false;
        Append(out, element);
      }
      out += ']';
      return;
    }
    case boost::json::kind::double_:
      AppendNumber(out, value.get_double());
      return;
    default:  // strings, integers, booleans, null: as Boost writes them
      out += boost::json::serialize(value);
      return;
  }
}

}  // namespace

std::string JsonText(const boost::json::value& value) {
  std::string out;
  Append(out, value);
  return out;
}

void AppendJsonText(std::string& out, const boost::json::value& value) { Append(out, value); }

}  // namespace sluice

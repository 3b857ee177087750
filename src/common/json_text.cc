#include "common/json_text.h"

#include <boost/json/serializer.hpp>
#include <charconv>
#include <cmath>

namespace sluice {
namespace {

// Hands `take` boost::json::serialize's text of `what` piece by piece, through a buffer on the
// stack: the text without the string serialize returns.
template <class What, class Take>
void Serialize(What what, Take take) {
  boost::json::serializer writer;
  writer.reset(what);
  char buffer[1024];
  while (!writer.done()) take(writer.read(buffer, sizeof buffer));
}

template <class What>
void AppendThroughSerializer(std::string& out, What what) {
  Serialize(what,
            [&out](boost::json::string_view piece) { out.append(piece.data(), piece.size()); });
}

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

void Append(std::string& out, const boost::json::value& value);

void AppendObject(std::string& out, const boost::json::object& object) {
  out += '{';
  bool first = true;
  for (const auto& [key, member] : object) {
    if (!first) out += ',';
    first = false;
    AppendJsonString(out, key);
    out += ':';
    Append(out, member);
  }
  out += '}';
}

void Append(std::string& out, const boost::json::value& value) {
  switch (value.kind()) {
    case boost::json::kind::object:
      AppendObject(out, value.get_object());
      return;
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
      AppendSerializedJson(out, value);
      return;
  }
}

}  // namespace

std::string JsonText(const boost::json::value& value) {
  std::string out;
  Append(out, value);
  return out;
}

std::string json_text_internal::ObjectText(const boost::json::object& object) {
  std::string out;
  AppendObject(out, object);
  return out;
}

void AppendJsonText(std::string& out, const boost::json::value& value) { Append(out, value); }

void json_text_internal::AppendObjectText(std::string& out, const boost::json::object& object) {
  AppendObject(out, object);
}

void AppendSerializedJson(std::string& out, const boost::json::value& value) {
  AppendThroughSerializer(out, &value);
}

void json_text_internal::AppendSerializedObject(std::string& out,
                                                const boost::json::object& object) {
  AppendThroughSerializer(out, &object);
}

size_t SerializedJsonSize(const boost::json::object& object) {
  size_t size = 0;
  Serialize(&object, [&size](boost::json::string_view piece) { size += piece.size(); });
  return size;
}

void AppendJsonString(std::string& out, std::string_view text) {
  AppendThroughSerializer(out, boost::json::string_view(text.data(), text.size()));
}

}  // namespace sluice

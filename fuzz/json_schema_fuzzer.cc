// How remote methods read a model's structured reply: the JSON document in the reply text,
// checked against the method's or a user's schema. Any schema against any reply must give a
// verdict — the document, or InvalidArgument naming the place that does not fit as a JSON
// path — never a crash. The input is the schema, a NUL byte, then the reply text.
#include <boost/json/parse.hpp>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "methods/remote/json_schema.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  size_t split = input.find('\0');
  if (split == std::string_view::npos) return 0;
  boost::system::error_code ec;
  boost::json::value schema = boost::json::parse(input.substr(0, split), ec);
  if (ec || !schema.is_object()) return 0;
  sluice::Result<boost::json::value> document =
      sluice::methods::remote::DocumentFitting(input.substr(split + 1), schema.as_object());
  if (document.ok()) {
    // What fits once fits again: the verdict depends on the document alone.
    if (!sluice::methods::remote::CheckAgainstSchema(*document, schema.as_object()).ok())
      __builtin_trap();
  } else if (document.status().code() != absl::StatusCode::kInvalidArgument ||
             document.status().message().find('$') == std::string_view::npos) {
    __builtin_trap();  // a misfit is InvalidArgument naming where
  }
  return 0;
}

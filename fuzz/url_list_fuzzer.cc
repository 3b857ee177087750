// The URL-list reader (plain, CSV, JSONL) over any bytes: a list is whatever a user or an
// upstream system hands `sluice run`.
#include <cstddef>
#include <cstdint>
#include <sstream>
#include <string>

#include "queue/intake/url_list.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::istringstream in(std::string(reinterpret_cast<const char*>(data), size));
  sluice::Result<sluice::intake::UrlList> list = sluice::intake::ReadUrlList(in);
  if (list.ok()) {
    for (const std::string& url : list->urls) {
      if (url.empty()) __builtin_trap();  // an empty URL is never an item
    }
  }
  return 0;
}

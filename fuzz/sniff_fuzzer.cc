// The magic-byte sniffer over any body head: every download is classified by it.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "common/content_type.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  sluice::SniffContentType(std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}

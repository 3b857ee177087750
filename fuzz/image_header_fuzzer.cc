// The image header reader and the damage check over any file: both run on every downloaded
// image before a decoder sees it (the decompression-bomb guard).
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>

#include "media/image_header.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // The reader takes a file; one per process, rewritten for each input.
  static const std::filesystem::path file =
      std::filesystem::temp_directory_path() / ("sluice-fuzz-image." + std::to_string(getpid()));
  {
    std::ofstream out(file, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  }
  if (auto found = sluice::media::ReadImageSize(file)) {
    if (found->width < 0 || found->height < 0) __builtin_trap();
    // The guard holds for every declared size (no overflow lets a bomb through).
    sluice::Status checked = sluice::media::CheckPixels(found->width, found->height, 1 << 28);
    if (checked.ok() && static_cast<__int128>(found->width) * found->height > (1 << 28))
      __builtin_trap();
  }
  sluice::media::ImageWarnings(file);
  return 0;
}

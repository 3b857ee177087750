// Image dimensions from the first bytes of a file, without decoding: the check that stops a
// decompression bomb before any decoder allocates its canvas.
//
// Thread-safe: pure function.
#pragma once

#include <filesystem>
#include <optional>

namespace sluice::media {

struct ImageSize {
  int64_t width = 0;
  int64_t height = 0;
};

// Declared width and height of a JPEG, PNG, GIF, WebP or BMP file. std::nullopt for other
// formats or a header too damaged to read.
std::optional<ImageSize> ReadImageSize(const std::filesystem::path& file);

}  // namespace sluice::media

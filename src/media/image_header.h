// Image dimensions from the first bytes of a file, without decoding: the check that stops a
// decompression bomb before any decoder allocates its canvas.
//
// Thread-safe: pure function.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"

namespace sluice::media {

struct ImageSize {
  int64_t width = 0;
  int64_t height = 0;
};

// Declared width and height of a JPEG, PNG, GIF, WebP or BMP file. std::nullopt for other
// formats or a header too damaged to read.
std::optional<ImageSize> ReadImageSize(const std::filesystem::path& file);

// FailedPrecondition (cause "too_many_pixels") naming the size when width × height > max_pixels
// or a side is negative.
Status CheckPixels(int64_t width, int64_t height, int64_t max_pixels);

// What is wrong with a JPEG, PNG or GIF file that decoders forgive: a file cut short decodes
// to a partial picture (the rest grey or black) without an error. One line per finding, e.g.
// "truncated: no JPEG end-of-image marker"; empty for a whole file or another format.
std::vector<std::string> ImageWarnings(const std::filesystem::path& file);

}  // namespace sluice::media

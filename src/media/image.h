// Decoding a still image once, under limits (DESIGN.md §6: media is parsed under limits).
//
// The pixel count is read from the file's headers first (libavformat), so a decompression bomb
// — a small file that declares a huge canvas — is refused before a single pixel is allocated.
//
// Thread-safe. A shared image decodes at most once however many threads ask for it.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <opencv2/core.hpp>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "media/image_header.h"

namespace sluice::media {

struct ImageLimits {
  // Largest width × height decoded. Default 100 MP.
  int64_t max_pixels = 100'000'000;
};

// The image as 8-bit BGR. FailedPrecondition (cause "too_many_pixels") past the limit;
// InvalidArgument (cause "undecodable") when it cannot be decoded.
Result<cv::Mat> DecodeImage(const std::filesystem::path& file, const ImageLimits& limits = {});

// One item's image, decoded on first use and shared by every step of the item. An interface, so
// that code which only hands images around (the analyser, the runner) names no decoder: the
// decoding implementation lives with the decoders (OpenSharedImage) and reaches the rest through
// the method registry (methods::Registry::OpenMedia).
class SharedImage {
 public:
  virtual ~SharedImage() = default;
  // The decoded image (the same object for every caller), or the decode error.
  virtual Result<const cv::Mat*> Get() = 0;
  // What the decoder forgave (ImageWarnings: a truncated file decodes to a partial picture).
  // Filled by the first Get(); empty before it.
  virtual const std::vector<std::string>& warnings() const = 0;
  // How many times the file was actually decoded (0 or 1): lets tests prove sharing.
  virtual int decodes() const = 0;
  // The width and height the file's header declares (ReadImageSize), read at most once;
  // std::nullopt when it has none readable.
  virtual std::optional<ImageSize> DeclaredSize() = 0;
  // The file's bytes as stored, read at most once (the same string for every caller), or the
  // read's error: the steps that send an item's picture as it is (remote models) share a read.
  virtual Result<const std::string*> Bytes() = 0;
};

// The image in `file`, decoded (DecodeImage under `limits`) at most once however many threads
// ask for it.
std::unique_ptr<SharedImage> OpenSharedImage(std::filesystem::path file, ImageLimits limits);

}  // namespace sluice::media

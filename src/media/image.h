// Decoding a still image once, under limits (DESIGN.md §6: media is parsed under limits).
//
// The pixel count is read from the file's headers first (libavformat), so a decompression bomb
// — a small file that declares a huge canvas — is refused before a single pixel is allocated.
//
// Thread-safe. SharedImage decodes at most once however many threads ask for it.
#pragma once

#include <cstdint>
#include <filesystem>
#include <mutex>
#include <opencv2/core.hpp>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"

namespace sluice::media {

struct ImageLimits {
  // Largest width × height decoded. Default 100 MP.
  int64_t max_pixels = 100'000'000;
};

// The image as 8-bit BGR. FailedPrecondition (cause "too_many_pixels") past the limit;
// InvalidArgument (cause "undecodable") when it cannot be decoded.
Result<cv::Mat> DecodeImage(const std::filesystem::path& file, const ImageLimits& limits = {});

// One item's image, decoded on first use and shared by every step of the item.
class SharedImage {
 public:
  SharedImage(std::filesystem::path file, ImageLimits limits)
      : file_(std::move(file)), limits_(limits) {}
  // The decoded image (the same object for every caller), or the decode error.
  Result<const cv::Mat*> Get();
  // What the decoder forgave (ImageWarnings: a truncated file decodes to a partial picture).
  // Filled by the first Get(); empty before it.
  const std::vector<std::string>& warnings() const { return warnings_; }
  // How many times the file was actually decoded (0 or 1): lets tests prove sharing.
  int decodes() const { return decodes_; }

 private:
  std::filesystem::path file_;
  ImageLimits limits_;
  std::once_flag once_;
  std::optional<Result<cv::Mat>> image_;
  std::vector<std::string> warnings_;
  int decodes_ = 0;
};

}  // namespace sluice::media

#include "media/image.h"

#include <opencv2/imgcodecs.hpp>

#include "common/strings.h"
#include "media/frame.h"
#include "media/image_header.h"
#include "media/probe.h"

namespace sluice::media {

Result<cv::Mat> DecodeImage(const std::filesystem::path& file, const ImageLimits& limits) {
  SLUICE_ASSIGN_OR_RETURN(ProbeResult probe, Probe(file, {.max_pixels = limits.max_pixels}));
  if (probe.kind != MediaKind::kImage) {
    return Failure(absl::StatusCode::kInvalidArgument, "not_an_image",
                   StrCat("the file is ", MediaKindName(probe.kind), ", not a still image"));
  }
  SLUICE_RETURN_IF_ERROR(CheckPixels(probe.width, probe.height, limits.max_pixels));
  try {
    cv::Mat image = cv::imread(file.string(), cv::IMREAD_COLOR);
    // OpenCV 4.6 reads no GIF (and some WebP variants): libavcodec decodes those.
    if (image.empty()) return DecodeFirstFrame(file);
    return image;
  } catch (const cv::Exception& e) {
    return Failure(absl::StatusCode::kInvalidArgument, "undecodable",
                   StrCat("decoding failed: ", e.what()));
  }
}

Result<const cv::Mat*> SharedImage::Get() {
  std::call_once(once_, [this] {
    ++decodes_;
    image_.emplace(DecodeImage(file_, limits_));
    if (image_->ok()) warnings_ = ImageWarnings(file_);
  });
  if (!image_->ok()) return image_->status();
  return &**image_;
}

}  // namespace sluice::media

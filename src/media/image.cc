#include "media/image.h"

#include <mutex>
#include <opencv2/imgcodecs.hpp>

#include "common/file_io.h"
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

namespace {

class DecodedOnce : public SharedImage {
 public:
  DecodedOnce(std::filesystem::path file, ImageLimits limits)
      : file_(std::move(file)), limits_(limits) {}

  Result<const cv::Mat*> Get() override {
    std::call_once(once_, [this] {
      ++decodes_;
      image_.emplace(DecodeImage(file_, limits_));
      if (image_->ok()) warnings_ = ImageWarnings(file_);
    });
    if (!image_->ok()) return image_->status();
    return &**image_;
  }
  const std::vector<std::string>& warnings() const override { return warnings_; }
  int decodes() const override { return decodes_; }

  std::optional<ImageSize> DeclaredSize() override {
    std::call_once(size_once_, [this] { size_ = ReadImageSize(file_); });
    return size_;
  }

  Result<const std::string*> Bytes() override {
    std::call_once(bytes_once_, [this] { bytes_.emplace(ReadWholeFile(file_.string())); });
    if (!bytes_->ok()) return bytes_->status();
    return &**bytes_;
  }

 private:
  std::filesystem::path file_;
  ImageLimits limits_;
  std::once_flag size_once_;
  std::optional<ImageSize> size_;
  std::once_flag bytes_once_;
  std::optional<Result<std::string>> bytes_;
  std::once_flag once_;
  std::optional<Result<cv::Mat>> image_;
  std::vector<std::string> warnings_;
  int decodes_ = 0;
};

}  // namespace

std::unique_ptr<SharedImage> OpenSharedImage(std::filesystem::path file, ImageLimits limits) {
  return std::make_unique<DecodedOnce>(std::move(file), limits);
}

}  // namespace sluice::media

// media.probe, image.phash, image.colors, image.thumbnail, image.faces.
#include <algorithm>
#include <bit>
#include <cstdio>
#include <map>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/objdetect.hpp>

#include "common/strings.h"
#include "media/probe.h"
#include "methods/local/local_methods.h"

namespace sluice::methods {
Result<const cv::Mat*> ImageOf(const ItemContext& item) {
  if (!item.image) {
    return Failure(absl::StatusCode::kFailedPrecondition, "not_an_image",
                   "the item has no decodable image");
  }
  return item.image->Get();
}

namespace {

std::string Hex(const cv::Vec3b& bgr) {
  char text[8];
  std::snprintf(text, sizeof text, "#%02x%02x%02x", bgr[2], bgr[1], bgr[0]);
  return text;
}

class ProbeMethod : public Method {
 public:
  const MethodSpec& spec() const override {
    static const MethodSpec spec{.name = "media.probe",
                                 .version = 1,
                                 .kinds = {MediaKind::kImage, MediaKind::kVideo, MediaKind::kAudio},
                                 .inputs = {"file"},
                                 .description =
                                     "Kind, size, duration, codecs, frame rate and audio presence "
                                     "(libavformat, headers only)"};
    return spec;
  }
  Result<MethodOutput> Run(const ItemContext& item, const json::object&) const override {
    SLUICE_ASSIGN_OR_RETURN(media::ProbeResult probe, media::Probe(item.file));
    json::object out{{"kind", MediaKindName(probe.kind)},
                     {"mime", item.mime},
                     {"format", probe.format},
                     {"width", probe.width},
                     {"height", probe.height},
                     {"duration_s", probe.duration_s},
                     {"frame_rate", probe.frame_rate},
                     {"video_codec", probe.video_codec},
                     {"audio_codec", probe.audio_codec},
                     {"has_audio", probe.has_audio},
                     {"streams", probe.streams}};
    return MethodOutput{.value = std::move(out), .cost = {.bytes = item.size}};
  }
};

class PhashMethod : public Method {
 public:
  const MethodSpec& spec() const override {
    // Version 2: "thumb" added (what set.near_duplicates checks close hashes with).
    static const MethodSpec spec{.name = "image.phash",
                                 .version = 2,
                                 .kinds = {MediaKind::kImage},
                                 .inputs = {"image"},
                                 .output = "hash",
                                 .description =
                                     "64-bit DCT perceptual hash (near-identical images differ in "
                                     "few bits) and a 32x32 grey thumbnail"};
    return spec;
  }
  Result<MethodOutput> Run(const ItemContext& item, const json::object&) const override {
    SLUICE_ASSIGN_OR_RETURN(const cv::Mat* image, ImageOf(item));
    cv::Mat gray, small, floating, dct;
    cv::cvtColor(*image, gray, cv::COLOR_BGR2GRAY);
    cv::resize(gray, small, cv::Size(32, 32), 0, 0, cv::INTER_AREA);
    small.convertTo(floating, CV_32F);
    cv::dct(floating, dct);
    // The 8x8 lowest frequencies; the DC term (overall brightness) is left out of the median.
    std::vector<float> low;
    for (int y = 0; y < 8; ++y) {
      for (int x = 0; x < 8; ++x) low.push_back(dct.at<float>(y, x));
    }
    std::vector<float> sorted(low.begin() + 1, low.end());
    std::nth_element(sorted.begin(), sorted.begin() + sorted.size() / 2, sorted.end());
    float median = sorted[sorted.size() / 2];
    uint64_t hash = 0;
    for (size_t i = 0; i < 64; ++i) {
      if (low[i] > median) hash |= uint64_t{1} << (63 - i);
    }
    char hex[17];
    std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(hash));
    cv::Mat thumb;
    cv::resize(gray, thumb, cv::Size(kThumbSide, kThumbSide), 0, 0, cv::INTER_AREA);
    std::string levels;
    levels.reserve(kThumbSide * kThumbSide);
    for (int y = 0; y < kThumbSide; ++y) {
      for (int x = 0; x < kThumbSide; ++x)
        levels.push_back("0123456789abcdef"[thumb.at<uchar>(y, x) >> 4]);
    }
    return MethodOutput{.value = json::object{{"phash", hex}, {"thumb", std::move(levels)}}};
  }
};

class ColorsMethod : public Method {
 public:
  const MethodSpec& spec() const override {
    static const MethodSpec spec{
        .name = "image.colors",
        .version = 1,
        .kinds = {MediaKind::kImage},
        .inputs = {"image"},
        .description =
            "Dominant palette (k-means on a 64 px copy) with each colour's "
            "share of the pixels",
        .params = {{"colors", 5}}};
    return spec;
  }
  Status CompleteParams(json::object& params) const override {
    return RequireRange(params, "colors", 1, 16);
  }
  Result<MethodOutput> Run(const ItemContext& item, const json::object& params) const override {
    SLUICE_ASSIGN_OR_RETURN(const cv::Mat* image, ImageOf(item));
    int64_t wanted = params.at("colors").to_number<int64_t>();
    double scale = 64.0 / std::max(image->cols, image->rows);
    cv::Mat small, samples, labels, centers;
    cv::resize(*image, small, cv::Size(), std::min(1.0, scale), std::min(1.0, scale),
               cv::INTER_AREA);
    small.reshape(1, small.rows * small.cols).convertTo(samples, CV_32F);
    int k = static_cast<int>(std::min<int64_t>(wanted, samples.rows));
    cv::theRNG().state = 0x5eed;  // deterministic: the same image always gives the same palette
    cv::kmeans(samples, k, labels,
               cv::TermCriteria(cv::TermCriteria::EPS + cv::TermCriteria::COUNT, 20, 0.5), 2,
               cv::KMEANS_PP_CENTERS, centers);
    std::vector<int> counts(static_cast<size_t>(k), 0);
    for (int i = 0; i < labels.rows; ++i) ++counts[static_cast<size_t>(labels.at<int>(i))];
    std::vector<int> order(static_cast<size_t>(k));
    for (int i = 0; i < k; ++i) order[static_cast<size_t>(i)] = i;
    std::sort(order.begin(), order.end(), [&](int a, int b) { return counts[a] > counts[b]; });
    // Clusters that round to the same colour are one colour (k-means splits a flat area).
    std::vector<std::pair<std::string, int>> merged;
    for (int c : order) {
      if (counts[static_cast<size_t>(c)] == 0) continue;
      cv::Vec3b bgr(cv::saturate_cast<uchar>(centers.at<float>(c, 0)),
                    cv::saturate_cast<uchar>(centers.at<float>(c, 1)),
                    cv::saturate_cast<uchar>(centers.at<float>(c, 2)));
      std::string hex = Hex(bgr);
      auto same =
          std::find_if(merged.begin(), merged.end(), [&](const auto& m) { return m.first == hex; });
      if (same == merged.end()) {
        merged.emplace_back(hex, counts[static_cast<size_t>(c)]);
      } else {
        same->second += counts[static_cast<size_t>(c)];
      }
    }
    std::stable_sort(merged.begin(), merged.end(),
                     [](const auto& a, const auto& b) { return a.second > b.second; });
    json::array palette;
    for (const auto& [hex, count] : merged) {
      double share = static_cast<double>(count) / labels.rows;
      palette.push_back(json::object{{"hex", hex}, {"share", std::round(share * 1000) / 1000}});
    }
    return MethodOutput{.value = json::object{{"palette", palette}}};
  }
};

class ThumbnailMethod : public Method {
 public:
  const MethodSpec& spec() const override {
    static const MethodSpec spec{.name = "image.thumbnail",
                                 .version = 1,
                                 .kinds = {MediaKind::kImage},
                                 .inputs = {"image"},
                                 .description =
                                     "JPEG thumbnail no larger than max_side pixels, stored in the "
                                     "object store (artifact \"thumbnail\")",
                                 .params = {{"max_side", 256}, {"quality", 85}}};
    return spec;
  }
  Status CompleteParams(json::object& params) const override {
    SLUICE_RETURN_IF_ERROR(RequireRange(params, "max_side", 8, 4096));
    return RequireRange(params, "quality", 1, 100);
  }
  Result<MethodOutput> Run(const ItemContext& item, const json::object& params) const override {
    SLUICE_ASSIGN_OR_RETURN(const cv::Mat* image, ImageOf(item));
    int64_t max_side = params.at("max_side").to_number<int64_t>();
    int64_t quality = params.at("quality").to_number<int64_t>();
    double scale =
        std::min(1.0, static_cast<double>(max_side) / std::max(image->cols, image->rows));
    cv::Mat thumb;
    cv::resize(*image, thumb,
               cv::Size(std::max(1, static_cast<int>(std::lround(image->cols * scale))),
                        std::max(1, static_cast<int>(std::lround(image->rows * scale)))),
               0, 0, cv::INTER_AREA);
    std::vector<uchar> jpeg;
    cv::imencode(".jpg", thumb, jpeg, {cv::IMWRITE_JPEG_QUALITY, static_cast<int>(quality)});
    json::object out{{"width", thumb.cols},
                     {"height", thumb.rows},
                     {"bytes", static_cast<int64_t>(jpeg.size())}};
    MethodOutput output{.value = std::move(out)};
    output.artifacts.push_back({"thumbnail", "image/jpeg", std::string(jpeg.begin(), jpeg.end())});
    return output;
  }
};

class FacesMethod : public Method {
 public:
  static constexpr const char* kDefaultCascade =
      "/usr/share/opencv4/haarcascades/haarcascade_frontalface_default.xml";

  const MethodSpec& spec() const override {
    static const MethodSpec spec{
        .name = "image.faces",
        .version = 1,
        .kinds = {MediaKind::kImage},
        .inputs = {"image"},
        .description =
            "Frontal faces (OpenCV Haar cascade from opencv-data): count and "
            "boxes",
        .params = {{"min_size", 30}, {"scale_factor", 1.1}, {"min_neighbors", 5}}};
    return spec;
  }
  Status CompleteParams(json::object& params) const override {
    if (params.at("scale_factor").to_number<double>() <= 1.0)
      return absl::InvalidArgumentError("scale_factor must be greater than 1");
    SLUICE_RETURN_IF_ERROR(RequireRange(params, "min_size", 1, 100'000));
    return RequireRange(params, "min_neighbors", 0, 1000);
  }
  Result<MethodOutput> Run(const ItemContext& item, const json::object& params) const override {
    SLUICE_ASSIGN_OR_RETURN(const cv::Mat* image, ImageOf(item));
    // The cascade is not safe to share across threads; each CPU-pool thread loads its own once.
    thread_local cv::CascadeClassifier cascade;
    if (cascade.empty() && !cascade.load(kDefaultCascade)) {
      return Failure(absl::StatusCode::kFailedPrecondition, "model_missing",
                     StrCat("cannot load ", kDefaultCascade, " (install opencv-data)"));
    }
    double scale_factor = params.at("scale_factor").to_number<double>();
    int64_t min_size = params.at("min_size").to_number<int64_t>();
    int64_t min_neighbors = params.at("min_neighbors").to_number<int64_t>();
    cv::Mat gray;
    cv::cvtColor(*image, gray, cv::COLOR_BGR2GRAY);
    cv::equalizeHist(gray, gray);
    std::vector<cv::Rect> found;
    cascade.detectMultiScale(gray, found, scale_factor, static_cast<int>(min_neighbors), 0,
                             cv::Size(static_cast<int>(min_size), static_cast<int>(min_size)));
    json::array faces;
    for (const cv::Rect& r : found)
      faces.push_back(json::object{{"x", r.x}, {"y", r.y}, {"w", r.width}, {"h", r.height}});
    return MethodOutput{
        .value = json::object{{"count", static_cast<int64_t>(found.size())}, {"faces", faces}}};
  }
};

}  // namespace

std::unique_ptr<MethodBase> NewProbeMethod() { return std::make_unique<ProbeMethod>(); }
std::unique_ptr<MethodBase> NewPhashMethod() { return std::make_unique<PhashMethod>(); }
std::unique_ptr<MethodBase> NewColorsMethod() { return std::make_unique<ColorsMethod>(); }
std::unique_ptr<MethodBase> NewThumbnailMethod() { return std::make_unique<ThumbnailMethod>(); }
std::unique_ptr<MethodBase> NewFacesMethod() { return std::make_unique<FacesMethod>(); }

}  // namespace sluice::methods

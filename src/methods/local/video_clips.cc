// video.clips: each clip chosen by llm.clips cut from the stored video into an MP4 artifact,
// with a poster picture from its middle. Only these segments get pictures.
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "common/strings.h"
#include "media/clip.h"
#include "media/frame.h"
#include "methods/local/local_methods.h"
#include "methods/local/stream_spans.h"

namespace sluice::methods {
namespace {

Result<media::ClipMode> ModeOf(std::string_view name) {
  if (name == "auto") return media::ClipMode::kAuto;
  if (name == "copy") return media::ClipMode::kCopy;
  if (name == "encode") return media::ClipMode::kEncode;
  return absl::InvalidArgumentError(
      StrCat("mode must be \"auto\", \"copy\" or \"encode\", not \"", name, "\""));
}

class ClipsMethod : public Method {
 public:
  const MethodSpec& spec() const override {
    static const MethodSpec spec{
        .name = "video.clips",
        .version = 2,
        .kinds = {MediaKind::kVideo},
        .inputs = {"file", "result:llm.clips"},
        .description =
            "The clips llm.clips chose, cut into MP4 files (packets copied when a "
            "clip starts on a keyframe; otherwise only the picture up to the next "
            "keyframe re-encoded, or all of it with mode=encode) with a poster each",
        .params = {{"mode", "auto"}, {"crf", 23}, {"max_clips", 10}, {"poster_width", 640}}};
    return spec;
  }
  Status CompleteParams(json::object& params) const override {
    SLUICE_RETURN_IF_ERROR(ModeOf(params.at("mode").as_string()).status());
    SLUICE_RETURN_IF_ERROR(RequireRange(params, "crf", 0, 51));
    SLUICE_RETURN_IF_ERROR(RequireRange(params, "max_clips", 1, 50));
    return RequireRange(params, "poster_width", 64, 3840);
  }

  Result<MethodOutput> Run(const ItemContext& item, const json::object& params) const override {
    SLUICE_ASSIGN_OR_RETURN(media::ClipMode mode, ModeOf(params.at("mode").as_string()));
    media::ClipOptions options{.mode = mode,
                               .crf = static_cast<int>(params.at("crf").to_number<int64_t>())};
    int poster_width = static_cast<int>(params.at("poster_width").to_number<int64_t>());
    size_t max_clips = static_cast<size_t>(params.at("max_clips").to_number<int64_t>());
    const json::array& chosen = item.results->at("llm.clips").at("clips").as_array();
    MethodOutput out;
    json::array clips;
    int64_t bytes = 0;
    for (size_t i = 0; i < chosen.size() && i < max_clips; ++i) {
      const json::object& wanted = chosen[i].as_object();
      double start = wanted.at("start_s").to_number<double>();
      double end = wanted.at("end_s").to_number<double>();
      SLUICE_ASSIGN_OR_RETURN(media::Clip clip, media::CutClip(item.file, start, end, options));
      SLUICE_ASSIGN_OR_RETURN(cv::Mat poster,
                              media::FrameAt(item.file, (clip.start_s + clip.end_s) / 2));
      if (poster.cols > poster_width) {
        cv::resize(poster, poster,
                   cv::Size(poster_width, std::max(1, poster.rows * poster_width / poster.cols)), 0,
                   0, cv::INTER_AREA);
      }
      std::vector<uint8_t> jpeg;
      cv::imencode(".jpg", poster, jpeg, {cv::IMWRITE_JPEG_QUALITY, 85});
      std::string clip_name = StrCat("clip_", i), poster_name = StrCat("poster_", i);
      bytes += static_cast<int64_t>(clip.mp4.size());
      clips.push_back(json::object{{"index", static_cast<int64_t>(i)},
                                   {"title", wanted.at("title")},
                                   {"start_s", RoundedSeconds(clip.start_s)},
                                   {"end_s", RoundedSeconds(clip.end_s)},
                                   {"duration_s", RoundedSeconds(clip.end_s - clip.start_s)},
                                   {"cut", media::ClipCutName(clip.cut)},
                                   {"encoded_s", RoundedSeconds(clip.encoded_s)},
                                   {"bytes", static_cast<int64_t>(clip.mp4.size())},
                                   {"clip", clip_name},
                                   {"poster", poster_name}});
      out.artifacts.push_back({clip_name, "video/mp4", std::move(clip.mp4)});
      out.artifacts.push_back({poster_name, "image/jpeg", std::string(jpeg.begin(), jpeg.end())});
    }
    out.value = json::object{{"clip_count", static_cast<int64_t>(clips.size())},
                             {"clips", std::move(clips)}};
    out.cost.bytes = bytes;
    return out;
  }
};

}  // namespace

std::unique_ptr<MethodBase> NewVideoClipsMethod() { return std::make_unique<ClipsMethod>(); }

}  // namespace sluice::methods

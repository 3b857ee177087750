// video.defects: black, frozen and silent spans, EBU R128 loudness, audio clipping, colour bars
// and a slate, all from the item's one decoding pass.
//
// The span detectors follow ffmpeg's filters of the same purpose, so their defaults mean what
// engineers who know those filters expect: blackdetect (a picture is black when at least
// black_picture_ratio of its pixels have luma at or below black_pixel_threshold of the video
// range), freezedetect (the mean absolute difference of all planes from the first frame of the
// span at or below freeze_noise_db) and silencedetect (every channel's amplitude below
// silence_noise_db). Loudness per EBU R128 (media/loudness.h: integrated, loudness range) and
// the true peak (media/true_peak.h), both checked against libebur128 in media's tests.
#include <algorithm>
#include <cmath>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

#include "common/strings.h"
#include "media/loudness.h"
#include "media/plane_stats.h"
#include "media/true_peak.h"
#include "methods/local/local_methods.h"
#include "methods/local/stream_spans.h"

namespace sluice::methods {
namespace {

double DbToAmplitude(double db) { return std::pow(10.0, db / 20.0); }

// Mean absolute difference of two planes of the same size, as a fraction of the 8-bit range.
double Mafd(const cv::Mat& a, const cv::Mat& b) {
  return static_cast<double>(media::SumOfAbsoluteDifferences(a, b)) /
         (static_cast<double>(a.total()) * 256.0);
}

// The same over a whole frame's planes together, as freezedetect measures it.
double FrameMafd(const media::VideoFrame& frame, const cv::Mat& y, const cv::Mat& u,
                 const cv::Mat& v) {
  auto sad = static_cast<double>(media::SumOfAbsoluteDifferences(frame.y, y) +
                                 media::SumOfAbsoluteDifferences(frame.u, u) +
                                 media::SumOfAbsoluteDifferences(frame.v, v));
  double count = static_cast<double>(y.total() + u.total() + v.total());
  return sad / count / 256.0;
}

// The colour-bar layouts ffmpeg and broadcasters use: stripes of full-on / off channels.
//   SMPTE (smptebars, smptehdbars): grey, yellow, cyan, green, magenta, red, blue.
//   EBU (pal75bars, pal100bars): white, yellow, cyan, green, magenta, red, blue, black.
constexpr int kSmpte[7][3] = {{1, 1, 1}, {1, 1, 0}, {0, 1, 1}, {0, 1, 0},
                              {1, 0, 1}, {1, 0, 0}, {0, 0, 1}};
constexpr int kEbu[8][3] = {{1, 1, 1}, {1, 1, 0}, {0, 1, 1}, {0, 1, 0},
                            {1, 0, 1}, {1, 0, 0}, {0, 0, 1}, {0, 0, 0}};

// Whether the column means `row` (1×W BGR, float) between columns [from, to) split into
// `count` equal stripes match `pattern` (R, G, B on/off per stripe): each stripe uniform and
// each channel clearly on (above half the brightest level) or off (below a quarter of it).
template <size_t N>
bool StripesMatch(const cv::Mat& row, int from, int to, const int (&pattern)[N][3]) {
  const int count = static_cast<int>(N);
  double width = static_cast<double>(to - from) / count;
  if (width < 3) return false;
  double top = 0;
  std::vector<cv::Vec3f> means(N);
  for (int s = 0; s < count; ++s) {
    // The middle 60% of each stripe: edges blur in scaling and compression.
    int a = from + static_cast<int>(width * (s + 0.2)),
        b = from + static_cast<int>(width * (s + 0.8));
    cv::Mat stripe = row.colRange(a, std::max(a + 1, b));
    cv::Scalar mean, deviation;
    cv::meanStdDev(stripe, mean, deviation);
    if (deviation[0] > 12 || deviation[1] > 12 || deviation[2] > 12) return false;
    means[static_cast<size_t>(s)] = cv::Vec3f(mean[0], mean[1], mean[2]);
    top = std::max({top, mean[0], mean[1], mean[2]});
  }
  if (top < 100) return false;  // a dark picture is not bars
  for (int s = 0; s < count; ++s) {
    for (int c = 0; c < 3; ++c) {
      double level = means[static_cast<size_t>(s)][2 - c];  // BGR → R, G, B
      bool on = pattern[s][c] == 1;
      if (on ? level < 0.5 * top : level > 0.25 * top) return false;
    }
  }
  return true;
}

// Bars are vertical: a picture is judged by the column means (BGR, float, 1×W each) of its upper
// band (a tenth to a half of the height: SMPTE bars fill the top two thirds, EBU bars the whole
// height) and of that band's two halves, which must agree.
struct BarBands {
  cv::Mat band, upper, lower;
};

bool LooksLikeBars(const BarBands& bands) {
  int w = bands.band.cols;
  if (cv::norm(bands.upper, bands.lower, cv::NORM_L1) / (w * 3.0) > 10) return false;
  // smptehdbars puts the seven bars between grey pillars of an eighth of the width each.
  return StripesMatch(bands.band, 0, w, kSmpte) ||
         StripesMatch(bands.band, w / 8, w - w / 8, kSmpte) || StripesMatch(bands.band, 0, w, kEbu);
}

// Column means of rows [from, to) of the overview, turned to BGR (BT.601 limited range, as
// OpenCV's I420 conversion): averaging before converting costs a conversion per column, not per
// pixel, and changes nothing for colours inside the gamut, as bars are.
cv::Mat OverviewColumns(const media::VideoFrame& frame, int from, int to) {
  cv::Mat y, u, v;
  cv::reduce(frame.small_y.rowRange(from, to), y, 0, cv::REDUCE_AVG, CV_32F);
  cv::reduce(frame.small_u.rowRange(from, to), u, 0, cv::REDUCE_AVG, CV_32F);
  cv::reduce(frame.small_v.rowRange(from, to), v, 0, cv::REDUCE_AVG, CV_32F);
  cv::Mat bgr(1, y.cols, CV_32FC3);
  for (int c = 0; c < y.cols; ++c) {
    float luma = 1.164f * (y.at<float>(c) - 16), cb = u.at<float>(c) - 128,
          cr = v.at<float>(c) - 128;
    bgr.at<cv::Vec3f>(c) = cv::Vec3f(std::clamp(luma + 2.018f * cb, 0.0f, 255.0f),
                                     std::clamp(luma - 0.813f * cr - 0.391f * cb, 0.0f, 255.0f),
                                     std::clamp(luma + 1.596f * cr, 0.0f, 255.0f));
  }
  return bgr;
}

// The bands of `frame`: from the pass's overview when it is at least 64 px wide, else from the
// planes reduced to 64 px wide and converted pixel by pixel.
BarBands BandsOf(const media::VideoFrame& frame) {
  const cv::Mat& small = frame.small_y;
  if (small.cols >= 64 && small.rows >= 10) {
    int h = small.rows;
    return {OverviewColumns(frame, h / 10, h / 2), OverviewColumns(frame, h / 10, h / 4),
            OverviewColumns(frame, h / 4, h / 2)};
  }
  int w = std::max(64, frame.y.cols / 10) / 2 * 2;
  int h = std::max(2, (frame.y.rows * w / frame.y.cols) / 2 * 2);
  cv::Mat bgr;
  cv::cvtColor(media::PackI420(frame.y, frame.u, frame.v, cv::Size(w, h)), bgr,
               cv::COLOR_YUV2BGR_I420);
  BarBands bands;
  cv::reduce(bgr.rowRange(h / 10, h / 2), bands.band, 0, cv::REDUCE_AVG, CV_32F);
  cv::reduce(bgr.rowRange(h / 10, h / 4), bands.upper, 0, cv::REDUCE_AVG, CV_32F);
  cv::reduce(bgr.rowRange(h / 4, h / 2), bands.lower, 0, cv::REDUCE_AVG, CV_32F);
  return bands;
}

// Whether a picture has the detail of a card (text, a logo): some strong edges.
bool HasDetail(const cv::Mat& y) {
  cv::Mat edges;
  cv::Canny(y, edges, 60, 180);
  return cv::countNonZero(edges) > static_cast<int>(y.total() / 500);
}

class DefectsSink : public media::StreamSink {
 public:
  explicit DefectsSink(const json::object& params)
      : black_(NumberParam(params, "black_min_duration_s")),
        freeze_(NumberParam(params, "freeze_min_duration_s")),
        silence_(NumberParam(params, "silence_min_duration_s")),
        bars_(NumberParam(params, "bars_min_duration_s")),
        black_ratio_(NumberParam(params, "black_picture_ratio")),
        black_pixel_(NumberParam(params, "black_pixel_threshold")),
        freeze_noise_(DbToAmplitude(NumberParam(params, "freeze_noise_db"))),
        silence_noise_(static_cast<float>(DbToAmplitude(NumberParam(params, "silence_noise_db")))),
        clip_level_(static_cast<float>(NumberParam(params, "clip_level"))),
        clip_min_run_(static_cast<int>(NumberParam(params, "clip_min_samples"))),
        clip_gap_s_(NumberParam(params, "clip_merge_s")),
        slate_min_s_(NumberParam(params, "slate_min_duration_s")),
        slate_start_s_(NumberParam(params, "slate_max_start_s")) {}

  void OnStart(const media::StreamInfo& info) override {
    info_ = info;
    // Limited ("TV") range luma, as nearly all video: black is 16, white 235.
    black_level_ = 16 + black_pixel_ * (235 - 16);
    if (info.has_audio) {
      loudness_.emplace(info.channels, info.sample_rate);
      true_peak_.emplace(info.channels, info.sample_rate);
    }
  }

  void OnFrame(const media::VideoFrame& frame) override {
    double frame_end = frame.time_s + FrameDuration();
    last_frame_end_ = std::max(last_frame_end_, frame_end);
    // Black: the share of pixels at or below the black level (integer compares: vectorised).
    // When at least that share is at or below the level, the mean is at most ratio × level +
    // (1 - ratio) × 255: a brighter overview (its block means rounded by at most half a
    // level) rules a picture out without counting, when the overview covers the whole picture.
    const auto level = static_cast<uint8_t>(std::min(255.0, std::floor(black_level_)));
    bool covered = frame.small_y.cols * 8 == frame.y.cols && frame.small_y.rows * 8 == frame.y.rows;
    bool black = false;
    if (!covered ||
        cv::mean(frame.small_y)[0] - 0.5 <= black_ratio_ * level + (1 - black_ratio_) * 255) {
      int64_t black_pixels = 0;
      for (int r = 0; r < frame.y.rows; ++r) {
        const uint8_t* p = frame.y.ptr<uint8_t>(r);
        uint32_t row = 0;
        for (int c = 0; c < frame.y.cols; ++c) row += p[c] <= level;
        black_pixels += row;
      }
      black =
          static_cast<double>(black_pixels) >= black_ratio_ * static_cast<double>(frame.y.total());
    }
    black_.Observe(black, frame.time_s);

    // Frozen: the planes together close to the first frame of the candidate span. The
    // overview bounds the difference from below (a mean of differences is at least the
    // difference of means, less one level for the means' rounding; luma is two thirds of a
    // 4:2:0 frame's samples), so a moving picture is known not frozen without the full sum.
    bool frozen = false;
    if (!reference_.y.empty()) {
      double overview_levels = Mafd(frame.small_y, reference_.small_y) * 256;
      bool surely_moving = (overview_levels - 1) * 2 / 3 > freeze_noise_ * 256;
      frozen = !surely_moving &&
               FrameMafd(frame, reference_.y, reference_.u, reference_.v) <= freeze_noise_;
    }
    if (frozen && !reference_held_) {
      // The span's first frame is the previous one, whose planes the pass is about to reuse.
      reference_ = Planes{reference_.y.clone(), reference_.u.clone(), reference_.v.clone(),
                          reference_.small_y.clone()};
      reference_held_ = true;
    } else if (!frozen) {
      // Views, not copies: the pass keeps this frame's planes until the next frame is seen.
      reference_ = Planes{frame.y, frame.u, frame.v, frame.small_y};
      reference_held_ = false;
      reference_time_ = frame.time_s;
    }
    // The span starts at the reference frame (the first of the frozen run), as freezedetect.
    freeze_.Observe(frozen, frozen ? reference_time_ : frame.time_s);

    // Colour bars: every frame, from column means of the overview.
    bars_.Observe(LooksLikeBars(BandsOf(frame)), frame.time_s);

    // Slate: a still, detailed, non-black, non-bars card from (nearly) the start.
    if (!slate_done_) TrackSlate(frame, black);
  }

  void OnAudio(const media::AudioBlock& audio) override {
    if (loudness_) loudness_->Add(audio.samples, audio.frames);
    if (true_peak_) true_peak_->Add(audio.samples, audio.frames);
    for (int f = 0; f < audio.frames; ++f) {
      float peak = 0;
      for (int c = 0; c < audio.channels; ++c)
        peak = std::max(peak, std::fabs(audio.samples[f * audio.channels + c]));
      double at = audio.time_s + static_cast<double>(f) / audio.sample_rate;
      silence_.Observe(peak < silence_noise_, at);
      if (peak >= clip_level_) {
        if (clip_run_ == 0) clip_run_start_ = at;
        ++clip_run_;
      } else {
        EndClipRun(at);
      }
    }
    audio_end_ = audio.time_s + static_cast<double>(audio.frames) / audio.sample_rate;
  }

  void OnEnd(const media::PassStats& stats) override {
    double end = std::max({last_frame_end_, audio_end_, stats.duration_s});
    black_.Close(last_frame_end_ > 0 ? last_frame_end_ : end);
    freeze_.Close(last_frame_end_ > 0 ? last_frame_end_ : end);
    bars_.Close(last_frame_end_ > 0 ? last_frame_end_ : end);
    silence_.Close(audio_end_ > 0 ? audio_end_ : end);
    EndClipRun(audio_end_);
    duration_s_ = end;
  }

  json::object Output() const {
    json::object out{{"duration_s", RoundedSeconds(duration_s_)},
                     {"black", black_.ToJson()},
                     {"frozen", freeze_.ToJson()},
                     {"color_bars", bars_.ToJson()},
                     {"silence", silence_.ToJson()}};
    if (slate_) {
      out["slate"] = json::object{{"start_s", RoundedSeconds(slate_->first)},
                                  {"end_s", RoundedSeconds(slate_->second)},
                                  {"duration_s", RoundedSeconds(slate_->second - slate_->first)}};
    } else {
      out["slate"] = nullptr;
    }
    if (loudness_) {
      double integrated = loudness_->IntegratedLufs(), range = loudness_->RangeLu();
      double peak = true_peak_ ? true_peak_->peak() : 0;
      json::object loudness{{"loudness_range_lu", RoundedSeconds(range)}};
      // Silence has no loudness: -inf is reported as null.
      loudness["integrated_lufs"] = std::isfinite(integrated)
                                        ? json::value(RoundedSeconds(integrated))
                                        : json::value(nullptr);
      loudness["true_peak_dbtp"] =
          peak > 0 ? json::value(RoundedSeconds(20 * std::log10(peak))) : json::value(nullptr);
      out["loudness"] = std::move(loudness);
      json::array clips;
      for (const auto& [from, to, samples] : clips_) {
        clips.push_back(json::object{{"start_s", RoundedSeconds(from)},
                                     {"end_s", RoundedSeconds(to)},
                                     {"clipped_samples", samples}});
      }
      out["clipping"] = std::move(clips);
    } else {
      out["loudness"] = nullptr;
      out["clipping"] = json::array{};
    }
    int64_t count =
        static_cast<int64_t>(black_.spans().size() + freeze_.spans().size() + bars_.spans().size() +
                             silence_.spans().size() + clips_.size()) +
        (slate_ ? 1 : 0);
    out["defect_count"] = count;
    return out;
  }

 private:
  double FrameDuration() const { return info_.frame_rate > 0 ? 1.0 / info_.frame_rate : 0; }

  void TrackSlate(const media::VideoFrame& frame, bool black) {
    if (slate_y_.empty()) {
      if (black) return;  // a slate may follow a few black frames
      if (frame.time_s > slate_start_s_ || !HasDetail(frame.y) || LooksLikeBars(BandsOf(frame))) {
        slate_done_ = true;
        return;
      }
      frame.y.copyTo(slate_y_);
      slate_start_ = frame.time_s;
      return;
    }
    // A card is still, but compression breathes: a looser noise floor than freeze detection.
    if (Mafd(frame.y, slate_y_) <= 0.01) return;
    slate_done_ = true;
    if (frame.time_s - slate_start_ >= slate_min_s_) slate_.emplace(slate_start_, frame.time_s);
  }

  void EndClipRun(double at) {
    if (clip_run_ >= clip_min_run_) {
      if (!clips_.empty() && clip_run_start_ - std::get<1>(clips_.back()) <= clip_gap_s_) {
        std::get<1>(clips_.back()) = at;
        std::get<2>(clips_.back()) += clip_run_;
      } else {
        clips_.emplace_back(clip_run_start_, at, clip_run_);
      }
    }
    clip_run_ = 0;
  }

  SpanTracker black_, freeze_, silence_, bars_;
  double black_ratio_, black_pixel_, freeze_noise_;
  float silence_noise_, clip_level_;
  int clip_min_run_;
  double clip_gap_s_, slate_min_s_, slate_start_s_;

  media::StreamInfo info_;
  double black_level_ = 0;
  // The first frame of a possible frozen span: views of the previous frame, or copies once a
  // span has begun (held).
  struct Planes {
    cv::Mat y, u, v, small_y;
  };
  Planes reference_;
  bool reference_held_ = false;
  double reference_time_ = 0;
  double last_frame_end_ = 0, audio_end_ = 0, duration_s_ = 0;
  std::optional<media::LoudnessMeter> loudness_;
  std::optional<media::TruePeakMeter> true_peak_;
  int64_t clip_run_ = 0;
  double clip_run_start_ = 0;
  std::vector<std::tuple<double, double, int64_t>> clips_;
  cv::Mat slate_y_;
  double slate_start_ = 0;
  bool slate_done_ = false;
  std::optional<std::pair<double, double>> slate_;
};

class DefectsMethod : public StreamMethod {
 public:
  const MethodSpec& spec() const override {
    static const MethodSpec spec{
        .name = "video.defects",
        .version = 1,
        .kinds = {MediaKind::kVideo, MediaKind::kAudio},
        .inputs = {"stream"},
        .description =
            "Black, frozen and silent spans, EBU R128 loudness, audio clipping, colour "
            "bars and a slate, from the item's one decoding pass",
        .params = {{"black_min_duration_s", 2.0},
                   {"black_picture_ratio", 0.98},
                   {"black_pixel_threshold", 0.10},
                   {"freeze_min_duration_s", 2.0},
                   {"freeze_noise_db", -60.0},
                   {"silence_min_duration_s", 2.0},
                   {"silence_noise_db", -60.0},
                   // Lossy codecs (AAC, MP3) smear clipped peaks below full scale: clipping is
                   // found reliably in PCM and lossless audio.
                   {"clip_level", 0.999},
                   {"clip_min_samples", 3},
                   {"clip_merge_s", 0.5},
                   {"bars_min_duration_s", 0.5},
                   {"slate_min_duration_s", 1.0},
                   {"slate_max_start_s", 1.0}}};
    return spec;
  }
  Status CompleteParams(json::object& params) const override {
    for (const char* name :
         {"black_min_duration_s", "freeze_min_duration_s", "silence_min_duration_s",
          "bars_min_duration_s", "slate_min_duration_s", "slate_max_start_s", "clip_merge_s"})
      SLUICE_RETURN_IF_ERROR(RequireRange(params, name, 0, 3600));
    SLUICE_RETURN_IF_ERROR(RequireRange(params, "black_picture_ratio", 0, 1));
    SLUICE_RETURN_IF_ERROR(RequireRange(params, "black_pixel_threshold", 0, 1));
    SLUICE_RETURN_IF_ERROR(RequireRange(params, "freeze_noise_db", -120, 0));
    SLUICE_RETURN_IF_ERROR(RequireRange(params, "silence_noise_db", -120, 0));
    SLUICE_RETURN_IF_ERROR(RequireRange(params, "clip_level", 0.5, 1));
    return RequireRange(params, "clip_min_samples", 1, 1'000'000);
  }
  Result<std::unique_ptr<media::StreamSink>> NewSink(const ItemContext&,
                                                     const json::object& params) const override {
    return std::unique_ptr<media::StreamSink>(std::make_unique<DefectsSink>(params));
  }
  Result<MethodOutput> Finish(media::StreamSink& sink, const media::PassStats&,
                              const ItemContext& item, const json::object&) const override {
    return MethodOutput{.value = static_cast<DefectsSink&>(sink).Output(),
                        .cost = {.bytes = item.size}};
  }
};

}  // namespace

std::unique_ptr<MethodBase> NewVideoDefectsMethod() { return std::make_unique<DefectsMethod>(); }

}  // namespace sluice::methods

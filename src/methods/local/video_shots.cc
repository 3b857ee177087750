// video.shots: shot boundaries (hard cuts and gradual transitions) and one keyframe per shot,
// from the item's one decoding pass.
//
// Each frame is seen through the pass's overview (8×8 block means of luma, 4×4 of chroma) and
// its histograms.
//   Hard cut at frame n: the pixel difference from frame n-1 is at least cut_min_score and at
//     least cut_ratio times the mean difference of the `window` frames on either side (an
//     adaptive threshold, as PySceneDetect's AdaptiveDetector: motion raises every frame's
//     difference alike, a cut only one frame's).
//   Gradual transition (fade, dissolve): twin comparison on histograms — a run of frames each
//     changing the histogram by at least gradual_step (two calm frames may interrupt it: a fade
//     out and in stands still at black), whose ends differ by at least gradual_total; the
//     boundary is the run's darkest frame when it goes through black, else its middle frame.
//   Shots shorter than min_shot_s are merged into the one before.
//   Keyframe: among frames sampled in the shot (away from transitions), the sharpest (variance
//     of the Laplacian, damped for flat pictures), kept as a JPEG artifact.
// Memory: a window of 2·window+1 frames' planes, one kept picture, the JPEGs.
#include <algorithm>
#include <cmath>
#include <deque>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "common/strings.h"
#include "media/plane_stats.h"
#include "methods/local/local_methods.h"
#include "methods/local/stream_spans.h"

namespace sluice::methods {
namespace {

// A frame reduced for comparison.
struct Features {
  cv::Mat y, u, v;                 // small planes
  std::array<float, 32> y_hist{};  // normalised
  std::array<float, 16> u_hist{}, v_hist{};
};

template <size_t N>
void Histogram(const cv::Mat& plane, std::array<float, N>& hist) {
  std::array<uint32_t, N> counts{};
  for (int r = 0; r < plane.rows; ++r) {
    const uint8_t* p = plane.ptr<uint8_t>(r);
    for (int c = 0; c < plane.cols; ++c) ++counts[p[c] * N / 256];
  }
  for (size_t i = 0; i < N; ++i)
    hist[i] = static_cast<float>(counts[i]) / static_cast<float>(plane.total());
}

template <size_t N>
double HistDistance(const std::array<float, N>& a, const std::array<float, N>& b) {
  double sum = 0;
  for (size_t i = 0; i < N; ++i) sum += std::fabs(a[i] - b[i]);
  return sum / 2;
}

Features Reduce(const media::VideoFrame& frame) {
  Features f{.y = frame.small_y.clone(), .u = frame.small_u.clone(), .v = frame.small_v.clone()};
  Histogram(f.y, f.y_hist);
  Histogram(f.u, f.u_hist);
  Histogram(f.v, f.v_hist);
  return f;
}

// Mean absolute pixel difference, luma weighted double (0–255).
double PixelDistance(const Features& a, const Features& b) {
  auto mad = [](const cv::Mat& x, const cv::Mat& y) {
    return static_cast<double>(media::SumOfAbsoluteDifferences(x, y)) /
           static_cast<double>(x.total());
  };
  return (2 * mad(a.y, b.y) + mad(a.u, b.u) + mad(a.v, b.v)) / 4;
}

// Histogram distance in [0, 1], luma weighted as much as both chroma planes.
double HistogramDistance(const Features& a, const Features& b) {
  return (HistDistance(a.y_hist, b.y_hist) +
          (HistDistance(a.u_hist, b.u_hist) + HistDistance(a.v_hist, b.v_hist)) / 2) /
         2;
}

struct Shot {
  int64_t start_frame = 0, end_frame = 0;  // [start, end)
  std::string transition;                  // how it began: "start", "cut", "gradual"
  int64_t transition_frames = 0;           // length of a gradual transition into it
  int64_t keyframe_frame = -1;
  cv::Mat keyframe_i420;  // the best candidate so far, encoded when the shot ends
  std::string keyframe_jpeg;
};

class ShotsSink : public media::StreamSink {
 public:
  explicit ShotsSink(const json::object& params)
      : cut_min_(NumberParam(params, "cut_min_score")),
        cut_ratio_(NumberParam(params, "cut_ratio")),
        window_(static_cast<size_t>(NumberParam(params, "window"))),
        gradual_step_(NumberParam(params, "gradual_step")),
        gradual_total_(NumberParam(params, "gradual_total")),
        min_shot_s_(NumberParam(params, "min_shot_s")),
        jpeg_quality_(static_cast<int>(NumberParam(params, "keyframe_quality"))) {}

  bool WantsAudio() const override { return false; }

  void OnStart(const media::StreamInfo& info) override { info_ = info; }

  void OnFrame(const media::VideoFrame& frame) override {
    Entry entry;
    entry.index = frame.index;
    entry.features = Reduce(frame);
    entry.distance = window_entries_.empty()
                         ? 0
                         : PixelDistance(window_entries_.back().features, entry.features);
    entry.hist_distance = window_entries_.empty()
                              ? 0
                              : HistogramDistance(window_entries_.back().features, entry.features);
    // The picture itself only where a keyframe may be taken: a candidate (every eighth
    // frame), a possible cut, the first calm frame after a change.
    bool changing = entry.hist_distance >= gradual_step_;
    if (entry.index % 8 == 0 || entry.distance >= cut_min_ || (previous_changing_ && !changing)) {
      entry.i420 = media::PackI420(frame.y, frame.u, frame.v);
      // The decoded picture too when the analysis one is sampled from it: the keyframe shown
      // is reduced from it properly.
      if (!frame.source_y.empty())
        entry.source_i420 = media::PackI420(frame.source_y, frame.source_u, frame.source_v);
    }
    previous_changing_ = changing;
    times_.push_back(frame.time_s);
    window_entries_.push_back(std::move(entry));
    if (window_entries_.size() > window_) Decide(window_entries_.size() - 1 - window_);
    while (window_entries_.size() > 2 * window_ + 1) window_entries_.pop_front();
  }

  void OnEnd(const media::PassStats& stats) override {
    // The last `window` frames, decided with what lookahead there is.
    size_t first = window_entries_.size() > window_ ? window_entries_.size() - window_ : 0;
    if (decided_ < static_cast<int64_t>(times_.size())) {
      for (size_t k = first; k < window_entries_.size(); ++k) {
        if (window_entries_[k].index >= decided_) Decide(k);
      }
    }
    frames_ = static_cast<int64_t>(times_.size());
    end_s_ = stats.duration_s;
    if (!times_.empty()) {
      double frame_s = info_.frame_rate > 0 ? 1 / info_.frame_rate : 0;
      end_s_ = std::max(times_.back() + frame_s, 0.0);
    }
    if (frames_ > 0) {
      current_.end_frame = frames_;
      Seal(current_);
      shots_.push_back(std::move(current_));
    }
  }

  // The result and one JPEG artifact per shot.
  MethodOutput Output() {
    MethodOutput out;
    json::array shots;
    for (size_t s = 0; s < shots_.size(); ++s) {
      Shot& shot = shots_[s];
      json::object doc{{"index", static_cast<int64_t>(s)},
                       {"start_frame", shot.start_frame},
                       {"end_frame", shot.end_frame},
                       {"start_s", RoundedSeconds(TimeOf(shot.start_frame))},
                       {"end_s", RoundedSeconds(TimeOf(shot.end_frame))},
                       {"transition", shot.transition}};
      doc["duration_s"] = RoundedSeconds(TimeOf(shot.end_frame) - TimeOf(shot.start_frame));
      if (shot.transition == "gradual") doc["transition_frames"] = shot.transition_frames;
      if (!shot.keyframe_jpeg.empty()) {
        std::string name = StrCat("keyframe_", s);
        doc["keyframe"] = name;
        doc["keyframe_frame"] = shot.keyframe_frame;
        doc["keyframe_s"] = RoundedSeconds(TimeOf(shot.keyframe_frame));
        out.artifacts.push_back({name, "image/jpeg", std::move(shot.keyframe_jpeg)});
      }
      shots.push_back(std::move(doc));
    }
    out.value = json::object{{"shot_count", static_cast<int64_t>(shots_.size())},
                             {"frames", frames_},
                             {"frame_rate", RoundedSeconds(info_.frame_rate)},
                             {"duration_s", RoundedSeconds(end_s_)},
                             {"analysis_size", json::array{info_.width, info_.height}},
                             {"shots", std::move(shots)}};
    return out;
  }

 private:
  struct Entry {
    int64_t index = 0;
    Features features;
    double distance = 0;       // pixel distance from the previous frame
    double hist_distance = 0;  // histogram distance from the previous frame
    cv::Mat i420;              // the frame at analysis size, for a keyframe
    cv::Mat source_i420;       // the frame as decoded, when larger (see VideoFrame::source_y)
  };

  double TimeOf(int64_t frame) const {
    if (frame < static_cast<int64_t>(times_.size())) return times_[static_cast<size_t>(frame)];
    return end_s_;
  }

  int64_t MinShotFrames() const {
    double rate = info_.frame_rate > 0 ? info_.frame_rate : 25;
    return std::max<int64_t>(1, static_cast<int64_t>(std::lround(min_shot_s_ * rate)));
  }

  void StartShot(int64_t at, std::string transition, int64_t transition_frames) {
    current_.end_frame = at;
    Seal(current_);
    shots_.push_back(std::move(current_));
    current_ = Shot{.start_frame = at, .transition = std::move(transition)};
    current_.transition_frames = transition_frames;
    best_score_ = -1;
  }

  // Frame `k` of the window, with `window_` frames of lookahead where the stream has them.
  void Decide(size_t k) {
    const Entry& entry = window_entries_[k];
    int64_t n = entry.index;
    decided_ = n + 1;
    if (n == 0) {
      current_ = Shot{.start_frame = 0, .transition = "start"};
      ConsiderKeyframe(entry, true);
      return;
    }
    double neighbours = 0;
    int counted = 0;
    for (size_t j = k >= window_ ? k - window_ : 0;
         j <= std::min(window_entries_.size() - 1, k + window_); ++j) {
      if (j == k || window_entries_[j].index == 0) continue;
      neighbours += window_entries_[j].distance;
      ++counted;
    }
    double mean = counted ? neighbours / counted : 0;
    bool long_enough = n - current_.start_frame >= MinShotFrames();
    if (entry.distance >= cut_min_ && entry.distance >= cut_ratio_ * std::max(mean, 0.5) &&
        long_enough) {
      StartShot(n, "cut", 0);
      gradual_.reset();
      ConsiderKeyframe(entry, true);
      return;
    }
    TrackGradual(entry);
    if (!gradual_) ConsiderKeyframe(entry, false);
  }

  // Twin comparison over histograms: a run of changing frames, kept when its ends differ enough.
  void TrackGradual(const Entry& entry) {
    bool changing = entry.hist_distance >= gradual_step_;
    if (!gradual_) {
      if (!changing) {
        last_calm_ = entry.features;
        return;
      }
      gradual_.emplace(Gradual{.start = entry.index, .last = entry.index, .before = last_calm_});
      NoteDarkest(entry);
      return;
    }
    NoteDarkest(entry);
    if (changing) {
      gradual_->last = entry.index;
      gradual_->last_features = entry.features;
      // A slow change of light over seconds is not a transition.
      double rate = info_.frame_rate > 0 ? info_.frame_rate : 25;
      if (entry.index - gradual_->start > static_cast<int64_t>(3 * rate)) gradual_.reset();
      return;
    }
    // A fade out and in passes through black, where frames stop changing for a moment: a run
    // survives a short calm.
    if (entry.index - gradual_->last <= kRunGap) return;
    // Calm again: the run ended at its last changing frame.
    Gradual run = std::move(*gradual_);
    gradual_.reset();
    last_calm_ = entry.features;
    if (run.before.y.empty()) return;
    double total = HistogramDistance(run.before, entry.features);
    int64_t length = run.last - run.start + 1;
    if (total < gradual_total_ || length < 3) return;
    // Through black, the new shot begins at the darkest frame; otherwise (a dissolve) in the
    // middle of the change.
    int64_t boundary = run.darkest_luma < kNearBlack && run.darkest > run.start
                           ? run.darkest
                           : run.start + length / 2;
    if (boundary - current_.start_frame < MinShotFrames()) return;
    StartShot(boundary, "gradual", length);
    // The picture after the run is the first one wholly of the new shot.
    ConsiderKeyframe(entry, true);
  }

  // The darkest frame of the open run (the later one of equals: the first of the new shot).
  void NoteDarkest(const Entry& entry) {
    double luma = cv::mean(entry.features.y)[0];
    if (luma <= gradual_->darkest_luma) {
      gradual_->darkest_luma = luma;
      gradual_->darkest = entry.index;
    }
  }

  void ConsiderKeyframe(const Entry& entry, bool fallback) {
    // Candidates every eighth frame (and the first of a shot, which any later one can beat),
    // judged at half size: sharpness ranks pictures alike at either size.
    if ((!fallback && entry.index % 8 != 0) || entry.i420.empty()) return;
    double score = -1;
    if (!fallback) {
      cv::Mat half, laplacian;
      cv::Mat luma = entry.i420.rowRange(0, entry.i420.rows * 2 / 3);
      cv::resize(luma, half, cv::Size(luma.cols / 2, luma.rows / 2), 0, 0, cv::INTER_AREA);
      cv::Laplacian(half, laplacian, CV_16S);
      cv::Scalar mean, deviation;
      cv::meanStdDev(laplacian, mean, deviation);
      cv::Scalar luma_mean, luma_deviation;
      cv::meanStdDev(entry.features.y, luma_mean, luma_deviation);
      // Damped for flat pictures (black, a fade's end): sharp noise is not a good keyframe.
      score = deviation[0] * deviation[0] * std::min(1.0, luma_deviation[0] / 20);
    }
    if (score <= best_score_ && !(fallback && best_score_ < 0 && current_.keyframe_i420.empty()))
      return;
    current_.keyframe_i420 = entry.source_i420.empty() ? entry.i420 : entry.source_i420;
    current_.keyframe_frame = entry.index;
    best_score_ = std::max(score, 0.0);
  }

  // The shot's keyframe as a JPEG, once its best candidate is known.
  void Seal(Shot& shot) const {
    if (shot.keyframe_i420.empty()) return;
    cv::Mat i420 = shot.keyframe_i420;
    if (i420.cols != info_.width) {  // the decoded picture: reduced to analysis size
      auto [y, u, v] = media::I420Planes(i420);
      i420 = media::PackI420(y, u, v, cv::Size(info_.width, info_.height));
    }
    cv::Mat bgr;
    cv::cvtColor(i420, bgr, cv::COLOR_YUV2BGR_I420);
    std::vector<uint8_t> jpeg;
    cv::imencode(".jpg", bgr, jpeg, {cv::IMWRITE_JPEG_QUALITY, jpeg_quality_});
    shot.keyframe_jpeg.assign(jpeg.begin(), jpeg.end());
    shot.keyframe_i420.release();
  }

  // Calm frames a gradual run may contain, and the mean luma under which a frame is black
  // (limited range: black is 16).
  static constexpr int64_t kRunGap = 2;
  static constexpr double kNearBlack = 32;

  struct Gradual {
    int64_t start = 0, last = 0;
    int64_t darkest = -1;
    double darkest_luma = 256;
    Features before;  // the last calm frame before the run
    Features last_features;
  };

  double cut_min_, cut_ratio_;
  size_t window_;
  double gradual_step_, gradual_total_, min_shot_s_;
  int jpeg_quality_;

  media::StreamInfo info_;
  std::deque<Entry> window_entries_;
  std::vector<double> times_;
  int64_t decided_ = 0;
  int64_t frames_ = 0;
  double end_s_ = 0;
  Features last_calm_;
  std::optional<Gradual> gradual_;
  Shot current_;
  double best_score_ = -1;
  bool previous_changing_ = false;
  std::vector<Shot> shots_;
};

class ShotsMethod : public StreamMethod {
 public:
  const MethodSpec& spec() const override {
    static const MethodSpec spec{
        .name = "video.shots",
        .version = 2,
        .kinds = {MediaKind::kVideo},
        .inputs = {"stream"},
        .description =
            "Shot boundaries (hard cuts, fades and dissolves) with a JPEG keyframe per "
            "shot, from the item's one decoding pass",
        .params = {{"cut_min_score", 6.0},
                   {"cut_ratio", 3.0},
                   {"window", 2},
                   {"gradual_step", 0.04},
                   {"gradual_total", 0.35},
                   {"min_shot_s", 0.4},
                   {"keyframe_quality", 85}}};
    return spec;
  }
  Status CompleteParams(json::object& params) const override {
    SLUICE_RETURN_IF_ERROR(RequireRange(params, "cut_min_score", 0, 255));
    SLUICE_RETURN_IF_ERROR(RequireRange(params, "cut_ratio", 1, 100));
    SLUICE_RETURN_IF_ERROR(RequireRange(params, "window", 1, 30));
    SLUICE_RETURN_IF_ERROR(RequireRange(params, "gradual_step", 0, 1));
    SLUICE_RETURN_IF_ERROR(RequireRange(params, "gradual_total", 0, 1));
    SLUICE_RETURN_IF_ERROR(RequireRange(params, "min_shot_s", 0, 3600));
    return RequireRange(params, "keyframe_quality", 1, 100);
  }
  Result<std::unique_ptr<media::StreamSink>> NewSink(const ItemContext&,
                                                     const json::object& params) const override {
    return std::unique_ptr<media::StreamSink>(std::make_unique<ShotsSink>(params));
  }
  Result<MethodOutput> Finish(media::StreamSink& sink, const media::PassStats&,
                              const ItemContext& item, const json::object&) const override {
    auto& shots = static_cast<ShotsSink&>(sink);
    MethodOutput out = shots.Output();
    out.cost.bytes = item.size;
    return out;
  }
};

}  // namespace

std::unique_ptr<MethodBase> NewVideoShotsMethod() { return std::make_unique<ShotsMethod>(); }

}  // namespace sluice::methods

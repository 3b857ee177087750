// The stream methods (video.shots, video.defects) on videos generated at test time from ffmpeg
// lavfi graphs, scored against the graphs' own timing; and the one decoding pass they share.
#include <gtest/gtest.h>

#include <boost/json/serialize.hpp>
#include <fstream>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <regex>
#include <utility>

#include "common/strings.h"
#include "media/frame.h"
#include "methods/builtin.h"
#include "methods/registry.h"
#include "methods/runner.h"
#include "quality/scores.h"
#include "storage/memory/memory_blob_store.h"
#include "testing/fixtures.h"
#include "testing/subprocess.h"
#include "testing/temp_dir.h"

namespace sluice::methods {
namespace {

namespace fx = sluice::testing;

constexpr char kSize[] = "size=640x360:rate=25";

// Five shots of 75 frames at 25 fps: a hard cut (75), another (150), a low-contrast cut between
// two dim patterns of the same histogram (225), and a fade out / fade in meeting at frame 300.
std::string ShotsGraph() {
  std::string s = kSize;
  return StrCat(
      "testsrc2=", s, ":d=3[a];testsrc=", s, ":d=3[b];testsrc2=", s,
      ":d=3,eq=contrast=0.25[c];testsrc2=", s,
      ":d=3,hflip,vflip,eq=contrast=0.25,fade=t=out:st=2.52:d=0.48[d];gradients=", s,
      ":d=3:speed=0.02:seed=39,fade=t=in:st=0:d=0.48[e];[a][b][c][d][e]concat=n=5:v=1:a=0[out_v]");
}
const std::vector<int64_t> kCutFrames = {75, 150, 225, 300};

// 15.1 s with a defect of every kind at known times (see DefectsFindEveryKindAtItsTime).
std::string DefectsGraph() {
  std::string s = kSize;
  return StrCat(
      "color=c=white:", s,
      ":d=1.6,drawtext=fontfile=/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf:text='SLATE "
      "TAKE 1':fontsize=48:x=100:y=150[s];testsrc2=",
      s, ":d=3[m1];color=c=black:", s, ":d=3[k];testsrc2=", s,
      ":d=0.04,loop=loop=74:size=1[f];smptebars=", s, ":d=1.5[b];testsrc2=", s,
      ":d=3[m2];[s][m1][k][f][b][m2]concat=n=6:v=1:a=0[out_v];"
      "sine=f=440:d=3:sample_rate=48000,volume=0.8,aformat=channel_layouts=stereo[a1];"
      "anullsrc=r=48000:cl=stereo:d=3[a2];"
      "sine=f=1000:d=1:sample_rate=48000,volume=12,aformat=channel_layouts=stereo[a3];"
      "sine=f=440:d=8.1:sample_rate=48000,volume=0.8,aformat=channel_layouts=stereo[a4];"
      "[a1][a2][a3][a4]concat=n=4:v=0:a=1[out_a]");
}

class VideoMethodsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new fx::TempDir();
    shots_ = fx::MakeFromFilterGraph(dir_->path(), "shots.mp4", ShotsGraph());
    // PCM sound: a lossy codec would smear the clipped burst below full scale.
    defects_ = fx::MakeFromFilterGraph(
        dir_->path(), "defects.mov", DefectsGraph(),
        {"-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "pcm_s16le"});
  }
  static void TearDownTestSuite() { delete dir_; }

  void SetUp() override { ASSERT_TRUE(RegisterBuiltinMethods(registry_).ok()); }

  StepResult Step(const std::string& method, const std::filesystem::path& file,
                  json::object params = {}) {
    Result<StepResult> step = rt_.Run(runner_.Run(method, file, std::move(params)));
    EXPECT_TRUE(step.ok()) << step.status();
    return step.ok() ? *step : StepResult{};
  }
  json::object Output(const std::string& method, const std::filesystem::path& file) {
    StepResult step = Step(method, file);
    EXPECT_TRUE(step.status.ok()) << method << ": " << step.status;
    return step.output.is_object() ? step.output.as_object() : json::object{};
  }

  static double Number(const json::value& v) { return v.to_number<double>(); }

  // Every span of `spans` ({start_s, end_s}) matched one to one with `truth`, each end within
  // 0.1 s.
  static void ExpectSpans(const json::value& spans,
                          const std::vector<std::pair<double, double>>& truth,
                          const std::string& what) {
    ASSERT_TRUE(spans.is_array()) << what;
    ASSERT_EQ(spans.as_array().size(), truth.size()) << what << ": " << json::serialize(spans);
    for (size_t i = 0; i < truth.size(); ++i) {
      const json::object& span = spans.as_array()[i].as_object();
      EXPECT_NEAR(Number(span.at("start_s")), truth[i].first, 0.1) << what << " " << i;
      EXPECT_NEAR(Number(span.at("end_s")), truth[i].second, 0.1) << what << " " << i;
    }
  }

  static inline fx::TempDir* dir_ = nullptr;
  static inline std::filesystem::path shots_, defects_;
  runtime::Runtime rt_;
  Registry registry_;
  storage::MemoryBlobStore store_;
  MethodRunner runner_{registry_, rt_, &store_};
};

TEST_F(VideoMethodsTest, ShotsFindEveryCutWithinOneFrame) {
  StepResult step = Step("video.shots", shots_);
  ASSERT_TRUE(step.status.ok()) << step.status;
  const json::object& out = step.output.as_object();
  EXPECT_EQ(out.at("frames").as_int64(), 375);
  const json::array& shots = out.at("shots").as_array();
  ASSERT_EQ(shots.size(), kCutFrames.size() + 1) << json::serialize(out);
  for (size_t i = 0; i < kCutFrames.size(); ++i) {
    int64_t start = shots[i + 1].as_object().at("start_frame").as_int64();
    EXPECT_LE(std::abs(start - kCutFrames[i]), 1) << "cut " << i << ": " << json::serialize(out);
  }
  EXPECT_EQ(shots[1].as_object().at("transition").as_string(), "cut");
  EXPECT_EQ(shots[4].as_object().at("transition").as_string(), "gradual");
  // Every shot has a decodable keyframe of analysis size, from inside the shot.
  for (const json::value& value : shots) {
    const json::object& shot = value.as_object();
    ASSERT_TRUE(shot.contains("keyframe")) << json::serialize(shot);
    int64_t at = shot.at("keyframe_frame").as_int64();
    EXPECT_GE(at, shot.at("start_frame").as_int64());
    EXPECT_LT(at, shot.at("end_frame").as_int64());
    std::string name(shot.at("keyframe").as_string());
    ASSERT_TRUE(step.artifacts.contains(name));
    std::string key(step.artifacts.at(name).as_string());
    Result<std::string> jpeg = rt_.Run(store_.Get(key, std::nullopt));
    ASSERT_TRUE(jpeg.ok()) << jpeg.status();
    cv::Mat picture =
        cv::imdecode(std::vector<uint8_t>(jpeg->begin(), jpeg->end()), cv::IMREAD_COLOR);
    EXPECT_EQ(picture.cols, 640);
    EXPECT_EQ(picture.rows, 360);
  }
}

TEST_F(VideoMethodsTest, DefectsFindEveryKindAtItsTime) {
  json::object out = Output("video.defects", defects_);
  ExpectSpans(out["black"], {{4.6, 7.6}}, "black");
  // The black stretch is still too (as ffmpeg's freezedetect also reports).
  ExpectSpans(out["frozen"], {{4.6, 7.6}, {7.6, 10.6}}, "frozen");
  ExpectSpans(out["color_bars"], {{10.6, 12.1}}, "color_bars");
  ExpectSpans(out["silence"], {{3.0, 6.0}}, "silence");
  ASSERT_TRUE(out["slate"].is_object()) << json::serialize(out);
  EXPECT_NEAR(Number(out["slate"].as_object().at("start_s")), 0.0, 0.1);
  EXPECT_NEAR(Number(out["slate"].as_object().at("end_s")), 1.6, 0.1);
  const json::array& clipping = out["clipping"].as_array();
  ASSERT_EQ(clipping.size(), 1u) << json::serialize(out);
  EXPECT_NEAR(Number(clipping[0].as_object().at("start_s")), 6.0, 0.1);
  EXPECT_NEAR(Number(clipping[0].as_object().at("end_s")), 7.0, 0.1);
}

TEST_F(VideoMethodsTest, LoudnessAgreesWithFfmpegEbur128) {
  // Steps of level over 24 s of stereo AAC: a loudness range worth measuring.
  std::filesystem::path levels = fx::MakeFromFilterGraph(
      dir_->path(), "levels.mp4",
      "sine=f=440:d=8:sample_rate=48000,volume=0.3[l1];sine=f=660:d=8:sample_rate=48000,"
      "volume=0.05[l2];sine=f=330:d=8:sample_rate=48000,volume=0.6[l3];[l1][l2][l3]concat=n=3:"
      "v=0:a=1,aformat=channel_layouts=stereo[out_a]");
  for (const std::filesystem::path& file : {levels, defects_}) {
    json::object out = Output("video.defects", file);
    const json::object& loudness = out["loudness"].as_object();
    fx::ProcessResult ffmpeg =
        fx::RunProcess({"/usr/bin/ffmpeg", "-nostats", "-i", file.string(), "-map", "0:a", "-af",
                        "ebur128=peak=true", "-f", "null", "-"},
                       dir_->path());
    ASSERT_EQ(ffmpeg.exit_code, 0) << ffmpeg.err;
    // The summary at the end: "I: -1.5 LUFS", "LRA: 21.0 LU", "Peak: 0.5 dBFS".
    auto last = [&](const std::string& label) {
      std::regex pattern(label + R"(:\s+(-?[0-9.]+))");
      double value = NAN;
      for (std::sregex_iterator it(ffmpeg.err.begin(), ffmpeg.err.end(), pattern), end; it != end;
           ++it)
        value = std::stod((*it)[1]);
      return value;
    };
    EXPECT_NEAR(Number(loudness.at("integrated_lufs")), last("I"), 0.5) << file;
    EXPECT_NEAR(Number(loudness.at("true_peak_dbtp")), last("Peak"), 0.5) << file;
    // The range of the level steps; the defects fixture's range spans silence and a clipped
    // burst, where the two implementations' percentile interpolation differs by more.
    if (file == levels) {
      EXPECT_NEAR(Number(loudness.at("loudness_range_lu")), last("LRA"), 0.5);
    }
  }
}

TEST_F(VideoMethodsTest, OneDecodeServesEveryStreamStepOfAnItem) {
  Result<ItemContext> item = ContextForFile(defects_);
  ASSERT_TRUE(item.ok());
  ItemMedia media = registry_.OpenMedia(*item, {});
  ASSERT_NE(media.stream, nullptr);
  std::vector<ItemStepCall> calls;
  for (const char* name : {"video.shots", "video.defects"}) {
    const MethodBase* method = registry_.Find(name);
    calls.push_back({method, *ResolveMethodParams(*method, {})});
  }
  std::vector<StepResult> steps =
      rt_.Run(ExecuteItemSteps(std::move(calls), *item, {.runtime = &rt_, .artifacts = &store_}));
  for (const StepResult& step : steps) EXPECT_TRUE(step.status.ok()) << step.method;
  EXPECT_EQ(media.stream->runs(), 1);
  EXPECT_GT(steps[0].output.as_object().at("shot_count").as_int64(), 3);
}

TEST_F(VideoMethodsTest, AudioOnlyAndSilentVideosAreAnalysedForWhatTheyHave) {
  std::filesystem::path audio = fx::MakeFromFilterGraph(
      dir_->path(), "tone.m4a",
      "sine=f=440:d=2:sample_rate=44100[t];anullsrc=r=44100:cl=mono:d=2.5[q];[t][q]concat=n=2:"
      "v=0:a=1[out_a]",
      {"-c:a", "aac"});
  json::object out = Output("video.defects", audio);
  ExpectSpans(out["silence"], {{2.0, 4.5}}, "silence");
  EXPECT_TRUE(out["loudness"].is_object());
  EXPECT_TRUE(out["black"].as_array().empty());
  // Not a video: shots do not apply to it.
  EXPECT_EQ(CauseOf(Step("video.shots", audio).status), "kind_not_accepted");

  std::filesystem::path mute =
      fx::MakeFromFilterGraph(dir_->path(), "mute.mp4", StrCat("testsrc2=", kSize, ":d=2[out_v]"));
  out = Output("video.defects", mute);
  EXPECT_TRUE(out["loudness"].is_null());
  EXPECT_TRUE(out["silence"].as_array().empty());
}

TEST_F(VideoMethodsTest, BrokenFilesFailWithACauseOrAreReadAsFarAsTheyGo) {
  // A header and nothing else: refused.
  std::ifstream whole(shots_, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(whole)), {});
  std::filesystem::path header = dir_->path() / "header.mp4";
  std::ofstream(header, std::ios::binary) << bytes.substr(0, 2048);
  StepResult refused = Step("video.shots", header);
  EXPECT_FALSE(refused.status.ok());
  EXPECT_EQ(CauseOf(refused.status), "undecodable") << refused.status;

  // Truncated with its index first (faststart): what is there is analysed.
  std::filesystem::path faststart = fx::MakeFromFilterGraph(
      dir_->path(), "faststart.mp4", StrCat("testsrc2=", kSize, ":d=4[out_v]"),
      {"-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-movflags",
       "+faststart"});
  std::ifstream in(faststart, std::ios::binary);
  std::string full((std::istreambuf_iterator<char>(in)), {});
  std::filesystem::path truncated = dir_->path() / "truncated.mp4";
  std::ofstream(truncated, std::ios::binary) << full.substr(0, full.size() / 2);
  StepResult partial = Step("video.shots", truncated);
  ASSERT_TRUE(partial.status.ok()) << partial.status;
  int64_t frames = partial.output.as_object().at("frames").as_int64();
  EXPECT_GT(frames, 10);
  EXPECT_LT(frames, 100);
}

TEST_F(VideoMethodsTest, LimitsFailTheItemWithACause) {
  MethodRunner strict(registry_, rt_, &store_,
                      {.stream = {.max_duration_s = 5, .max_pixels = 640 * 360}});
  Result<StepResult> too_long = rt_.Run(strict.Run("video.defects", defects_));
  ASSERT_TRUE(too_long.ok());
  EXPECT_EQ(CauseOf(too_long->status), "too_long") << too_long->status;
  MethodRunner small(registry_, rt_, &store_, {.stream = {.max_pixels = 320 * 240}});
  Result<StepResult> too_big = rt_.Run(small.Run("video.shots", shots_));
  ASSERT_TRUE(too_big.ok());
  EXPECT_EQ(CauseOf(too_big->status), "too_many_pixels") << too_big->status;
}

TEST_F(VideoMethodsTest, AnalysisSizeIsPartOfTheStepKey) {
  MethodRunner smaller(registry_, rt_, &store_, {.stream = {.analysis_short_side = 180}});
  Result<StepResult> small = rt_.Run(smaller.Run("video.shots", shots_));
  ASSERT_TRUE(small.ok());
  ASSERT_TRUE(small->status.ok()) << small->status;
  EXPECT_EQ(json::serialize(small->output.as_object().at("analysis_size")), "[320,180]");
  StepResult usual = Step("video.shots", shots_);
  EXPECT_NE(small->step_key, usual.step_key);
}

// A 720p video: detectors see pictures reduced to 640x360 by a fast filter, keyframes are reduced
// from the decoded pictures with area averaging (fine detail averages, it does not alias), cuts
// and spans stay exact.
TEST_F(VideoMethodsTest, LargerVideosAreReducedFastForDetectorsAndWellForKeyframes) {
  std::string s = "size=1280x720:rate=25";
  // The first shot is one-pixel stripes: point-sampled, a picture would be flat black or white
  // (and "black"); reduced with area averaging it is grey.
  std::filesystem::path video = fx::MakeFromFilterGraph(
      dir_->path(), "hd.mp4",
      StrCat("color=c=black:", s, ":d=2,format=yuv420p,geq=lum='if(mod(X,2),235,16)':cb=128:",
             "cr=128[a];smptebars=", s, ":d=2[b];color=c=black:", s, ":d=2[c];testsrc=", s,
             ":d=2[d];[a][b][c][d]concat=n=4:v=1:a=0[out_v]"),
      {"-c:v", "libx264", "-preset", "ultrafast", "-qp", "0", "-pix_fmt", "yuv420p"});
  StepResult step = Step("video.shots", video);
  ASSERT_TRUE(step.status.ok()) << step.status;
  const json::object& out = step.output.as_object();
  EXPECT_EQ(json::serialize(out.at("analysis_size")), "[640,360]");
  const json::array& shots = out.at("shots").as_array();
  ASSERT_EQ(shots.size(), 4u) << json::serialize(out);
  std::vector<int64_t> cuts = {50, 100, 150};
  for (size_t i = 0; i < cuts.size(); ++i)
    EXPECT_LE(std::abs(shots[i + 1].at("start_frame").as_int64() - cuts[i]), 1) << i;
  std::vector<cv::Mat> keyframes;
  for (const json::value& shot : shots) {
    std::string key(step.artifacts.at(std::string(shot.at("keyframe").as_string())).as_string());
    Result<std::string> jpeg = rt_.Run(store_.Get(key, std::nullopt));
    ASSERT_TRUE(jpeg.ok());
    keyframes.push_back(
        cv::imdecode(std::vector<uint8_t>(jpeg->begin(), jpeg->end()), cv::IMREAD_GRAYSCALE));
    ASSERT_EQ(keyframes.back().size(), cv::Size(640, 360));
  }
  cv::Scalar mean, deviation;
  cv::meanStdDev(keyframes[0], mean, deviation);
  EXPECT_NEAR(mean[0], 128, 12) << "the stripes averaged to grey";
  EXPECT_LT(deviation[0], 12);
  json::object defects = Output("video.defects", video);
  ExpectSpans(defects.at("black"), {{4.0, 6.0}}, "black");
  ExpectSpans(defects.at("color_bars"), {{2.0, 4.0}}, "bars");
  ExpectSpans(defects.at("frozen"), {{0.0, 2.0}, {2.0, 4.0}, {4.0, 6.0}}, "frozen");
}

// Peak RSS (KiB) of the one-pass analysis (shots and defects) of `file` as a process of its own.
int64_t PeakKib(const std::filesystem::path& file, const std::filesystem::path& dir) {
  std::filesystem::path out = dir / "peak.txt";
  fx::ProcessResult run = fx::RunProcess(
      {"/usr/bin/time", "-f", "%M", "-o", out.string(), VIDEO_PASS_BENCH, file.string()}, dir);
  EXPECT_EQ(run.exit_code, 0) << run.err;
  int64_t kib = 0;
  std::ifstream(out) >> kib;
  return kib;
}

TEST_F(VideoMethodsTest, MemoryDoesNotGrowWithTheVideosLength) {
  // 10 s, and the same looped to 5 minutes by stream copy (7,500 frames).
  std::filesystem::path short_clip = fx::MakeFromFilterGraph(
      dir_->path(), "ten-seconds.mp4",
      "testsrc2=size=320x240:rate=25:d=10[out_v];sine=f=440:d=10,asetnsamples=n=1024:p=0[out_a]");
  std::filesystem::path long_clip = dir_->path() / "five-minutes.mp4";
  fx::ProcessResult looped =
      fx::RunProcess({"/usr/bin/ffmpeg", "-v", "error", "-y", "-stream_loop", "29", "-i",
                      short_clip.string(), "-c", "copy", long_clip.string()},
                     dir_->path());
  ASSERT_EQ(looped.exit_code, 0) << looped.err;
  int64_t short_peak = PeakKib(short_clip, dir_->path());
  int64_t long_peak = PeakKib(long_clip, dir_->path());
  std::printf("peak RSS: 10 s %lld MB, 5 min %lld MB\n", static_cast<long long>(short_peak / 1024),
              static_cast<long long>(long_peak / 1024));
  ASSERT_GT(short_peak, 0);
#if defined(__SANITIZE_ADDRESS__)
  // AddressSanitizer keeps freed memory in quarantine (256 MB): RSS says nothing of the
  // program here; the debug build checks it.
  GTEST_SKIP() << "RSS is not the program's under ASan";
#endif
  // What grows with length is a few numbers per frame (frame times), not frames.
  EXPECT_LT(long_peak - short_peak, 16 * 1024) << "the pass held frames";
}

TEST_F(VideoMethodsTest, LocalTranscriptFindsTheSpeechAndItsTimes) {
  // Two sentences of espeak-ng speech at 2 s and 9 s over a test pattern.
  const std::string first = "the weather is nice today", second =
                                                             "we will go to the park and play "
                                                             "football with our friends";
  for (auto [name, text] : {std::pair{"one.wav", first}, std::pair{"two.wav", second}}) {
    fx::ProcessResult spoken = fx::RunProcess({"/usr/bin/espeak-ng", "-v", "en-us+f2", "-s", "140",
                                               "-w", (dir_->path() / name).string(), text},
                                              dir_->path());
    ASSERT_EQ(spoken.exit_code, 0) << spoken.err;
  }
  std::filesystem::path video = fx::MakeFromFilterGraph(
      dir_->path(), "speech.mp4",
      StrCat("testsrc2=", kSize, ":d=16[out_v];amovie=", (dir_->path() / "one.wav").string(),
             ",adelay=2000:all=1[s1];amovie=", (dir_->path() / "two.wav").string(),
             ",adelay=9000:all=1[s2];[s1][s2]amix=inputs=2:normalize=0,apad=whole_dur=16,"
             "asetnsamples=n=1024:p=0[out_a]"));
  StepResult step = Step("audio.transcript", video);
  ASSERT_TRUE(step.status.ok()) << step.status;
  const json::object& out = step.output.as_object();
  const json::array& segments = out.at("segments").as_array();
  ASSERT_GE(segments.size(), 2u) << json::serialize(out);
  EXPECT_NEAR(Number(segments.front().at("start_s")), 2.0, 0.5) << json::serialize(out);
  bool second_found = false;
  for (const json::value& segment : segments) {
    double start = Number(segment.at("start_s"));
    EXPECT_TRUE(start < 5.5 || start > 8.5) << "no speech between the sentences";
    second_found |= std::abs(start - 9.0) < 0.5;
  }
  EXPECT_TRUE(second_found) << json::serialize(out);
  // PocketSphinx's US English model on espeak-ng's en-us+f2 voice (the accuracy depends much
  // on the voice: bench/RESULTS.md); the floor keeps it from getting worse.
  double wer =
      quality::WordErrorRate(StrCat(first, " ", second), std::string(out.at("text").as_string()));
  std::printf("local transcript WER %.2f: \"%s\"\n", wer,
              std::string(out.at("text").as_string()).c_str());
  EXPECT_LE(wer, 0.3);
}

}  // namespace
}  // namespace sluice::methods

#include <ebur128.h>
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

#include "common/file_io.h"
#include "media/clip.h"
#include "media/frame.h"
#include "media/image.h"
#include "media/image_header.h"
#include "media/loudness.h"
#include "media/plane_stats.h"
#include "media/probe.h"
#include "media/true_peak.h"
#include "testing/fixtures.h"
#include "testing/subprocess.h"
#include "testing/temp_dir.h"

namespace sluice::media {
namespace {

class MediaTest : public ::testing::Test {
 protected:
  sluice::testing::TempDir dir_;
};

TEST_F(MediaTest, ProbesImages) {
  for (const char* name : {"a.jpg", "a.png", "a.gif", "a.webp"}) {
    auto file = sluice::testing::MakeSolidImage(dir_.path(), name, "#3366cc", "120x80");
    Result<ProbeResult> probe = Probe(file);
    ASSERT_TRUE(probe.ok()) << name << ": " << probe.status();
    EXPECT_EQ(probe->kind, MediaKind::kImage) << name << " format " << probe->format;
    EXPECT_EQ(probe->width, 120) << name;
    EXPECT_EQ(probe->height, 80) << name;
    EXPECT_FALSE(probe->has_audio);
  }
}

TEST_F(MediaTest, ProbesVideoWithAndWithoutAudio) {
  auto with_audio = sluice::testing::MakeVideo(dir_.path(), "a.mp4", 2, true);
  Result<ProbeResult> probe = Probe(with_audio);
  ASSERT_TRUE(probe.ok()) << probe.status();
  EXPECT_EQ(probe->kind, MediaKind::kVideo);
  EXPECT_EQ(probe->width, 320);
  EXPECT_EQ(probe->height, 240);
  EXPECT_NEAR(probe->duration_s, 2.0, 0.2);
  EXPECT_NEAR(probe->frame_rate, 25.0, 0.01);
  EXPECT_EQ(probe->video_codec, "h264");
  EXPECT_TRUE(probe->has_audio);
  EXPECT_EQ(probe->audio_codec, "aac");
  Result<ProbeResult> silent = Probe(sluice::testing::MakeVideo(dir_.path(), "b.mp4", 1, false));
  ASSERT_TRUE(silent.ok());
  EXPECT_FALSE(silent->has_audio);
}

TEST_F(MediaTest, NotMediaAndTruncatedFilesAreUndecodable) {
  std::ofstream(dir_.path() / "page.jpg") << "<html><body>nope</body></html>";
  Result<ProbeResult> probe = Probe(dir_.path() / "page.jpg");
  ASSERT_FALSE(probe.ok());
  EXPECT_EQ(CauseOf(probe.status()), "undecodable");
  EXPECT_EQ(Probe(dir_.path() / "absent.jpg").status().code(), absl::StatusCode::kNotFound);

  // A truncated JPEG either decodes partially at its declared size or fails as undecodable;
  // never a crash or another error.
  auto jpg = sluice::testing::MakeTextImage(dir_.path(), "t.jpg", "HELLO");
  std::filesystem::resize_file(jpg, 700);
  Result<cv::Mat> decoded = DecodeImage(jpg);
  if (decoded.ok()) {
    EXPECT_EQ(decoded->cols, 800);
  } else {
    EXPECT_EQ(CauseOf(decoded.status()), "undecodable") << decoded.status();
  }
}

TEST_F(MediaTest, TruncatedImagesAreMarkedAndWholeOnesAreNot) {
  for (const char* name : {"w.jpg", "w.png", "w.gif"}) {
    auto whole = sluice::testing::MakeTextImage(dir_.path(), name, "HELLO");
    EXPECT_EQ(ImageWarnings(whole), std::vector<std::string>{}) << name;
    auto cut = dir_.path() / (std::string("cut-") + name);
    std::filesystem::copy_file(whole, cut);
    std::filesystem::resize_file(cut, std::filesystem::file_size(whole) * 2 / 3);
    std::vector<std::string> warnings = ImageWarnings(cut);
    ASSERT_EQ(warnings.size(), 1u) << name;
    EXPECT_TRUE(warnings[0].starts_with("truncated")) << warnings[0];
  }
  // A JPEG cut short decodes to a partial picture; the shared image says so.
  auto jpg = sluice::testing::MakeTextImage(dir_.path(), "p.jpg", "HELLO", "800x400");
  std::filesystem::resize_file(jpg, std::filesystem::file_size(jpg) / 2);
  std::unique_ptr<SharedImage> image = OpenSharedImage(jpg, {});
  ASSERT_TRUE(image->Get().ok()) << image->Get().status();
  EXPECT_EQ(image->warnings(), std::vector<std::string>{"truncated: no JPEG end-of-image marker"});
}

TEST_F(MediaTest, HeaderSizesWithoutDecoding) {
  for (const char* name : {"s.jpg", "s.png", "s.gif", "s.webp", "s.bmp"}) {
    auto file = sluice::testing::MakeSolidImage(dir_.path(), name, "#808080", "321x123");
    std::optional<ImageSize> size = ReadImageSize(file);
    ASSERT_TRUE(size.has_value()) << name;
    EXPECT_EQ(size->width, 321) << name;
    EXPECT_EQ(size->height, 123) << name;
  }
  std::ofstream(dir_.path() / "short.png") << "\x89PNG";
  EXPECT_FALSE(ReadImageSize(dir_.path() / "short.png").has_value());
}

// Found by fuzz/image_header_fuzzer.cc: a BMP header declaring a negative width read as a
// negative size, whose product with the height passed the pixel limit.
TEST_F(MediaTest, DamagedHeadersNeverDeclareASizeThatSlipsPastTheLimit) {
  const char bytes[] =
      "BMGIF87\x00\x89\x11\x13\x14\x15\x14\x14\x14"
      "\xff\x55\xe9\xf8\x2a\xfb\x7f\xc3\xd4\x00\x00\x00";
  std::string bmp(bytes, sizeof(bytes) - 1);
  ASSERT_EQ(bmp.size(), 28u);
  std::ofstream(dir_.path() / "negative.bmp", std::ios::binary) << bmp;
  EXPECT_FALSE(ReadImageSize(dir_.path() / "negative.bmp").has_value());
  // A WebP extended header cut inside its size fields is not read past its end.
  std::string webp = std::string("RIFF\x10\x00\x00\x00WEBPVP8X", 16) + std::string(11, '\x01');
  std::ofstream(dir_.path() / "short.webp", std::ios::binary) << webp;
  EXPECT_FALSE(ReadImageSize(dir_.path() / "short.webp").has_value());
  // Sides whose product does not fit 64 bits, or a negative side, are refused.
  EXPECT_EQ(CauseOf(CheckPixels(int64_t{1} << 32, int64_t{1} << 32, 1 << 28)), "too_many_pixels");
  EXPECT_EQ(CauseOf(CheckPixels(-5, 100, 1 << 28)), "too_many_pixels");
  EXPECT_TRUE(CheckPixels(100, 0, 1 << 28).ok());
  EXPECT_TRUE(CheckPixels(1 << 14, 1 << 14, 1 << 28).ok());
  EXPECT_FALSE(CheckPixels((1 << 14) + 1, 1 << 14, 1 << 28).ok());
}

TEST_F(MediaTest, DecompressionBombIsRefusedBeforeDecoding) {
  auto bomb = sluice::testing::MakePngBomb(dir_.path(), "bomb.png", 50'000, 50'000);
  Result<ProbeResult> probe = Probe(bomb);
  ASSERT_FALSE(probe.ok());
  EXPECT_EQ(CauseOf(probe.status()), "too_many_pixels") << probe.status();
  Result<cv::Mat> image = DecodeImage(bomb);
  ASSERT_FALSE(image.ok());
  EXPECT_EQ(CauseOf(image.status()), "too_many_pixels");
  EXPECT_NE(image.status().message().find("50000x50000"), std::string::npos) << image.status();
}

TEST_F(MediaTest, DecodesEveryImageFormatIncludingGif) {
  for (const char* name : {"c.jpg", "c.png", "c.gif", "c.webp", "c.bmp"}) {
    auto file = sluice::testing::MakeSolidImage(dir_.path(), name, "#ff0000", "40x30");
    Result<cv::Mat> image = DecodeImage(file);
    ASSERT_TRUE(image.ok()) << name << ": " << image.status();
    EXPECT_EQ(image->cols, 40) << name;
    EXPECT_EQ(image->rows, 30) << name;
    cv::Vec3b center = image->at<cv::Vec3b>(15, 20);
    EXPECT_GT(center[2], 240) << name << " is not red";
    EXPECT_LT(center[0], 20) << name;
  }
}

TEST_F(MediaTest, FirstFrameOfAVideo) {
  Result<cv::Mat> frame =
      DecodeFirstFrame(sluice::testing::MakeVideo(dir_.path(), "v.mp4", 1, false));
  ASSERT_TRUE(frame.ok()) << frame.status();
  EXPECT_EQ(frame->cols, 320);
  EXPECT_EQ(frame->rows, 240);
}

TEST_F(MediaTest, LimitIsConfigurable) {
  auto file = sluice::testing::MakeSolidImage(dir_.path(), "a.png", "#ffffff", "200x100");
  EXPECT_TRUE(DecodeImage(file, {.max_pixels = 20'000}).ok());
  EXPECT_EQ(CauseOf(DecodeImage(file, {.max_pixels = 19'999}).status()), "too_many_pixels");
}

TEST_F(MediaTest, SharedImageDecodesOnceAcrossThreads) {
  auto file = sluice::testing::MakeTextImage(dir_.path(), "t.png", "SHARED");
  std::unique_ptr<SharedImage> shared = OpenSharedImage(file, {});
  std::vector<const cv::Mat*> seen(8);
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&, i] { seen[i] = *shared->Get(); });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(shared->decodes(), 1);
  for (const cv::Mat* m : seen) EXPECT_EQ(m, seen[0]);
  EXPECT_EQ(seen[0]->cols, 800);
}

TEST_F(MediaTest, SharedImageReadsItsHeaderAndBytesOnce) {
  auto file = sluice::testing::MakeSolidImage(dir_.path(), "b.png", "#336699", "120x80");
  std::unique_ptr<SharedImage> shared = OpenSharedImage(file, {});
  std::optional<ImageSize> size = shared->DeclaredSize();
  ASSERT_TRUE(size);
  EXPECT_EQ(size->width, 120);
  EXPECT_EQ(size->height, 80);
  Result<const std::string*> bytes = shared->Bytes();
  ASSERT_TRUE(bytes.ok()) << bytes.status();
  EXPECT_EQ(**bytes, *ReadWholeFile(file.string()));
  std::filesystem::remove(file);  // read once: later callers get the same bytes, no read
  Result<const std::string*> again = shared->Bytes();
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, *bytes);
  EXPECT_EQ(shared->DeclaredSize()->width, 120);
  EXPECT_EQ(shared->decodes(), 0);  // neither decodes the picture

  std::unique_ptr<SharedImage> missing = OpenSharedImage(dir_.path() / "none.png", {});
  EXPECT_FALSE(missing->Bytes().ok());
  EXPECT_FALSE(missing->DeclaredSize());
}

TEST(PlaneStatsTest, SumOfAbsoluteDifferencesAgreesWithOpenCv) {
  cv::RNG rng(11);
  for (cv::Size size : {cv::Size(640, 360), cv::Size(75, 43), cv::Size(3, 1)}) {
    cv::Mat a(size.height, size.width + 7, CV_8UC1), b(size, CV_8UC1);
    rng.fill(a, cv::RNG::UNIFORM, 0, 256);
    rng.fill(b, cv::RNG::UNIFORM, 0, 256);
    cv::Mat view = a.colRange(0, size.width);
    EXPECT_EQ(SumOfAbsoluteDifferences(view, b),
              static_cast<uint64_t>(cv::norm(view, b, cv::NORM_L1)))
        << size;
    EXPECT_EQ(SumOfAbsoluteDifferences(b, b), 0u);
  }
}

TEST(PlaneStatsTest, BlockMeansAreTheRoundedMeanOfEveryBlock) {
  cv::RNG rng(7);
  for (int block : {4, 8, 3}) {
    // Widths that leave columns outside the SIMD stretch and outside whole blocks, a view with
    // a stride wider than its width, and a plane narrower than a block.
    for (cv::Size size : {cv::Size(640, 360), cv::Size(75, 43), cv::Size(2, 9)}) {
      cv::Mat wide(size.height, size.width + 5, CV_8UC1);
      rng.fill(wide, cv::RNG::UNIFORM, 0, 256);
      cv::Mat plane = wide.colRange(0, size.width);
      cv::Mat means;
      BlockMeans(plane, block, means);
      int bw = std::min(block, size.width), bh = std::min(block, size.height);
      ASSERT_EQ(means.cols, size.width / bw);
      ASSERT_EQ(means.rows, size.height / bh);
      for (int oy = 0; oy < means.rows; ++oy) {
        for (int ox = 0; ox < means.cols; ++ox) {
          int sum = 0;
          for (int y = 0; y < bh; ++y)
            for (int x = 0; x < bw; ++x) sum += plane.at<uint8_t>(oy * bh + y, ox * bw + x);
          ASSERT_EQ(means.at<uint8_t>(oy, ox), (sum + bw * bh / 2) / (bw * bh))
              << "block " << block << " at " << ox << "," << oy << " of " << size;
        }
      }
    }
  }
}

// The meter against libebur128's true-peak mode, whose interpolator it shares: sines placed so
// their peaks fall between samples, a quiet stretch before a loud one (blocks the meter
// skips), odd block sizes, two channels of different levels, and 96 kHz (twice oversampled).
TEST(TruePeakTest, AgreesWithLibebur128) {
  for (int rate : {48000, 44100, 96000}) {
    const int channels = 2, frames = rate * 2;
    std::vector<float> samples(static_cast<size_t>(frames * channels));
    for (int f = 0; f < frames; ++f) {
      double t = static_cast<double>(f) / rate;
      double level = f < frames / 2 ? 0.05 : 0.7;
      samples[static_cast<size_t>(2 * f)] =
          static_cast<float>(level * std::sin(2 * M_PI * (rate / 4.0) * t + M_PI / 4));
      samples[static_cast<size_t>(2 * f + 1)] =
          static_cast<float>(level * 0.5 * std::sin(2 * M_PI * 997 * t));
    }
    ebur128_state* reference =
        ebur128_init(channels, static_cast<unsigned long>(rate), EBUR128_MODE_TRUE_PEAK);
    TruePeakMeter meter(channels, rate);
    for (int at = 0, block = 1; at < frames; at += block, block = block * 3 % 1031 + 1) {
      int n = std::min(block, frames - at);
      meter.Add(samples.data() + static_cast<size_t>(at) * channels, n);
      ebur128_add_frames_float(reference, samples.data() + static_cast<size_t>(at) * channels,
                               static_cast<size_t>(n));
    }
    double expected = 0;
    for (unsigned c = 0; c < channels; ++c) {
      double peak = 0;
      ebur128_true_peak(reference, c, &peak);
      expected = std::max(expected, peak);
    }
    ebur128_destroy(&reference);
    double sample_peak = 0;
    for (float s : samples) sample_peak = std::max(sample_peak, std::fabs(double{s}));
    EXPECT_GT(expected, sample_peak * 1.05) << rate << ": the peaks fall between samples";
    EXPECT_NEAR(20 * std::log10(meter.peak()), 20 * std::log10(expected), 0.01) << rate;
  }
}

// A stereo programme of `seconds` at 48 kHz: `levels` (dBFS peak of a 1 kHz sine, one per
// `span` seconds), with a second tone on the right channel.
std::vector<float> Programme(const std::vector<double>& levels, double span, int rate = 48000) {
  int frames = static_cast<int>(levels.size() * span * rate);
  std::vector<float> samples(static_cast<size_t>(frames) * 2);
  for (int f = 0; f < frames; ++f) {
    double t = static_cast<double>(f) / rate;
    double a = std::pow(10.0, levels[static_cast<size_t>(t / span)] / 20);
    samples[static_cast<size_t>(2 * f)] = static_cast<float>(a * std::sin(2 * M_PI * 1000 * t));
    samples[static_cast<size_t>(2 * f + 1)] = static_cast<float>(
        a * (0.7 * std::sin(2 * M_PI * 1000 * t) + 0.3 * std::sin(2 * M_PI * 150 * t)));
  }
  return samples;
}

// EBU Tech 3341 / 3342 reference cases, then agreement with libebur128 on a varied programme.
TEST(LoudnessTest, MeetsTheEbuCasesAndAgreesWithLibebur128) {
  auto measure = [](const std::vector<float>& samples, int rate = 48000) {
    LoudnessMeter meter(2, rate);
    // Uneven pieces, as decoders hand them out.
    size_t frames = samples.size() / 2;
    for (size_t at = 0, n = 1; at < frames; at += n, n = n * 7 % 2048 + 1)
      meter.Add(samples.data() + 2 * at, static_cast<int>(std::min(n, frames - at)));
    return meter;
  };
  std::vector<float> tone(static_cast<size_t>(48000 * 20 * 2));
  for (size_t f = 0; f < tone.size() / 2; ++f) {
    float v =
        static_cast<float>(std::pow(10.0, -23.0 / 20) * std::sin(2 * M_PI * 1000 * f / 48000.0));
    tone[2 * f] = tone[2 * f + 1] = v;
  }
  EXPECT_NEAR(measure(tone).IntegratedLufs(), -23.0, 0.1) << "EBU 3341 case 1";
  std::vector<float> steps(static_cast<size_t>(48000 * 40 * 2));
  for (size_t f = 0; f < steps.size() / 2; ++f) {
    double level = f < 48000 * 20 ? -20 : -30;
    float v =
        static_cast<float>(std::pow(10.0, level / 20) * std::sin(2 * M_PI * 1000 * f / 48000.0));
    steps[2 * f] = steps[2 * f + 1] = v;
  }
  EXPECT_NEAR(measure(steps).RangeLu(), 10, 1) << "EBU 3342 case 1";

  for (int rate : {48000, 44100}) {
    std::vector<float> programme = Programme({-12, -30, -18, -80, -24, -14, -40, -20}, 2.5, rate);
    LoudnessMeter meter = measure(programme, rate);
    ebur128_state* reference =
        ebur128_init(2, static_cast<unsigned long>(rate), EBUR128_MODE_I | EBUR128_MODE_LRA);
    ebur128_add_frames_float(reference, programme.data(), programme.size() / 2);
    double integrated = 0, range = 0;
    ebur128_loudness_global(reference, &integrated);
    ebur128_loudness_range(reference, &range);
    ebur128_destroy(&reference);
    EXPECT_NEAR(meter.IntegratedLufs(), integrated, 0.02) << rate;
    // libebur128 takes short-term blocks once a second, this meter ten times: close, not equal.
    EXPECT_NEAR(meter.RangeLu(), range, 1.0) << rate;
  }
  LoudnessMeter silent(2, 48000);
  std::vector<float> nothing(48000 * 2 * 5, 0.0f);
  silent.Add(nothing.data(), 48000 * 5);
  EXPECT_TRUE(std::isinf(silent.IntegratedLufs()));
  EXPECT_EQ(silent.RangeLu(), 0);
}

// The MD5 of every decoded picture of `file`, in display order; `errors` gets what the decoder
// complained of.
std::vector<std::string> PictureHashes(const std::filesystem::path& file, std::string& errors) {
  sluice::testing::ProcessResult run = sluice::testing::RunProcess(
      {"/usr/bin/ffmpeg", "-v", "error", "-i", file.string(), "-map", "0:v", "-f", "framemd5", "-"},
      file.parent_path());
  errors = run.err;
  std::vector<std::string> hashes;
  std::istringstream lines(run.out);
  for (std::string line; std::getline(lines, line);) {
    if (line.empty() || line[0] == '#') continue;
    hashes.push_back(line.substr(line.rfind(',') + 1));
  }
  return hashes;
}

TEST_F(MediaTest, SmartCutReencodesOnlyTheHeadAndCopiesTheRestBitForBit) {
  // 10 s at 25 fps with B-frames and a keyframe every 2 s; a clip from 3.0 to 7.0 s starts
  // mid-GOP and copying can take over at the keyframe at 4.0 s.
  auto source = sluice::testing::MakeFromFilterGraph(
      dir_.path(), "gop.mp4", "testsrc2=size=320x240:rate=25:d=10[out_v];sine=f=440:d=10[out_a]",
      {"-c:v", "libx264", "-preset", "veryfast", "-bf", "3", "-g", "50", "-keyint_min", "50",
       "-sc_threshold", "0", "-pix_fmt", "yuv420p", "-c:a", "aac"});
  Result<Clip> clip = CutClip(source, 3.0, 7.0);
  ASSERT_TRUE(clip.ok()) << clip.status();
  EXPECT_EQ(clip->cut, ClipCut::kSmart);
  EXPECT_NEAR(clip->start_s, 3.0, 0.02);
  EXPECT_NEAR(clip->encoded_s, 1.0, 0.02);
  auto file = dir_.path() / "clip.mp4";
  std::ofstream(file, std::ios::binary) << clip->mp4;
  std::string errors;
  std::vector<std::string> original = PictureHashes(source, errors);
  ASSERT_EQ(original.size(), 250u) << errors;
  std::vector<std::string> cut = PictureHashes(file, errors);
  EXPECT_EQ(errors, "") << "the splice decodes cleanly";
  // 4 s of pictures; a copy ends on the last picture whose references it holds, so with
  // reordering it may stop up to two pictures early.
  ASSERT_GE(cut.size(), 98u);
  ASSERT_LE(cut.size(), 100u);
  for (size_t i = 25; i < cut.size(); ++i)
    EXPECT_EQ(cut[i], original[75 + i]) << "copied picture " << i << " differs";
  // The re-encoded head shows the same pictures as the source, within compression loss.
  Result<cv::Mat> first = FrameAt(file, 0), wanted = FrameAt(source, 3.0);
  ASSERT_TRUE(first.ok() && wanted.ok());
  EXPECT_GT(cv::PSNR(*first, *wanted), 30);
  // Forced to re-encode everything, the same clip is all new pictures.
  Result<Clip> encoded = CutClip(source, 3.0, 7.0, {.mode = ClipMode::kEncode});
  ASSERT_TRUE(encoded.ok()) << encoded.status();
  EXPECT_EQ(encoded->cut, ClipCut::kEncoded);
  EXPECT_NEAR(encoded->encoded_s, 4.0, 0.02);
}

TEST_F(MediaTest, ClipsWithNoKeyframeInsideAreReencodedWhole) {
  auto source = sluice::testing::MakeFromFilterGraph(
      dir_.path(), "gop.mp4", "testsrc2=size=320x240:rate=25:d=10[out_v]",
      {"-c:v", "libx264", "-preset", "veryfast", "-g", "250", "-pix_fmt", "yuv420p"});
  Result<Clip> clip = CutClip(source, 3.0, 5.0);
  ASSERT_TRUE(clip.ok()) << clip.status();
  EXPECT_EQ(clip->cut, ClipCut::kEncoded);
  auto file = dir_.path() / "clip.mp4";
  std::ofstream(file, std::ios::binary) << clip->mp4;
  std::string errors;
  EXPECT_EQ(PictureHashes(file, errors).size(), 50u) << errors;
}

}  // namespace
}  // namespace sluice::media

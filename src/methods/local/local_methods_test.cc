// Each local method alone (MethodRunner) on fixtures generated at test time.
#include "methods/local/local_methods.h"

#include <gtest/gtest.h>

#include <bit>
#include <boost/json/serialize.hpp>
#include <opencv2/imgcodecs.hpp>

#include "common/strings.h"
#include "methods/builtin.h"
#include "methods/registry.h"
#include "methods/runner.h"
#include "storage/memory/memory_blob_store.h"
#include "testing/fixtures.h"
#include "testing/temp_dir.h"

namespace sluice::methods {
namespace {

namespace fx = sluice::testing;

// Largest per-channel difference between two "#rrggbb" colours.
int ColorDistance(std::string_view a, std::string_view b) {
  int worst = 0;
  for (size_t i = 1; i < 7; i += 2) {
    int x = std::stoi(std::string(a.substr(i, 2)), nullptr, 16),
        y = std::stoi(std::string(b.substr(i, 2)), nullptr, 16);
    worst = std::max(worst, std::abs(x - y));
  }
  return worst;
}

class LocalMethodsTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(RegisterBuiltinMethods(registry_).ok()); }

  json::object Output(const std::string& method, const std::filesystem::path& file,
                      json::object params = {}) {
    Result<StepResult> step = rt_.Run(runner_.Run(method, file, std::move(params)));
    EXPECT_TRUE(step.ok()) << step.status();
    if (!step.ok()) return {};
    EXPECT_TRUE(step->status.ok()) << method << ": " << step->status;
    last_ = *step;
    return step->output.is_object() ? step->output.as_object() : json::object{};
  }

  uint64_t Phash(const std::filesystem::path& file) { return *HashOf(Output("image.phash", file)); }

  runtime::Runtime rt_;
  Registry registry_;
  storage::MemoryBlobStore store_;
  MethodRunner runner_{registry_, rt_, &store_};
  fx::TempDir dir_;
  StepResult last_;
};

TEST_F(LocalMethodsTest, ProbeDescribesImagesAndVideos) {
  json::object image =
      Output("media.probe", fx::MakeSolidImage(dir_.path(), "a.png", "#123456", "300x200"));
  EXPECT_EQ(image["kind"].as_string(), "image");
  EXPECT_EQ(image["mime"].as_string(), "image/png");
  EXPECT_EQ(image["width"].as_int64(), 300);
  EXPECT_EQ(image["height"].as_int64(), 200);
  json::object video = Output("media.probe", fx::MakeVideo(dir_.path(), "v.mp4", 2, true));
  EXPECT_EQ(video["kind"].as_string(), "video");
  EXPECT_EQ(video["video_codec"].as_string(), "h264");
  EXPECT_TRUE(video["has_audio"].as_bool());
  EXPECT_NEAR(video["duration_s"].to_number<double>(), 2.0, 0.2);
  EXPECT_NEAR(video["frame_rate"].to_number<double>(), 25.0, 0.01);
}

TEST_F(LocalMethodsTest, PhashIsStableCloseForNearDuplicatesAndFarOtherwise) {
  auto sale = fx::MakeTextImage(dir_.path(), "sale.png", "SUMMER SALE");
  auto near = fx::MakeNearDuplicate(sale, "sale-small.jpg");
  auto other = fx::MakeTextImage(dir_.path(), "coffee.png", "FRESH COFFEE 2 FOR 1", "400x800");
  uint64_t a = Phash(sale);
  EXPECT_EQ(a, Phash(sale));
  EXPECT_LE(std::popcount(a ^ Phash(near)), 6);
  EXPECT_GT(std::popcount(a ^ Phash(other)), 10);
}

TEST_F(LocalMethodsTest, ColorsFindTheDominantPaletteWithShares) {
  json::object solid =
      Output("image.colors", fx::MakeSolidImage(dir_.path(), "red.png", "#ff0000"));
  json::array palette = solid["palette"].as_array();
  EXPECT_EQ(palette[0].at("hex").as_string(), "#ff0000");
  EXPECT_NEAR(palette[0].at("share").to_number<double>(), 1.0, 1e-9);

  std::filesystem::path halves = dir_.path() / "halves.png";
  cv::Mat two(100, 100, CV_8UC3, cv::Scalar(255, 0, 0));      // blue (BGR)
  two(cv::Rect(0, 0, 100, 70)).setTo(cv::Scalar(0, 255, 0));  // 70 % green
  cv::imwrite(halves.string(), two);
  json::array mix = Output("image.colors", halves, {{"colors", 2}})["palette"].as_array();
  ASSERT_EQ(mix.size(), 2u);
  // Area resampling blends the boundary row, so centres land within a few levels of the colours.
  EXPECT_LE(ColorDistance(mix[0].at("hex").as_string(), "#00ff00"), 6)
      << mix[0].at("hex").as_string();
  EXPECT_NEAR(mix[0].at("share").to_number<double>(), 0.7, 0.03);
  EXPECT_LE(ColorDistance(mix[1].at("hex").as_string(), "#0000ff"), 6)
      << mix[1].at("hex").as_string();
}

TEST_F(LocalMethodsTest, ThumbnailIsStoredAndFitsTheBox) {
  json::object thumb =
      Output("image.thumbnail", fx::MakeTextImage(dir_.path(), "t.png", "THUMB", "800x300"));
  EXPECT_EQ(thumb["width"].as_int64(), 256);
  EXPECT_EQ(thumb["height"].as_int64(), 96);
  ASSERT_TRUE(last_.artifacts.contains("thumbnail"));
  std::string key(last_.artifacts["thumbnail"].as_string());
  EXPECT_TRUE(key.starts_with("objects/"));
  std::string jpeg = *rt_.Run(store_.Get(key, std::nullopt));
  cv::Mat decoded = cv::imdecode(std::vector<uchar>(jpeg.begin(), jpeg.end()), cv::IMREAD_COLOR);
  EXPECT_EQ(decoded.cols, 256);
  EXPECT_EQ(decoded.rows, 96);
  // Small images are not enlarged.
  EXPECT_EQ(
      Output("image.thumbnail", fx::MakeSolidImage(dir_.path(), "s.png", "#fff", "40x20"))["width"]
          .as_int64(),
      40);
  // A value the method refuses is refused with the params, before the method runs.
  Result<StepResult> bad =
      rt_.Run(runner_.Run("image.thumbnail", dir_.path() / "s.png", {{"quality", 0}}));
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(LocalMethodsTest, FacesFindsTheDrawnFaceAndNoneInText) {
  json::object text =
      Output("image.faces", fx::MakeTextImage(dir_.path(), "t.png", "NO FACES HERE"));
  EXPECT_EQ(text["count"].as_int64(), 0);
  json::object face = Output("image.faces", fx::MakeFaceImage(dir_.path(), "face.png"));
  ASSERT_EQ(face["count"].as_int64(), 1) << boost::json::serialize(face);
  const json::value& box = face["faces"].as_array()[0];
  EXPECT_NEAR(box.at("x").to_number<double>() + box.at("w").to_number<double>() / 2, 200,
              40);  // centred
}

TEST_F(LocalMethodsTest, OcrReadsTheTextWithWordBoxes) {
  json::object ocr =
      Output("ocr.tesseract", fx::MakeTextImage(dir_.path(), "sale.png", "SUMMER SALE", "900x200"));
  std::string text(ocr["text"].as_string());
  EXPECT_NE(text.find("SUMMER"), std::string::npos) << text;
  EXPECT_NE(text.find("SALE"), std::string::npos) << text;
  json::array words = ocr["words"].as_array();
  ASSERT_GE(words.size(), 2u);
  EXPECT_EQ(words[0].at("text").as_string(), "SUMMER");
  EXPECT_GT(words[0].at("confidence").to_number<double>(), 50);
  EXPECT_GT(words[0].at("box").at("w").as_int64(), 50);
  for (const json::value& word : words)
    EXPECT_FALSE(sluice::Trim(std::string(word.at("text").as_string())).empty())
        << "a word of only whitespace";
  Result<StepResult> klingon =
      rt_.Run(runner_.Run("ocr.tesseract", dir_.path() / "sale.png", {{"lang", "tlh"}}));
  EXPECT_EQ(CauseOf(klingon->status), "model_missing");
}

TEST_F(LocalMethodsTest, AStepOnATruncatedImageSaysItSawAPartialPicture) {
  auto jpg = fx::MakeTextImage(dir_.path(), "cut.jpg", "HALF", "800x400");
  std::filesystem::resize_file(jpg, std::filesystem::file_size(jpg) / 2);
  json::object hash = Output("image.phash", jpg);
  ASSERT_TRUE(hash.contains("decode_warnings")) << json::serialize(hash);
  EXPECT_EQ(hash["decode_warnings"].as_array().at(0).as_string(),
            "truncated: no JPEG end-of-image marker");
  json::object whole = Output("image.phash", fx::MakeTextImage(dir_.path(), "whole.jpg", "ALL"));
  EXPECT_FALSE(whole.contains("decode_warnings")) << json::serialize(whole);
}

TEST_F(LocalMethodsTest, DecompressionBombFailsTheStepNotTheProcess) {
  auto bomb = fx::MakePngBomb(dir_.path(), "bomb.png", 60'000, 60'000);
  for (const char* method : {"image.phash", "image.colors", "ocr.tesseract", "media.probe"}) {
    Result<StepResult> step = rt_.Run(runner_.Run(method, bomb));
    ASSERT_TRUE(step.ok());
    EXPECT_EQ(CauseOf(step->status), "too_many_pixels") << method << ": " << step->status;
  }
}

}  // namespace
}  // namespace sluice::methods

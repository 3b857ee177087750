#include "quality/corpus_scores.h"

#include <gtest/gtest.h>

#include <cmath>

#include "common/strings.h"

namespace sluice::quality {
namespace {
namespace json = boost::json;

json::object Truth() {
  return json::parse(R"({
    "creatives": [
      {"file": "c0.png", "headline": "BEST SELLER", "lines": ["Norvak", "BEST SELLER", "shop now"],
       "size_class": "small"},
      {"file": "c1.png", "headline": "WINTER COLLECTION", "lines": ["WINTER COLLECTION", "Zentro"],
       "size_class": "large"}],
    "near": [{"group": "g0", "files": ["n0.png", "n0.jpg"]}, {"group": "t0", "files": ["t0.png"]}],
    "videos": [
      {"file": "shots.mp4", "cut_frames": [75, 150]},
      {"file": "defects.mov", "spans": {"black": [[4.6, 7.6]], "silence": [[3.0, 6.0]]}},
      {"file": "speech.mp4", "transcript": "the weather is nice today"}]})")
      .as_object();
}

CorpusOutputs Outputs() {
  CorpusOutputs out;
  out.results["c0.png"]["ocr.tesseract"] = {{"text", "Norvak\nBEST SELEER\nshop now"}};
  out.results["c1.png"]["ocr.tesseract"] = {{"text", "WINTER COLLECTION\nZentro"}};
  for (const char* file : {"n0.png", "n0.jpg", "t0.png", "c0.png", "c1.png"})
    out.results[file]["image.phash"] = {{"phash", "0000000000000000"}};
  out.file_of_url = {{"u:n0.png", "n0.png"}, {"u:n0.jpg", "n0.jpg"}, {"u:t0.png", "t0.png"}};
  out.set_results["set.near_duplicates"] = json::parse(
      R"({"groups": [[{"url": "u:n0.png"}, {"url": "u:n0.jpg"}, {"url": "u:t0.png"}]]})");
  out.results["shots.mp4"]["video.shots"] =
      json::parse(R"({"shots": [{"start_frame": 0}, {"start_frame": 76}, {"start_frame": 160}]})")
          .as_object();
  out.results["defects.mov"]["video.defects"] =
      json::parse(R"({"black": [{"start_s": 4.62, "end_s": 7.58}], "silence": []})").as_object();
  out.results["speech.mp4"]["audio.transcript"] = {{"text", "the weather is ice today"}};
  out.millis["ocr.tesseract"] = {10, 30, 20};
  return out;
}

TEST(CorpusScoresTest, ScoresEveryMethodAgainstTheTruth) {
  Result<json::object> scores = ScoreCorpus(Truth(), Outputs());
  ASSERT_TRUE(scores.ok()) << scores.status();
  const json::object& ocr = scores->at("ocr").as_object();
  EXPECT_DOUBLE_EQ(ocr.at("headline_exact_match").as_double(), 0.5);
  EXPECT_DOUBLE_EQ(ocr.at("word_recall").as_double(), 0.875);  // 7 of 8 words: not "seleer"
  EXPECT_DOUBLE_EQ(ocr.at("ms_per_image_p50").as_double(), 20);
  EXPECT_DOUBLE_EQ(ocr.at("by_size").at("large").at("headline_exact_match").as_double(), 1);
  const json::object& near = scores->at("near_duplicates").as_object();
  EXPECT_EQ(near.at("pairs_true").as_int64(), 1);
  EXPECT_EQ(near.at("pairs_found").as_int64(), 3);
  EXPECT_DOUBLE_EQ(near.at("precision").as_double(), 0.3333);
  EXPECT_DOUBLE_EQ(near.at("recall").as_double(), 1);
  const json::object& video = scores->at("video").as_object();
  EXPECT_DOUBLE_EQ(video.at("shot_cut_f1").as_double(), 0.5);
  EXPECT_DOUBLE_EQ(video.at("defect_span_f1").as_double(), 0.6667);  // 1 of 2 spans, 1 found
  EXPECT_DOUBLE_EQ(video.at("transcript_wer").as_double(), 0.2);
}

TEST(CorpusScoresTest, EmbeddingsAreScoredByWhatTheirNearestFiveAre) {
  json::object truth = json::parse(R"({"near": [
    {"group": "g", "files": ["g0", "g1", "g2", "g3", "g4", "g5"]},
    {"group": "t", "files": ["t0"]}, {"group": "u", "files": ["u0"]}]})")
                           .as_object();
  CorpusOutputs outputs;
  // The group near one direction; t0 nearer to g0 than g0's copies are, farther from them.
  for (int i = 0; i < 6; ++i) {
    outputs.results[StrCat("g", i)]["image.embedding"] =
        json::object{{"vector", json::array{1.0, 0.02 * i + (i == 0 ? 0 : 0.3)}}};
  }
  outputs.results["t0"]["image.embedding"] = json::object{{"vector", json::array{1.0, -0.01}}};
  outputs.results["u0"]["image.embedding"] = json::object{{"vector", json::array{0.0, 1.0}}};
  Result<json::object> scores = ScoreCorpus(truth, outputs);
  ASSERT_TRUE(scores.ok()) << scores.status();
  // g0's five nearest: t0 and four of its group (4/5); every other member's: its group (5/5).
  EXPECT_DOUBLE_EQ(scores->at("near_duplicates").at("embedding_precision_at_5").as_double(),
                   std::round((0.8 + 5 * 1.0) / 6 * 10000) / 10000);
  outputs.results.clear();
  EXPECT_FALSE(ScoreCorpus(truth, outputs)
                   ->at("near_duplicates")
                   .as_object()
                   .contains("embedding_precision_at_5"));
}

TEST(CorpusScoresTest, AMissingResultScoresAsNothingRead) {
  CorpusOutputs outputs = Outputs();
  outputs.results.erase("c1.png");
  Result<json::object> scores = ScoreCorpus(Truth(), outputs);
  ASSERT_TRUE(scores.ok());
  EXPECT_EQ(scores->at("ocr").at("failed").as_int64(), 1);
  EXPECT_DOUBLE_EQ(scores->at("ocr").at("headline_exact_match").as_double(), 0);
}

TEST(CorpusScoresTest, FloorsNameEveryScoreBelowOrAbove) {
  Result<json::object> scores = ScoreCorpus(Truth(), Outputs());
  ASSERT_TRUE(scores.ok());
  json::object floors = json::parse(R"({
    "min": {"ocr.word_recall": 0.8, "near_duplicates.precision": 0.9, "ocr.nonexistent": 0.1},
    "max": {"video.transcript_wer": 0.1}})")
                            .as_object();
  std::vector<std::string> violations = FloorViolations(*scores, floors);
  ASSERT_EQ(violations.size(), 3u);
  EXPECT_EQ(violations[0], "near_duplicates.precision = 0.3333, below its floor 0.9000");
  EXPECT_EQ(violations[1], "ocr.nonexistent: no score (its floor is 0.1000)");
  EXPECT_EQ(violations[2], "video.transcript_wer = 0.2000, above its ceiling 0.1000");
  EXPECT_TRUE(
      FloorViolations(*scores, json::object{{"min", json::object{{"ocr.word_recall", 0.5}}}})
          .empty());
  EXPECT_NE(ScoreTable(*scores).find("ocr.by_size.small.headline_exact_match"), std::string::npos);
}

TEST(CorpusScoresTest, TruthOfAnotherShapeIsRefused) {
  EXPECT_EQ(ScoreCorpus(json::object{{"x", 1}}, {}).status().code(),
            absl::StatusCode::kInvalidArgument);
  json::object bad = json::parse(R"({"creatives": [{"file": "a.png"}]})").as_object();
  EXPECT_EQ(ScoreCorpus(bad, {}).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace sluice::quality

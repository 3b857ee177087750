// The backfill: plan → shards → load on a store and a database, with bad lines, missing objects,
// an interrupted shard resumed, and tampered outputs refused.
#include "pipeline/backfill.h"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "common/strings.h"
#include "db/sqlite/sqlite_catalog.h"
#include "index/faiss/faiss_index.h"
#include "methods/builtin.h"
#include "storage/memory/memory_blob_store.h"
#include "testing/temp_dir.h"

namespace sluice::pipeline {
namespace {

namespace json = boost::json;

// A small picture: a colour field with a shape, different for each n.
std::string Picture(int n) {
  cv::Mat image(48 + n, 64, CV_8UC3, cv::Scalar(40 * n % 255, 90, 200 - 20 * n));
  cv::circle(image, cv::Point(10 + 5 * n, 24), 8 + n, cv::Scalar(255, 255, 255), -1);
  std::vector<uchar> png;
  cv::imencode(".png", image, png);
  return std::string(png.begin(), png.end());
}

class BackfillTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(methods::RegisterBuiltinMethods(registry_).ok());
    std::string manifest = "# staged for the catalogue\n";
    for (int n = 0; n < 7; ++n) {
      std::string key = StrCat("staged/img-", n, ".png");
      ASSERT_TRUE(rt_.Run(store_.PutBytes(key, Picture(n), {})).ok());
      StrAppend(manifest, key, "\n");
      if (n == 2) StrAppend(manifest, "../etc/passwd\n\n");  // a bad line, then a blank one
      if (n == 4) StrAppend(manifest, "staged/missing.png\n");
    }
    StrAppend(manifest, "staged/img-1.png\n");  // the same picture twice
    ASSERT_TRUE(rt_.Run(store_.PutBytes("staged/manifest.txt", manifest, {})).ok());
    auto catalog = db::SqliteCatalog::Open(dir_.path() / "sluice.db");
    ASSERT_TRUE(catalog.ok()) << catalog.status();
    catalog_ = *std::move(catalog);
  }

  std::string Text(const std::string& key) {
    Result<std::string> bytes = rt_.Run(store_.Get(key, std::nullopt));
    EXPECT_TRUE(bytes.ok()) << key << ": " << bytes.status();
    return bytes.ok() ? *bytes : "";
  }

  Result<BackfillShardReport> Run(int64_t shard) {
    return rt_.Run(RunBackfillShard(rt_, registry_, store_, "staged/manifest.txt", shard,
                                    {.methods = {"image.phash", "image.embedding"},
                                     .chunk_size = 2,
                                     .scratch_dir = dir_.path() / "scratch"}));
  }

  runtime::Runtime rt_;
  methods::Registry registry_;
  storage::MemoryBlobStore store_;
  testing::TempDir dir_;
  std::unique_ptr<db::SqliteCatalog> catalog_;
  index::IndexFolder indexes_{dir_.path() / "index", index::FaissBackend()};
};

TEST_F(BackfillTest, PlanRunAndLoadGiveEveryLineARowAndEveryPictureOneVector) {
  Result<BackfillPlan> plan = rt_.Run(PlanBackfill(store_, "staged/manifest.txt", 4));
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ(plan->lines, 10);
  EXPECT_EQ(plan->shards, 3);
  EXPECT_EQ(Text("staged/manifest.txt.backfill/shard-00002.txt"),
            "staged/img-6.png\nstaged/img-1.png\n");

  for (int64_t shard : {0, 1, 2}) {
    Result<BackfillShardReport> report = Run(shard);
    ASSERT_TRUE(report.ok()) << report.status();
    EXPECT_FALSE(report->already_done);
  }
  EXPECT_TRUE(Run(0)->already_done) << "a finished shard is not run again";
  EXPECT_EQ(Run(3).status().code(), absl::StatusCode::kOutOfRange);

  // Shard 0's rows: one per line, in order, a bad line and vectors in the .npy.
  std::string jsonl = Text("staged/manifest.txt.backfill/out/shard-00000/chunk-00001.jsonl");
  std::vector<std::string_view> lines = Split(jsonl, "\n");
  ASSERT_EQ(lines.size(), 3u);  // two rows and the empty piece after the last newline
  json::object bad = json::parse(lines[1]).as_object();
  EXPECT_EQ(bad["image_id"].as_int64(), 3);
  EXPECT_EQ(bad["error"].at("cause").as_string(), "bad_manifest_line");
  json::object good = json::parse(lines[0]).as_object();
  EXPECT_EQ(good["key"].as_string(), "staged/img-2.png");
  EXPECT_TRUE(good["results"].at("image.phash").is_object());
  EXPECT_FALSE(good["results"].at("image.embedding").as_object().contains("vector"));
  EXPECT_EQ(good["vectors"].at("image.embedding").as_int64(), 0);
  Result<NpyMatrix> npy = ParseNpy(
      Text("staged/manifest.txt.backfill/out/shard-00000/chunk-00001.image.embedding.npy"));
  ASSERT_TRUE(npy.ok()) << npy.status();
  EXPECT_EQ(npy->rows, 1);
  EXPECT_EQ(npy->columns, 1280);

  Result<BackfillLoadReport> loaded = rt_.Run(LoadBackfill(
      rt_, store_, *catalog_, indexes_, "staged/manifest.txt", "catalogue", int64_t{1} << 30));
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->shards_loaded, 3);
  EXPECT_EQ(loaded->rows, 10);
  std::vector<db::ItemRecord> first = *catalog_->ListItems("catalogue-00000");
  ASSERT_EQ(first.size(), 4u);
  std::map<std::string, std::string> causes;
  std::vector<db::SetTotals> sets = *catalog_->ListSets();
  for (const db::SetTotals& set : sets) {
    std::vector<db::ItemRecord> items = *catalog_->ListItems(set.set);
    for (const db::ItemRecord& item : items)
      if (item.status == db::ItemStatus::kFailed) causes[item.url] = item.failure_cause;
  }
  EXPECT_EQ(causes["../etc/passwd"], "bad_manifest_line");
  EXPECT_EQ(causes["staged/missing.png"], "not_found");
  // Seven pictures (img-1 twice): seven embeddings in the database and in the index.
  std::vector<db::EmbeddingSpace> spaces = *catalog_->EmbeddingSpaces();
  ASSERT_EQ(spaces.size(), 1u);
  EXPECT_EQ(spaces[0].count, 7);
  ASSERT_EQ(loaded->indexes.size(), 1u);
  EXPECT_EQ(loaded->indexes[0].count, 7);
  EXPECT_EQ(catalog_->ListSteps("catalogue-00001")->size(), 6u) << "2 methods × 3 pictures";
  // Their perceptual hashes too, for near-duplicate lookups across sets.
  EXPECT_EQ(catalog_->HashSpaces()->at(0).count, 7);
  EXPECT_EQ((*indexes_.OpenHashes("image.phash"))->size(), 7);

  // Loading again changes nothing.
  loaded = rt_.Run(LoadBackfill(rt_, store_, *catalog_, indexes_, "staged/manifest.txt",
                                "catalogue", int64_t{1} << 30));
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(catalog_->EmbeddingSpaces()->at(0).count, 7);
  EXPECT_EQ(loaded->indexes[0].count, 7);
  EXPECT_EQ(catalog_->ListItems("catalogue-00000")->size(), 4u);
}

TEST_F(BackfillTest, AKilledShardResumesAfterItsLastWholeChunk) {
  ASSERT_TRUE(rt_.Run(PlanBackfill(store_, "staged/manifest.txt", 5)).ok());
  ASSERT_TRUE(Run(0).ok());
  // As if killed while writing the third chunk: its record and the shard's markers are gone.
  const std::string out = "staged/manifest.txt.backfill/out/shard-00000/";
  std::string before = Text(out + "chunk-00001.jsonl");
  for (const char* file : {"chunk-00002.json", "_MANIFEST.json", "_SUCCESS"})
    ASSERT_TRUE(rt_.Run(store_.Delete(out + file)).ok());
  Result<BackfillShardReport> resumed = Run(0);
  ASSERT_TRUE(resumed.ok()) << resumed.status();
  EXPECT_EQ(resumed->chunks_resumed, 2);
  EXPECT_EQ(resumed->images, 1) << "only the last chunk's line ran again";
  EXPECT_EQ(Text(out + "chunk-00001.jsonl"), before);
  EXPECT_TRUE(rt_.Run(store_.Stat(out + "_SUCCESS")).ok());

  // A chunk whose bytes changed after its record was written is refused at load.
  ASSERT_TRUE(
      rt_.Run(store_.PutBytes(out + "chunk-00001.jsonl", before + "{}\n", {.overwrite = true}))
          .ok());
  Result<BackfillLoadReport> loaded = rt_.Run(LoadBackfill(
      rt_, store_, *catalog_, indexes_, "staged/manifest.txt", "catalogue", int64_t{1} << 30));
  EXPECT_EQ(CauseOf(loaded.status()), "bad_checksum") << loaded.status();
}

TEST(NpyTest, WritesNumpysFormatAndReadsItBack) {
  std::vector<float> values = {1.5f, -2.0f, 0.25f, 3e-8f, 7.0f, 8.0f};
  std::string npy = NpyFloat32(values, 2, 3);
  EXPECT_EQ(npy.substr(0, 8), std::string("\x93NUMPY\x01\x00", 8));
  size_t header = static_cast<unsigned char>(npy[8]) | static_cast<unsigned char>(npy[9]) << 8;
  EXPECT_EQ((10 + header) % 64, 0u) << "NumPy aligns the data to 64 bytes";
  EXPECT_EQ(npy[10 + header - 1], '\n');
  Result<NpyMatrix> back = ParseNpy(npy);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->rows, 2);
  EXPECT_EQ(back->columns, 3);
  EXPECT_EQ(back->values, values);
  EXPECT_FALSE(ParseNpy(npy.substr(0, npy.size() - 1)).ok());
  EXPECT_FALSE(ParseNpy("not numpy").ok());
}

}  // namespace
}  // namespace sluice::pipeline

// The Catalog contract, run against every backend: SQLite and Postgres.
#include "db/catalog.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <thread>

#include "common/strings.h"
#include "testing/db_backends.h"
#include "testing/temp_dir.h"

namespace sluice::db {
namespace {

ItemRecord Ok(std::string url, std::string sha, int64_t size) {
  return ItemRecord{.url = url,
                    .status = ItemStatus::kOk,
                    .final_url = url,
                    .sha256 = sha,
                    .size = size,
                    .mime = "image/jpeg",
                    .kind = "image",
                    .store_key = "objects/" + sha,
                    .requests = 1};
}
ItemRecord Failed(std::string url, std::string cause) {
  return ItemRecord{.url = url,
                    .status = ItemStatus::kFailed,
                    .failure_cause = cause,
                    .failure_details = "details of " + cause,
                    .requests = 1};
}

using CatalogConformance = BackendTest;

TEST_P(CatalogConformance, RecordsAndCountsItems) {
  ASSERT_TRUE(db_->RecordItems("s", {Ok("http://a/1", "aa", 10), Ok("http://a/2", "bb", 20),
                                     Failed("http://a/3", "http_404")})
                  .ok());
  Result<SetTotals> totals = db_->FinishSet("s");
  ASSERT_TRUE(totals.ok()) << totals.status();
  EXPECT_EQ(totals->items, 3);
  EXPECT_EQ(totals->ok, 2);
  EXPECT_EQ(totals->failed, 1);
  EXPECT_EQ(totals->bytes, 30);
  std::vector<std::string> done = *db_->CompletedUrls("s");
  EXPECT_EQ(done, (std::vector<std::string>{"http://a/1", "http://a/2"}));
  std::vector<ItemRecord> items = *db_->ListItems("s");
  ASSERT_EQ(items.size(), 3u);
  EXPECT_EQ(items[2].failure_cause, "http_404");
  EXPECT_EQ(items[0].store_key, "objects/aa");
  EXPECT_EQ(db_->ListSets()->size(), 1u);
}

TEST_P(CatalogConformance, UpsertsAreIdempotentAndNeverDowngradeOk) {
  ASSERT_TRUE(db_->RecordItems("s", {Failed("u1", "http_503"), Ok("u2", "bb", 5)}).ok());
  ASSERT_TRUE(db_->RecordItems("s", {Ok("u1", "aa", 7), Failed("u2", "http_503")}).ok());
  ASSERT_TRUE(db_->RecordItems("s", {Ok("u1", "aa", 7)}).ok());
  std::vector<ItemRecord> items = *db_->ListItems("s");
  ASSERT_EQ(items.size(), 2u);
  EXPECT_EQ(items[0].status, ItemStatus::kOk);
  EXPECT_EQ(items[0].failure_cause, "");
  EXPECT_EQ(items[1].status, ItemStatus::kOk) << "a late failure must not replace an ok row";
}

TEST_P(CatalogConformance, SetsAreSeparate) {
  ASSERT_TRUE(db_->RecordItems("a", {Ok("u", "aa", 1)}).ok());
  ASSERT_TRUE(db_->RecordItems("b", {Failed("u", "x")}).ok());
  EXPECT_EQ(db_->CompletedUrls("a")->size(), 1u);
  EXPECT_EQ(db_->CompletedUrls("b")->size(), 0u);
  EXPECT_EQ(db_->CompletedUrls("unknown")->size(), 0u);
  EXPECT_EQ(db_->FinishSet("unknown").status().code(), absl::StatusCode::kNotFound);
}

TEST_P(CatalogConformance, SurvivesReopen) {
  ASSERT_TRUE(db_->RecordItems("s", {Ok("u", "aa", 1)}).ok());
  Reopen();
  EXPECT_EQ(db_->CompletedUrls("s")->size(), 1u);
}

StepRow Step(std::string url, std::string method, bool ok, std::string output) {
  return StepRow{.url = url,
                 .method = method,
                 .version = 1,
                 .step_key = "key-" + url + "-" + method,
                 .ok = ok,
                 .output_json = ok ? output : "",
                 .artifacts_json = ok ? "{}" : "",
                 .failure_cause = ok ? "" : "method_failed",
                 .failure_details = ok ? "" : "it failed\twith a tab\nand a newline \\ here",
                 .millis = 1.5};
}

TEST_P(CatalogConformance, CommitAnalysisReplacesStepsAndCachesOnce) {
  ASSERT_TRUE(db_->RecordItems("s", {Ok("u1", "aa", 1), Ok("u2", "bb", 2)}).ok());
  std::vector<StepRow> steps = {Step("", "set.summary", true, R"({"items":2})"),
                                Step("u1", "image.phash", true, R"({"hash":"ff\u00e9"})"),
                                Step("u2", "image.phash", false, "")};
  std::vector<CachedStep> cache = {
      {"key-u1-image.phash", "aa", "image.phash", 1, R"({"hash":"ff\u00e9"})", "{}"}};
  Result<SetTotals> first =
      db_->CommitAnalysis("s", {.steps = steps, .cache = cache}, std::nullopt);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->commits, 1);
  EXPECT_EQ(first->ok, 2);
  // The same commit again: the same rows, the cache entry once, one more commit counted.
  Result<SetTotals> second =
      db_->CommitAnalysis("s", {.steps = steps, .cache = cache}, std::nullopt);
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(second->commits, 2);
  std::vector<StepRow> rows = *db_->ListSteps("s");
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0].url, "");
  EXPECT_EQ(rows[0].method, "set.summary");
  EXPECT_EQ(rows[1].output_json, R"({"hash":"ff\u00e9"})");
  EXPECT_TRUE(rows[1].ok);
  EXPECT_FALSE(rows[2].ok);
  EXPECT_EQ(rows[2].failure_details, steps[2].failure_details) << "COPY escaping round trip";
  EXPECT_DOUBLE_EQ(rows[2].millis, 1.5);
  std::vector<CachedStep> cached = *db_->CachedSteps({"aa", "bb", "zz"});
  ASSERT_EQ(cached.size(), 1u);
  EXPECT_EQ(cached[0].step_key, "key-u1-image.phash");
  EXPECT_EQ(cached[0].output_json, R"({"hash":"ff\u00e9"})");
  // A rerun with fewer steps replaces, never accumulates.
  ASSERT_TRUE(db_->CommitAnalysis("s", {.steps = {steps[1]}}, std::nullopt).ok());
  EXPECT_EQ(db_->ListSteps("s")->size(), 1u);
  EXPECT_EQ(db_->CommitAnalysis("nope", {.steps = steps}, std::nullopt).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(db_->ListSets()->at(0).commits, 3);
}

TEST_P(CatalogConformance, RepeatedContentsCountsTheOkItemsOfEachSharedContent) {
  ASSERT_TRUE(db_->RecordItems("s", {Ok("u1", "aa", 1), Ok("u2", "aa", 1), Ok("u3", "aa", 1),
                                     Ok("u4", "bb", 2), Ok("u5", "cc", 3), Ok("u6", "cc", 3),
                                     Failed("u7", "http_404")})
                  .ok());
  ASSERT_TRUE(db_->RecordItems("other", {Ok("v1", "bb", 2)}).ok());
  std::map<std::string, int64_t> repeated = *db_->RepeatedContents("s");
  EXPECT_EQ(repeated, (std::map<std::string, int64_t>{{"aa", 3}, {"cc", 2}}))
      << "bb is held once in this set (another set's copy does not count)";
  EXPECT_TRUE(db_->RepeatedContents("unknown")->empty());
}

// Rows handed over in batches, as a large set's spill file does; `fail_at` batches in, Next
// fails.
class BatchedRows : public CommitRows {
 public:
  BatchedRows(std::vector<std::vector<StepRow>> batches, int fail_at = -1)
      : batches_(std::move(batches)), fail_at_(fail_at) {}
  Status Rewind() override {
    ++rewinds;
    next_ = 0;
    return absl::OkStatus();
  }
  Result<bool> Next(std::vector<StepRow>& steps, std::vector<CachedStep>& cache) override {
    if (static_cast<int>(next_) == fail_at_) return absl::DataLossError("the spill file is torn");
    steps.clear();
    cache.clear();
    if (next_ == batches_.size()) return false;
    steps = batches_[next_++];
    for (const StepRow& step : steps)
      cache.push_back({step.step_key, "aa", step.method, 1, step.output_json, "{}"});
    return true;
  }
  int rewinds = 0;

 private:
  std::vector<std::vector<StepRow>> batches_;
  size_t next_ = 0;
  int fail_at_;
};

TEST_P(CatalogConformance, CommitAnalysisTakesMoreRowsInBatchesAllOrNone) {
  ASSERT_TRUE(db_->RecordItems("s", {Ok("u1", "aa", 1), Ok("u2", "bb", 2)}).ok());
  std::vector<StepRow> own = {Step("", "set.summary", true, R"({"items":2})")};
  std::vector<std::vector<StepRow>> batches = {
      {Step("u1", "image.phash", true, R"({"hash":"01"})"),
       Step("u1", "ocr.tesseract", true, R"({"text":"a"})")},
      {Step("u2", "image.phash", true, R"({"hash":"02"})")},
      {Step("u2", "ocr.tesseract", false, "")}};
  // A batch that cannot be read aborts the whole commit: nothing of it is written.
  BatchedRows torn(batches, /*fail_at=*/2);
  Result<SetTotals> refused = db_->CommitAnalysis("s", {.steps = own, .more = &torn}, std::nullopt);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kDataLoss) << refused.status();
  EXPECT_TRUE(db_->ListSteps("s")->empty());
  EXPECT_TRUE(db_->CachedSteps({"aa"})->empty());
  EXPECT_EQ(db_->ListSets()->at(0).commits, 0);

  BatchedRows rows(batches);
  Result<SetTotals> committed =
      db_->CommitAnalysis("s", {.steps = own, .more = &rows}, std::nullopt);
  ASSERT_TRUE(committed.ok()) << committed.status();
  EXPECT_EQ(committed->commits, 1);
  EXPECT_GE(rows.rewinds, 1) << "read from the first batch";
  std::vector<StepRow> stored = *db_->ListSteps("s");
  ASSERT_EQ(stored.size(), 5u);
  EXPECT_EQ(stored[0].method, "set.summary");
  EXPECT_EQ(stored[1].url, "u1");
  EXPECT_EQ(stored[2].output_json, R"({"text":"a"})");
  EXPECT_FALSE(stored[4].ok);
  // Every batch's cache entries, each once (the staging of one batch is not inserted again).
  EXPECT_EQ(db_->CachedSteps({"aa"})->size(), 4u);
}

TEST_P(CatalogConformance, PagesFilterItemsAndListTheirSteps) {
  ItemRecord video = Ok("http://a/4.mp4", "dd", 4);
  video.kind = "video";
  ASSERT_TRUE(db_->RecordItems("s", {Ok("http://a/1", "aa", 1), Ok("http://a/2", "bb", 2),
                                     Failed("http://a/3", "http_404"), video})
                  .ok());
  ASSERT_TRUE(db_->RecordItems("other", {Ok("http://b/1", "aa", 1)}).ok());
  std::vector<StepRow> steps = {
      Step("", "set.summary", true, R"({"words":"SALE"})"),
      Step("http://a/1", "ocr.tesseract", true, R"({"text":"Summer SALE 50%"})"),
      Step("http://a/1", "image.embedding", true, R"({"vector":[0.5,0.25]})"),
      Step("http://a/2", "ocr.tesseract", true, R"({"text":"new arrivals"})"),
      Step("http://a/2", "image.embedding", true, R"({"vector":[0.5,0.5]})")};
  ASSERT_TRUE(db_->CommitAnalysis("s", {.steps = steps}, std::nullopt).ok());
  auto urls = [](const Result<std::vector<ItemRecord>>& items) {
    std::vector<std::string> out;
    for (const ItemRecord& item : *items) out.push_back(item.url);
    return out;
  };
  using Urls = std::vector<std::string>;
  EXPECT_EQ(urls(db_->ListItemsPage("s", {.limit = 2})), (Urls{"http://a/1", "http://a/2"}));
  EXPECT_EQ(urls(db_->ListItemsPage("s", {.after_url = "http://a/2", .limit = 2})),
            (Urls{"http://a/3", "http://a/4.mp4"}));
  EXPECT_EQ(urls(db_->ListItemsPage("s", {.after_url = "http://a/4.mp4"})), Urls{});
  EXPECT_EQ(urls(db_->ListItemsPage("s", {.status = ItemStatus::kFailed})), Urls{"http://a/3"});
  EXPECT_EQ(urls(db_->ListItemsPage("s", {.kind = "video"})), Urls{"http://a/4.mp4"});
  EXPECT_EQ(urls(db_->ListItemsPage("s", {.text = "sale"})), Urls{"http://a/1"})
      << "results are searched in any case; the set's own steps are not an item";
  EXPECT_EQ(urls(db_->ListItemsPage("s", {.text = "50%"})), Urls{"http://a/1"});
  EXPECT_EQ(urls(db_->ListItemsPage("s", {.text = "5_%"})), Urls{}) << "wildcards are literal";
  EXPECT_EQ(urls(db_->ListItemsPage("s", {.text = "404"})), Urls{"http://a/3"});
  EXPECT_EQ(urls(db_->ListItemsPage("s", {.text = ".mp4"})), Urls{"http://a/4.mp4"});
  EXPECT_EQ(urls(db_->ListItemsPage("s", {.text = "0.5"})), (Urls{"http://a/1", "http://a/2"}));
  EXPECT_EQ(
      urls(db_->ListItemsPage("s", {.text = "0.5", .text_skips_methods = {"image.embedding"}})),
      Urls{});
  EXPECT_EQ(urls(db_->ListItemsPage("nope", {})), Urls{});

  std::vector<StepRow> rows = *db_->ListSteps("s", {"http://a/2", "http://a/1", "http://a/9"});
  ASSERT_EQ(rows.size(), 4u);
  EXPECT_EQ(rows[0].url, "http://a/1");
  EXPECT_EQ(rows[0].method, "image.embedding");
  EXPECT_EQ(rows[3].url, "http://a/2");
  EXPECT_EQ(rows[3].method, "ocr.tesseract");
  EXPECT_EQ(db_->ListSteps("s", {""})->size(), 1u);
  EXPECT_TRUE(db_->ListSteps("s", std::vector<std::string>{})->empty());

  Outcomes outcomes = *db_->CountOutcomes("s", {"http://a/1", "http://a/3", "http://a/9"});
  EXPECT_EQ(outcomes.ok, 1);
  EXPECT_EQ(outcomes.failed, 1);
  EXPECT_EQ(outcomes.failed_by_cause, (std::map<std::string, int64_t>{{"http_404", 1}}));
  EXPECT_EQ(db_->CountOutcomes("s", {})->ok, 0);

  std::vector<ItemOfContent> holders = *db_->ItemsOfContent("aa");
  ASSERT_EQ(holders.size(), 2u);
  EXPECT_EQ(holders[0].set, "other");
  EXPECT_EQ(holders[1].set, "s");
  EXPECT_EQ(holders[1].item.url, "http://a/1");
  EXPECT_TRUE(db_->ItemsOfContent("zz")->empty());
}

TEST_P(CatalogConformance, ACommitOfSomeItemsLeavesTheRestOfTheSet) {
  ASSERT_TRUE(
      db_->RecordItems("s", {Ok("u1", "aa", 1), Ok("u2", "bb", 2), Ok("u3", "cc", 3)}).ok());
  ASSERT_TRUE(db_->CommitAnalysis("s",
                                  {.steps = {Step("", "set.summary", true, R"({"items":3})"),
                                             Step("u1", "image.phash", true, R"({"v":1})"),
                                             Step("u2", "image.phash", true, R"({"v":1})")}},
                                  std::nullopt)
                  .ok());
  ASSERT_TRUE(db_->SaveCheckpoints("s", {"line"}).ok());
  // The real-time path analysed u2 (again) and u3 alone.
  Result<SetTotals> totals =
      db_->CommitAnalysis("s",
                          {.only_urls = {"u2", "u3"},
                           .steps = {Step("u2", "image.phash", true, R"({"v":2})"),
                                     Step("u3", "image.phash", true, R"({"v":2})"),
                                     Step("u3", "image.colors", false, "")}},
                          std::nullopt);
  ASSERT_TRUE(totals.ok()) << totals.status();
  EXPECT_EQ(totals->commits, 2);
  std::vector<StepRow> rows = *db_->ListSteps("s");
  ASSERT_EQ(rows.size(), 5u);
  EXPECT_EQ(rows[0].method, "set.summary") << "set steps stay";
  EXPECT_EQ(rows[1].output_json, R"({"v":1})") << "u1 stays";
  EXPECT_EQ(rows[2].output_json, R"({"v":2})") << "u2 replaced";
  EXPECT_EQ(rows[3].url, "u3");
  EXPECT_EQ(db_->LoadCheckpoints("s")->size(), 1u) << "a set run may be going on";

  std::vector<ItemRecord> items = *db_->ListItems("s", {"u3", "u1", "nope"});
  ASSERT_EQ(items.size(), 2u);
  EXPECT_EQ(items[0].url, "u1");
  EXPECT_EQ(items[1].sha256, "cc");
  EXPECT_TRUE(db_->ListItems("s", std::vector<std::string>{})->empty());
}

TEST_P(CatalogConformance, CommitAnalysisRecordsItemsFoundFaulty) {
  ASSERT_TRUE(db_->RecordItems("s", {Ok("u1", "aa", 1), Ok("bomb", "bb", 2)}).ok());
  Result<SetTotals> totals =
      db_->CommitAnalysis("s",
                          {.steps = {Step("u1", "image.phash", true, "{}")},
                           .failed_items = {{.url = "bomb",
                                             .cause = "too_many_pixels",
                                             .details = "60000 x 60000 is past 100 MP"}}},
                          std::nullopt);
  ASSERT_TRUE(totals.ok()) << totals.status();
  EXPECT_EQ(totals->ok, 1);
  EXPECT_EQ(totals->failed, 1);
  std::vector<ItemRecord> items = *db_->ListItems("s");
  ASSERT_EQ(items.size(), 2u);
  EXPECT_EQ(items[0].url, "bomb");
  EXPECT_EQ(items[0].status, ItemStatus::kFailed);
  EXPECT_EQ(items[0].failure_cause, "too_many_pixels");
  EXPECT_EQ(items[0].failure_details, "60000 x 60000 is past 100 MP");
  EXPECT_EQ(items[1].status, ItemStatus::kOk);
  EXPECT_EQ(*db_->CompletedUrls("s"), std::vector<std::string>{"u1"}) << "a rerun refetches it";
}

TEST_P(CatalogConformance, TextSurvivesExactly) {
  std::string odd = "http://a/\xc3\xa9?q=1\t2\\N\r\nend";
  ASSERT_TRUE(db_->RecordItems("s", {Failed(odd, "http_404")}).ok());
  std::vector<ItemRecord> items = *db_->ListItems("s");
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(items[0].url, odd);
  EXPECT_EQ(items[0].final_url, "");
}

TEST_P(CatalogConformance, LargeBatchInOneCall) {
  std::vector<ItemRecord> items;
  for (int i = 0; i < 5000; ++i) items.push_back(Ok(StrCat("u", i), "s", 1));
  items.push_back(Failed("u7", "late"));  // same URL twice in one batch: the ok row wins
  ASSERT_TRUE(db_->RecordItems("big", items).ok());
  Result<SetTotals> totals = db_->FinishSet("big");
  ASSERT_TRUE(totals.ok()) << totals.status();
  EXPECT_EQ(totals->items, 5000);
  EXPECT_EQ(totals->ok, 5000);
}

TEST_P(CatalogConformance, CheckpointsKeepOrderAndGoAtCommit) {
  ASSERT_TRUE(db_->RecordItems("s", {Ok("u1", "aa", 1)}).ok());
  ASSERT_TRUE(db_->SaveCheckpoints("s", {R"({"n":1})", "line\twith\\odd\nbytes"}).ok());
  ASSERT_TRUE(db_->SaveCheckpoints("s", {R"({"n":3})"}).ok());
  ASSERT_TRUE(db_->SaveCheckpoints("other", {R"({"n":9})"}).ok());
  std::vector<std::string> lines = *db_->LoadCheckpoints("s");
  EXPECT_EQ(lines,
            (std::vector<std::string>{R"({"n":1})", "line\twith\\odd\nbytes", R"({"n":3})"}));
  ASSERT_TRUE(db_->CommitAnalysis("s", {}, std::nullopt).ok());
  EXPECT_TRUE(db_->LoadCheckpoints("s")->empty());
  EXPECT_EQ(db_->LoadCheckpoints("other")->size(), 1u);
}

EmbeddingRow Embedding(std::string sha, int64_t id, std::vector<float> vector,
                       std::string method = "image.embedding") {
  return EmbeddingRow{.item_sha256 = sha,
                      .item_id = id,
                      .method = method,
                      .model = "m@1",
                      .vector = std::move(vector)};
}

TEST_P(CatalogConformance, EmbeddingsAreStoredOncePerContentAndReadBackExactly) {
  ASSERT_TRUE(db_->RecordItems("a", {Ok("u1", "aa", 1), Ok("u2", "bb", 2)}).ok());
  ASSERT_TRUE(db_->RecordItems("b", {Ok("v1", "aa", 1), Failed("v2", "http_404")}).ok());
  const std::vector<float> odd = {0.25f, -1e-30f, 3.4e38f, -0.0f};  // every byte pattern kept
  AnalysisCommit commit{.embeddings = {Embedding("aa", 7, odd), Embedding("bb", 9, {1, 2, 3, 4}),
                                       Embedding("aa", 7, {5, 6}, "embed.text")}};
  Result<SetTotals> committed = db_->CommitAnalysis("a", commit, std::nullopt);
  ASSERT_TRUE(committed.ok()) << committed.status();
  // The same content again (another set, or a rerun) keeps the first vector.
  ASSERT_TRUE(
      db_->CommitAnalysis("b", {.embeddings = {Embedding("aa", 7, {9, 9, 9, 9})}}, std::nullopt)
          .ok());
  std::vector<EmbeddingSpace> spaces = *db_->EmbeddingSpaces();
  ASSERT_EQ(spaces.size(), 2u);
  EXPECT_EQ(spaces[0].method, "embed.text");
  EXPECT_EQ(spaces[1].method, "image.embedding");
  EXPECT_EQ(spaces[1].dimensions, 4);
  EXPECT_EQ(spaces[1].count, 2);

  std::vector<EmbeddingRow> first = *db_->ListEmbeddings("image.embedding", "m@1", "", 1);
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(first[0].item_sha256, "aa");
  EXPECT_EQ(first[0].item_id, 7);
  ASSERT_EQ(first[0].vector.size(), odd.size());
  EXPECT_EQ(std::memcmp(first[0].vector.data(), odd.data(), odd.size() * sizeof(float)), 0);
  std::vector<EmbeddingRow> next = *db_->ListEmbeddings("image.embedding", "m@1", "aa", 10);
  ASSERT_EQ(next.size(), 1u);
  EXPECT_EQ(next[0].item_sha256, "bb");
  EXPECT_TRUE(db_->ListEmbeddings("image.embedding", "m@1", "bb", 10)->empty());
  EXPECT_EQ(db_->EmbeddingsOf("aa")->size(), 2u);
  EXPECT_TRUE(db_->EmbeddingsOf("zz")->empty());

  // Search results: every ok item of the content, in every set.
  std::vector<ItemOfContent> items = *db_->ItemsWithContentIds({7, 9, 12345});
  ASSERT_EQ(items.size(), 3u);
  EXPECT_EQ(items[0].set, "a");
  EXPECT_EQ(items[0].item.url, "u1");
  EXPECT_EQ(items[0].item_id, 7);
  EXPECT_EQ(items[0].item.store_key, "objects/aa");
  EXPECT_EQ(items[1].item.url, "u2");
  EXPECT_EQ(items[1].item_id, 9);
  EXPECT_EQ(items[2].set, "b");
  EXPECT_EQ(items[2].item.url, "v1");
}

TEST_P(CatalogConformance, AnEmbeddingOfAnotherDimensionIsRefusedWithTheWholeCommit) {
  ASSERT_TRUE(db_->RecordItems("a", {Ok("u1", "aa", 1), Ok("u2", "bb", 2)}).ok());
  ASSERT_TRUE(
      db_->CommitAnalysis("a", {.embeddings = {Embedding("aa", 7, {1, 2})}}, std::nullopt).ok());
  Result<SetTotals> refused = db_->CommitAnalysis("a",
                                                  {.steps = {Step("u2", "image.phash", true, "{}")},
                                                   .embeddings = {Embedding("bb", 9, {1, 2, 3})}},
                                                  std::nullopt);
  EXPECT_EQ(CauseOf(refused.status()), "embedding_dimension") << refused.status();
  EXPECT_TRUE(db_->ListSteps("a")->empty());  // nothing of the refused commit landed
  EXPECT_EQ(db_->EmbeddingSpaces()->at(0).count, 1);
}

TEST_P(CatalogConformance, HashesAreStoredOncePerContentWithEveryBitAndFindTheirItems) {
  ASSERT_TRUE(db_->RecordItems("a", {Ok("u1", "aa", 1), Ok("u2", "bb", 2)}).ok());
  ASSERT_TRUE(db_->RecordItems("b", {Ok("v1", "cc", 3)}).ok());
  const uint64_t high = 0xfedcba9876543210ULL;  // the sign bit set: stored as it is
  auto hash = [](std::string sha, int64_t id, uint64_t bits) {
    return HashRow{.item_sha256 = sha, .item_id = id, .method = "image.phash", .hash = bits};
  };
  ASSERT_TRUE(
      db_->CommitAnalysis("a", {.hashes = {hash("aa", 7, high), hash("bb", 9, 1)}}, std::nullopt)
          .ok());
  // The same content again keeps the first hash; a content with only a hash finds its items.
  ASSERT_TRUE(
      db_->CommitAnalysis("b", {.hashes = {hash("aa", 7, 5), hash("cc", 11, 0)}}, std::nullopt)
          .ok());
  std::vector<HashSpace> spaces = *db_->HashSpaces();
  ASSERT_EQ(spaces.size(), 1u);
  EXPECT_EQ(spaces[0].method, "image.phash");
  EXPECT_EQ(spaces[0].count, 3);
  std::vector<HashRow> first = *db_->ListHashes("image.phash", "", 2);
  ASSERT_EQ(first.size(), 2u);
  EXPECT_EQ(first[0].item_sha256, "aa");
  EXPECT_EQ(first[0].item_id, 7);
  EXPECT_EQ(first[0].hash, high);
  EXPECT_EQ(first[1].hash, 1u);
  std::vector<HashRow> rest = *db_->ListHashes("image.phash", "bb", 2);
  ASSERT_EQ(rest.size(), 1u);
  EXPECT_EQ(rest[0].item_sha256, "cc");
  EXPECT_TRUE(db_->ListHashes("other.hash", "", 10)->empty());
  std::vector<ItemOfContent> items = *db_->ItemsWithContentIds({11, 7});
  ASSERT_EQ(items.size(), 2u);
  EXPECT_EQ(items[0].item.url, "u1");
  EXPECT_EQ(items[1].set, "b");
  EXPECT_EQ(items[1].item_id, 11);
}

TEST_P(CatalogConformance, ApiKeysAreFoundByHashRevokedAndNeverNamedTwice) {
  ApiKey key{.name = "ingest", .prefix = "sk_12ab", .hash = "h1", .requests_per_minute = 120};
  ASSERT_TRUE(db_->AddKey(key).ok());
  ASSERT_TRUE(db_->AddKey({.name = "admin", .prefix = "sk_99", .hash = "h2"}).ok());
  EXPECT_EQ(CauseOf(db_->AddKey({.name = "ingest", .prefix = "x", .hash = "h3"})), "key_exists");
  Result<ApiKey> found = db_->FindKey("h1");
  ASSERT_TRUE(found.ok()) << found.status();
  EXPECT_EQ(found->name, "ingest");
  EXPECT_EQ(found->requests_per_minute, 120);
  EXPECT_GT(found->created_ms, 0);
  EXPECT_EQ(found->revoked_ms, 0);
  EXPECT_EQ(db_->FindKey("h9").status().code(), absl::StatusCode::kNotFound);
  std::vector<ApiKey> keys = *db_->ListKeys();
  ASSERT_EQ(keys.size(), 2u);
  EXPECT_EQ(keys[0].name, "admin");
  Result<ApiKey> revoked = db_->RevokeKey("ingest");
  ASSERT_TRUE(revoked.ok()) << revoked.status();
  EXPECT_GT(revoked->revoked_ms, 0);
  EXPECT_EQ(db_->RevokeKey("ingest")->revoked_ms, revoked->revoked_ms) << "the first time stays";
  EXPECT_GT(db_->FindKey("h1")->revoked_ms, 0);
  EXPECT_EQ(db_->RevokeKey("nobody").status().code(), absl::StatusCode::kNotFound);
}

INSTANTIATE_TEST_SUITE_P(Backends, CatalogConformance,
                         ::testing::Values(SqliteBackend(), PostgresBackend()), BackendName);

TEST(PostgresCatalogTest, MigrationsApplyOnceAndRefuseANewerSchema) {
  Result<std::string> uri = sluice::testing::FreshPostgresDatabase();
  ASSERT_TRUE(uri.ok()) << uri.status();
  auto first = PostgresCatalog::Open(*uri);
  ASSERT_TRUE(first.ok()) << first.status();
  int version = *(*first)->SchemaVersion();
  EXPECT_GE(version, 1);
  auto again = PostgresCatalog::Open(*uri);  // a second worker starting: nothing to apply
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(*(*again)->SchemaVersion(), version);
  ASSERT_TRUE((*first)
                  ->pool()
                  .Run([](pg::Connection& c) {
                    return c.ExecScript("INSERT INTO schema_migrations(version) VALUES (9999)");
                  })
                  .ok());
  auto newer = PostgresCatalog::Open(*uri);
  ASSERT_FALSE(newer.ok());
  EXPECT_EQ(CauseOf(newer.status()), "schema_too_new") << newer.status();
}

// Two cache entries of one content, committed twice: stored once each, read back by content.
void CacheTwoStepsOfOneContent(Catalog& catalog) {
  ASSERT_TRUE(catalog.RecordItems("s", {Ok("u1", "aa", 1)}).ok());
  std::vector<CachedStep> cache = {{"key-2", "aa", "image.phash", 1, R"({"hash":"ff"})", "{}"},
                                   {"key-1", "aa", "image.size", 1, R"({"w":1})", "{}"}};
  for (int i = 0; i < 2; ++i) {
    Result<SetTotals> committed = catalog.CommitAnalysis("s", {.cache = cache}, std::nullopt);
    ASSERT_TRUE(committed.ok()) << committed.status();
  }
}

void ExpectTheTwoCachedSteps(Catalog& catalog) {
  Result<std::vector<CachedStep>> cached = catalog.CachedSteps({"aa", "bb"});
  ASSERT_TRUE(cached.ok()) << cached.status();
  ASSERT_EQ(cached->size(), 2u);
  std::sort(cached->begin(), cached->end(),
            [](const CachedStep& a, const CachedStep& b) { return a.step_key < b.step_key; });
  EXPECT_EQ((*cached)[0].method, "image.size");
  EXPECT_EQ((*cached)[1].output_json, R"({"hash":"ff"})");
  EXPECT_EQ((*cached)[1].item_sha256, "aa");
}

// A database whose step cache is still keyed by step key alone (schema 7) keeps its entries
// when the cache moves to (content, step key), and a repeated entry still lands once.
TEST(PostgresCatalogTest, CachedStepsSurviveTheMoveToKeysByContent) {
  Result<std::string> uri = sluice::testing::FreshPostgresDatabase();
  ASSERT_TRUE(uri.ok()) << uri.status();
  {
    auto catalog = PostgresCatalog::Open(*uri);
    ASSERT_TRUE(catalog.ok()) << catalog.status();
    CacheTwoStepsOfOneContent(**catalog);
    ASSERT_TRUE((*catalog)
                    ->pool()
                    .Run([](pg::Connection& c) {
                      return c.ExecScript(R"sql(
                        ALTER TABLE step_cache DROP CONSTRAINT step_cache_pkey;
                        ALTER TABLE step_cache ADD PRIMARY KEY (step_key);
                        CREATE INDEX step_cache_by_item ON step_cache(item_sha256);
                        DELETE FROM schema_migrations WHERE version = 8)sql");
                    })
                    .ok());
  }
  auto catalog = PostgresCatalog::Open(*uri);
  ASSERT_TRUE(catalog.ok()) << catalog.status();
  EXPECT_EQ(*(*catalog)->SchemaVersion(), 8);
  ExpectTheTwoCachedSteps(**catalog);
  CacheTwoStepsOfOneContent(**catalog);
  ExpectTheTwoCachedSteps(**catalog);
}

TEST(PostgresCatalogTest, GenericPlansAreAskedForPerStatementAndSurviveARollback) {
  Result<std::string> uri = sluice::testing::FreshPostgresDatabase();
  ASSERT_TRUE(uri.ok()) << uri.status();
  auto catalog = PostgresCatalog::Open(*uri, {.max_connections = 1});
  ASSERT_TRUE(catalog.ok()) << catalog.status();
  constexpr const char* kMode = "SELECT current_setting('plan_cache_mode')";
  Status checked = (*catalog)->pool().Run([&](pg::Connection& c) -> Status {
    auto mode = [&](pg::Plan plan) { return c.Exec(kMode, {}, plan)->Text(0, 0); };
    EXPECT_EQ(mode(pg::Plan::kServerChooses), "auto");
    EXPECT_EQ(mode(pg::Plan::kGeneric), "force_generic_plan");
    EXPECT_EQ(mode(pg::Plan::kServerChooses), "auto");
    // A switch inside a transaction that rolls back is undone by the server; the next
    // statement asking for generic plans gets them again.
    EXPECT_FALSE(c.Transaction([&]() -> Status {
                    EXPECT_EQ(mode(pg::Plan::kGeneric), "force_generic_plan");
                    return absl::AbortedError("rolled back on purpose");
                  }).ok());
    EXPECT_EQ(mode(pg::Plan::kGeneric), "force_generic_plan");
    return absl::OkStatus();
  });
  EXPECT_TRUE(checked.ok()) << checked;
}

// A serialisation failure, a deadlock or a statement timeout voids the transaction; the pool
// runs it again from the start a few times, then gives the error back.
TEST(PostgresCatalogTest, ConflictsAndStatementTimeoutsAreRetriedAsAWholeTransaction) {
  Result<std::string> uri = sluice::testing::FreshPostgresDatabase();
  ASSERT_TRUE(uri.ok()) << uri.status();
  auto catalog = PostgresCatalog::Open(*uri, {.max_connections = 1});
  ASSERT_TRUE(catalog.ok()) << catalog.status();
  for (const char* sqlstate : {"40001", "40P01"}) {
    int runs = 0;
    Status done = (*catalog)->pool().Run([&](pg::Connection& c) -> Status {
      return c.Transaction([&]() -> Status {
        if (++runs < 3) {
          return c.ExecScript(StrCat("DO $$ BEGIN RAISE EXCEPTION 'conflict' USING ERRCODE = '",
                                     sqlstate, "'; END $$"));
        }
        return c.ExecScript("SELECT 1");
      });
    });
    EXPECT_TRUE(done.ok()) << sqlstate << ": " << done;
    EXPECT_EQ(runs, 3) << sqlstate;
  }
  int runs = 0;
  Status timed_out = (*catalog)->pool().Run([&](pg::Connection& c) -> Status {
    ++runs;
    return c.ExecScript("SET statement_timeout = 50; SELECT pg_sleep(1)");
  });
  ASSERT_FALSE(timed_out.ok());
  EXPECT_EQ(CauseOf(timed_out), "database_busy") << timed_out;
  EXPECT_EQ(runs, 5) << "five runs, then the error";
  ASSERT_TRUE((*catalog)
                  ->pool()
                  .Run([](pg::Connection& c) { return c.ExecScript("SET statement_timeout = 0"); })
                  .ok());
}

TEST(PostgresCatalogTest, UnreachableServerIsUnavailable) {
  auto catalog = PostgresCatalog::Open("postgresql://postgres@127.0.0.1:1/none",
                                       {.max_connections = 1, .reconnect_for = {}});
  ASSERT_FALSE(catalog.ok());
  EXPECT_EQ(catalog.status().code(), absl::StatusCode::kUnavailable) << catalog.status();
  EXPECT_EQ(CauseOf(catalog.status()), "database_unavailable");
}

TEST(PostgresCatalogTest, RidesOutAServerRestart) {
  auto server = sluice::testing::PostgresServer::Start();
  ASSERT_TRUE(server.ok()) << server.status();
  auto uri = (*server)->CreateDatabase("restart");
  ASSERT_TRUE(uri.ok()) << uri.status();
  auto catalog = PostgresCatalog::Open(*uri);
  ASSERT_TRUE(catalog.ok()) << catalog.status();
  ASSERT_TRUE((*catalog)->RecordItems("s", {Ok("u1", "aa", 1)}).ok());
  ASSERT_TRUE((*server)->Stop().ok());
  std::thread restart([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(700));
    ASSERT_TRUE((*server)->StartAgain().ok());
  });
  // The pooled connection is dead; the call reconnects once the server is back.
  Status recorded = (*catalog)->RecordItems("s", {Ok("u2", "bb", 1)});
  restart.join();
  ASSERT_TRUE(recorded.ok()) << recorded;
  EXPECT_EQ((*catalog)->CompletedUrls("s")->size(), 2u);
}

TEST(SqliteCatalogTest, ProcessesOpeningANewDatabaseTogetherMigrateItOnce) {
  sluice::testing::TempDir dir;
  std::vector<std::thread> openers;
  std::atomic<int> opened{0};
  for (int i = 0; i < 16; ++i) {
    openers.emplace_back([&] {
      Result<std::unique_ptr<SqliteCatalog>> catalog = SqliteCatalog::Open(dir.path() / "new.db");
      EXPECT_TRUE(catalog.ok()) << catalog.status();
      if (catalog.ok()) ++opened;
    });
  }
  for (std::thread& opener : openers) opener.join();
  EXPECT_EQ(opened, 16);
}

TEST(SqliteCatalogTest, CachedStepsSurviveTheMoveToKeysByContent) {
  sluice::testing::TempDir dir;
  std::filesystem::path path = dir.path() / "earlier.db";
  {
    Result<std::unique_ptr<SqliteCatalog>> catalog = SqliteCatalog::Open(path);
    ASSERT_TRUE(catalog.ok()) << catalog.status();
    CacheTwoStepsOfOneContent(**catalog);
  }
  {  // back to schema 9's step cache: keyed by step key, indexed by content
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
    char* error = nullptr;
    int rc = sqlite3_exec(db, R"sql(
      BEGIN;
      CREATE TABLE earlier(step_key TEXT PRIMARY KEY, item_sha256 TEXT NOT NULL,
        method TEXT NOT NULL, version INTEGER NOT NULL, output TEXT NOT NULL,
        artifacts TEXT NOT NULL, created_at INTEGER NOT NULL) WITHOUT ROWID;
      INSERT INTO earlier SELECT step_key, item_sha256, method, version, output, artifacts,
        created_at FROM step_cache;
      DROP TABLE step_cache;
      ALTER TABLE earlier RENAME TO step_cache;
      CREATE INDEX step_cache_by_item ON step_cache(item_sha256);
      PRAGMA user_version = 9;
      COMMIT;)sql",
                          nullptr, nullptr, &error);
    EXPECT_EQ(rc, SQLITE_OK) << (error ? error : "");
    sqlite3_free(error);
    sqlite3_close(db);
  }
  Result<std::unique_ptr<SqliteCatalog>> catalog = SqliteCatalog::Open(path);
  ASSERT_TRUE(catalog.ok()) << catalog.status();
  ExpectTheTwoCachedSteps(**catalog);
  CacheTwoStepsOfOneContent(**catalog);
  ExpectTheTwoCachedSteps(**catalog);
}

TEST(SqliteCatalogTest, UnusableFilesAreClearErrors) {
  sluice::testing::TempDir dir;
  std::ofstream(dir.path() / "junk.db") << std::string(8192, 'x');
  Result<std::unique_ptr<SqliteCatalog>> junk = SqliteCatalog::Open(dir.path() / "junk.db");
  ASSERT_FALSE(junk.ok());
  EXPECT_EQ(junk.status().code(), absl::StatusCode::kDataLoss) << junk.status();
  // A real database whose pages were overwritten: the first query that reads them says so.
  {
    Result<std::unique_ptr<SqliteCatalog>> made = SqliteCatalog::Open(dir.path() / "hurt.db");
    ASSERT_TRUE(made.ok()) << made.status();
    std::vector<ItemRecord> items;
    for (int i = 0; i < 2000; ++i) {
      items.push_back({.url = "https://e.example/" + std::to_string(i) + std::string(200, 'p'),
                       .status = ItemStatus::kFailed,
                       .failure_cause = "http_404"});
    }
    ASSERT_TRUE((*made)->RecordItems("hurt", items).ok());
  }
  {
    std::fstream file(dir.path() / "hurt.db", std::ios::in | std::ios::out | std::ios::binary);
    file.seekp(0, std::ios::end);
    int64_t size = file.tellp();
    for (int64_t at = 4096 * 2; at + 4096 < size; at += 4096 * 3) {
      file.seekp(at);
      file << std::string(4096, '\xA5');
    }
  }
  Result<std::unique_ptr<SqliteCatalog>> hurt = SqliteCatalog::Open(dir.path() / "hurt.db");
  Status read = hurt.ok() ? (*hurt)->ListItems("hurt").status() : hurt.status();
  ASSERT_FALSE(read.ok());
  EXPECT_EQ(read.code(), absl::StatusCode::kDataLoss) << read;
  EXPECT_NE(read.message().find("damaged"), std::string::npos) << read;

  Result<std::unique_ptr<SqliteCatalog>> nowhere = SqliteCatalog::Open("/proc/nope/sluice.db");
  ASSERT_FALSE(nowhere.ok());
  EXPECT_EQ(CauseOf(nowhere.status()), "data_dir_unwritable");
}

}  // namespace
}  // namespace sluice::db

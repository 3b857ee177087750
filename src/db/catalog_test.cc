// The Catalog contract, run against every backend (SQLite today; Postgres joins in the fleet
// issue).
#include "db/catalog.h"

#include <gtest/gtest.h>

#include <fstream>
#include <functional>

#include "db/sqlite/sqlite_catalog.h"
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

class CatalogConformance : public ::testing::Test {
 protected:
  void SetUp() override { catalog_ = std::move(*SqliteCatalog::Open(dir_.path() / "sluice.db")); }
  sluice::testing::TempDir dir_;
  std::unique_ptr<Catalog> catalog_;
};

TEST_F(CatalogConformance, RecordsAndCountsItems) {
  ASSERT_TRUE(catalog_
                  ->RecordItems("s", {Ok("http://a/1", "aa", 10), Ok("http://a/2", "bb", 20),
                                      Failed("http://a/3", "http_404")})
                  .ok());
  Result<SetTotals> totals = catalog_->FinishSet("s");
  ASSERT_TRUE(totals.ok()) << totals.status();
  EXPECT_EQ(totals->items, 3);
  EXPECT_EQ(totals->ok, 2);
  EXPECT_EQ(totals->failed, 1);
  EXPECT_EQ(totals->bytes, 30);
  std::vector<std::string> done = *catalog_->CompletedUrls("s");
  EXPECT_EQ(done, (std::vector<std::string>{"http://a/1", "http://a/2"}));
  std::vector<ItemRecord> items = *catalog_->ListItems("s");
  ASSERT_EQ(items.size(), 3u);
  EXPECT_EQ(items[2].failure_cause, "http_404");
  EXPECT_EQ(items[0].store_key, "objects/aa");
  EXPECT_EQ(catalog_->ListSets()->size(), 1u);
}

TEST_F(CatalogConformance, UpsertsAreIdempotentAndNeverDowngradeOk) {
  ASSERT_TRUE(catalog_->RecordItems("s", {Failed("u1", "http_503"), Ok("u2", "bb", 5)}).ok());
  ASSERT_TRUE(catalog_->RecordItems("s", {Ok("u1", "aa", 7), Failed("u2", "http_503")}).ok());
  ASSERT_TRUE(catalog_->RecordItems("s", {Ok("u1", "aa", 7)}).ok());
  std::vector<ItemRecord> items = *catalog_->ListItems("s");
  ASSERT_EQ(items.size(), 2u);
  EXPECT_EQ(items[0].status, ItemStatus::kOk);
  EXPECT_EQ(items[0].failure_cause, "");
  EXPECT_EQ(items[1].status, ItemStatus::kOk) << "a late failure must not replace an ok row";
}

TEST_F(CatalogConformance, SetsAreSeparate) {
  ASSERT_TRUE(catalog_->RecordItems("a", {Ok("u", "aa", 1)}).ok());
  ASSERT_TRUE(catalog_->RecordItems("b", {Failed("u", "x")}).ok());
  EXPECT_EQ(catalog_->CompletedUrls("a")->size(), 1u);
  EXPECT_EQ(catalog_->CompletedUrls("b")->size(), 0u);
  EXPECT_EQ(catalog_->CompletedUrls("unknown")->size(), 0u);
  EXPECT_EQ(catalog_->FinishSet("unknown").status().code(), absl::StatusCode::kNotFound);
}

TEST_F(CatalogConformance, SurvivesReopen) {
  ASSERT_TRUE(catalog_->RecordItems("s", {Ok("u", "aa", 1)}).ok());
  catalog_.reset();
  catalog_ = std::move(*SqliteCatalog::Open(dir_.path() / "sluice.db"));
  EXPECT_EQ(catalog_->CompletedUrls("s")->size(), 1u);
}

TEST(SqliteCatalogTest, UnusableFilesAreClearErrors) {
  sluice::testing::TempDir dir;
  std::ofstream(dir.path() / "junk.db") << std::string(8192, 'x');
  Result<std::unique_ptr<SqliteCatalog>> junk = SqliteCatalog::Open(dir.path() / "junk.db");
  ASSERT_FALSE(junk.ok());
  EXPECT_EQ(junk.status().code(), absl::StatusCode::kDataLoss) << junk.status();
  Result<std::unique_ptr<SqliteCatalog>> nowhere = SqliteCatalog::Open("/proc/nope/sluice.db");
  ASSERT_FALSE(nowhere.ok());
  EXPECT_EQ(CauseOf(nowhere.status()), "data_dir_unwritable");
}

}  // namespace
}  // namespace sluice::db

#include "pipeline/acquire.h"

#include <gtest/gtest.h>

#include "common/sha256.h"
#include "db/sqlite/sqlite_catalog.h"
#include "storage/memory/memory_blob_store.h"
#include "storage/s3/s3_blob_store.h"
#include "testing/origin.h"
#include "testing/temp_dir.h"
#include "testing/test_servers.h"

namespace sluice::pipeline {
namespace {

using sluice::testing::ScriptedOrigin;

class AcquireTest : public ::testing::Test {
 protected:
  void SetUp() override {
    client_ = std::move(*http::HttpClient::Create(rt_.loop_executor()));
    http::FetchOptions fetch;
    fetch.scratch_dir = dir_.path() / "scratch";
    fetch.addresses.allow_private = true;
    fetch.retry.max_attempts = 1;
    fetcher_ = std::move(*http::Fetcher::Create(*client_, rt_, fetch));
    catalog_ = std::move(*db::SqliteCatalog::Open(dir_.path() / "sluice.db"));
    // 30 distinct bodies; /dup/i serves the same bytes as /img/i.
    for (int i = 0; i < 30; ++i) {
      std::string body = ScriptedOrigin::MediaBody(1000 + i * 10, i);
      auto serve = [body](const http::HttpRequest& r, int) {
        return http::ServeBytes(r, body, "image/jpeg");
      };
      origin_.Route("/img/" + std::to_string(i), serve);
      if (i < 5) origin_.Route("/dup/" + std::to_string(i), serve);
      urls_.push_back(origin_.Url("/img/" + std::to_string(i)));
      if (i < 5) urls_.push_back(origin_.Url("/dup/" + std::to_string(i)));
    }
    origin_.Route("/page.jpg", [](const http::HttpRequest& r, int) {
      return http::ServeBytes(r, "<html><body>hi</body></html>", "image/jpeg");
    });
    urls_.push_back(origin_.Url("/missing.jpg"));
    urls_.push_back(origin_.Url("/page.jpg"));
  }

  Result<AcquireReport> Acquire(std::vector<std::string> urls) {
    Acquirer acquirer(rt_, *fetcher_, store_, *catalog_, {.concurrency = 8, .per_host = 4});
    return rt_.Run(acquirer.Run("brand-a", std::move(urls)));
  }

  runtime::Runtime rt_;
  sluice::testing::TempDir dir_;
  ScriptedOrigin origin_;
  std::unique_ptr<http::HttpClient> client_;
  std::unique_ptr<http::Fetcher> fetcher_;
  storage::MemoryBlobStore store_;
  std::unique_ptr<db::SqliteCatalog> catalog_;
  std::vector<std::string> urls_;
};

TEST_F(AcquireTest, StoresEachContentOnceAndRecordsEveryItem) {
  Result<AcquireReport> report = Acquire(urls_);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->totals.items, 37);
  EXPECT_EQ(report->totals.ok, 35);
  EXPECT_EQ(report->totals.failed, 2);
  EXPECT_EQ(report->run.ok, 35u);
  EXPECT_FALSE(report->interrupted);
  EXPECT_EQ(rt_.Run(store_.List("objects/"))->size(), 30u)
      << "duplicate content must be stored once";

  std::vector<db::ItemRecord> items = *catalog_->ListItems("brand-a");
  std::map<std::string, db::ItemRecord> by_url;
  for (auto& item : items) by_url[item.url] = item;
  const db::ItemRecord& first = by_url[origin_.Url("/img/0")];
  EXPECT_EQ(first.status, db::ItemStatus::kOk);
  EXPECT_EQ(first.sha256, Sha256::HexOf(ScriptedOrigin::MediaBody(1000, 0)));
  EXPECT_EQ(first.store_key, storage::ContentKey(first.sha256));
  EXPECT_EQ(first.mime, "image/jpeg");
  EXPECT_EQ(first.kind, "image");
  EXPECT_EQ(by_url[origin_.Url("/dup/0")].store_key, first.store_key);
  EXPECT_EQ(by_url[origin_.Url("/missing.jpg")].failure_cause, "http_404");
  EXPECT_EQ(by_url[origin_.Url("/page.jpg")].failure_cause, "unsupported_content");
  EXPECT_EQ(*rt_.Run(store_.Get(first.store_key, std::nullopt)),
            ScriptedOrigin::MediaBody(1000, 0));
}

TEST_F(AcquireTest, RerunFetchesOnlyWhatDidNotComplete) {
  ASSERT_TRUE(Acquire(urls_).ok());
  origin_.ClearLog();
  Result<AcquireReport> again = Acquire(urls_);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->run.skipped, 35u);
  EXPECT_EQ(again->run.failed, 2u);
  std::vector<sluice::testing::LoggedRequest> log = origin_.Log();
  ASSERT_EQ(log.size(), 2u) << "only the two failed items may be fetched again";
  EXPECT_EQ(again->totals.items, 37);
}

TEST_F(AcquireTest, EmptyListStillRecordsTheSet) {
  Result<AcquireReport> report = Acquire({});
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->totals.items, 0);
  EXPECT_EQ(catalog_->ListSets()->size(), 1u);
}

TEST(HostOfTest, LowercasedHostOrEmpty) {
  EXPECT_EQ(HostOf("http://Example.COM:8080/a.jpg"), "example.com");
  EXPECT_EQ(HostOf("https://[::1]/x"), "[::1]");
  EXPECT_EQ(HostOf("/local/file.jpg"), "");
}

// With an S3 store, a large body's parts go up while it downloads (here: during a stall
// halfway), and a body that starts over (a dropped connection answered with the whole body
// again) falls back to a plain put; both store exactly the bytes served.
TEST_F(AcquireTest, LargeBodiesStreamToS3WhileTheyDownload) {
  auto server = sluice::testing::S3rver::Start();
  ASSERT_TRUE(server.ok()) << server.status();
  storage::S3Options options{.endpoint = (*server)->endpoint(),
                             .bucket = (*server)->bucket(),
                             .credentials = {.access_key = sluice::testing::S3rver::kAccessKey,
                                             .secret_key = sluice::testing::S3rver::kSecretKey,
                                             .region = "us-east-1"},
                             .multipart_threshold = 200'000,
                             .part_size = 64 * 1024,
                             .allow_private = true};
  storage::S3BlobStore s3(*client_, rt_.loop_executor(), rt_.blocking(), options);
  std::string big = ScriptedOrigin::MediaBody(2'000'000, 7);
  std::string other = ScriptedOrigin::MediaBody(1'500'000, 8);
  origin_.Route("/big.jpg", [&](const http::HttpRequest& r, int) {
    http::HttpReply reply = http::ServeBytes(r, big, "image/jpeg");
    reply.stall_after = 1'000'000;
    reply.stall_for = std::chrono::milliseconds(1500);
    return reply;
  });
  origin_.Route("/restarts.jpg", [&](const http::HttpRequest& r, int call) {
    http::HttpReply reply = http::ServeBytes(r, other, "image/jpeg");
    if (call == 0) reply.drop_after = 700'000;
    if (call == 1) reply = http::ServeBytes(http::HttpRequest{}, other, "image/jpeg");  // no Range
    return reply;
  });
  Acquirer acquirer(rt_, *fetcher_, s3, *catalog_, {.concurrency = 4, .per_host = 4});
  Result<AcquireReport> report =
      rt_.Run(acquirer.Run("large", {origin_.Url("/big.jpg"), origin_.Url("/restarts.jpg")}));
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->run.ok, 2u);
  EXPECT_GE(acquirer.progress().parts_streamed, 2) << "parts went up during the stall";
  EXPECT_EQ(*rt_.Run(s3.Get(storage::ContentKey(Sha256::HexOf(big)), std::nullopt)), big);
  EXPECT_EQ(*rt_.Run(s3.Get(storage::ContentKey(Sha256::HexOf(other)), std::nullopt)), other);
  EXPECT_TRUE(rt_.Run(s3.List("uploads/"))->empty()) << "no provisional upload is left";
  EXPECT_GE(origin_.Count("/restarts.jpg"), 2);
}

}  // namespace
}  // namespace sluice::pipeline

// SqsIntake against sqslite and a SQLite job store: messages become jobs keyed by MessageId,
// bad messages are left for the redrive policy, manifests are read, deletes are checked.
#include "queue/intake/sqs_intake.h"

#include <gtest/gtest.h>

#include <map>

#include "db/sqlite/sqlite_catalog.h"
#include "testing/sqs_fixture.h"
#include "testing/temp_dir.h"

namespace sluice::intake {
namespace {

TEST(JobSpecFromMessageTest, AcceptsUrlsOrAManifestAndNamesWhatIsWrong) {
  std::string manifest;
  Result<db::JobSpec> urls =
      JobSpecFromMessage(R"({"set": "brand-a", "urls": ["http://x/1", "http://x/2"]})", manifest);
  ASSERT_TRUE(urls.ok()) << urls.status();
  EXPECT_EQ(urls->set, "brand-a");
  EXPECT_EQ(urls->urls.size(), 2u);
  EXPECT_EQ(urls->pipeline, "default");
  EXPECT_TRUE(manifest.empty());
  Result<db::JobSpec> video = JobSpecFromMessage(
      R"({"set": "spots", "urls": ["http://x/1.mp4"], "pipeline": "video"})", manifest);
  ASSERT_TRUE(video.ok()) << video.status();
  EXPECT_EQ(video->pipeline, "video");
  Result<db::JobSpec> listed =
      JobSpecFromMessage(R"({"set": "shard-7", "manifest": "s3://b/m.txt"})", manifest);
  ASSERT_TRUE(listed.ok()) << listed.status();
  EXPECT_EQ(manifest, "s3://b/m.txt");
  for (const char* bad :
       {"not json", "[]", R"({"urls": ["u"]})", R"({"set": "s"})", R"({"set": "s", "urls": []})",
        R"({"set": "s", "urls": [1]})", R"({"set": "s", "urls": ["u"], "manifest": "s3://b/k"})",
        R"({"set": "s", "urls": ["u"], "pipeline": 3})",
        R"({"set": "s", "urls": ["u"], "pipeline": "a,b"})"}) {
    std::string ignored;
    Result<db::JobSpec> spec = JobSpecFromMessage(bad, ignored);
    EXPECT_EQ(CauseOf(spec.status()), "bad_message") << bad;
  }
}

class SqsIntakeTest : public SqsFixture {
 protected:
  void SetUp() override {
    SqsFixture::SetUp();
    queue_ = Queue("jobs");
    db_ = std::move(*db::SqliteCatalog::Open(dir_.path() / "sluice.db"));
  }

  testing::TempDir dir_;
  std::unique_ptr<SqsQueue> queue_;
  std::unique_ptr<db::SqliteCatalog> db_;
};

TEST_F(SqsIntakeTest, MessagesBecomeJobsKeyedByMessageId) {
  std::map<std::string, std::string> manifests = {
      {"s3://lists/shard-7.txt", "http://x/a\nhttp://x/b\n"}};
  ManifestReader read = [&](std::string uri) -> boost::asio::awaitable<Result<std::string>> {
    auto it = manifests.find(uri);
    if (it == manifests.end()) co_return absl::NotFoundError("no manifest " + uri);
    co_return it->second;
  };
  SqsIntake intake(
      rt_, *queue_, *db_, read,
      {.visibility_seconds = 30, .max_attempts = 4, .validate_set = [](std::string_view set) {
         return set.find('/') == std::string_view::npos
                    ? absl::OkStatus()
                    : absl::InvalidArgumentError("bad set name");
       }});
  std::string good = *rt_.Run(queue_->Send(R"({"set": "brand-a", "urls": ["http://x/1"]})"));
  std::string listed =
      *rt_.Run(queue_->Send(R"({"set": "shard-7", "manifest": "s3://lists/shard-7.txt"})"));
  rt_.Run(queue_->Send("garbage")).IgnoreError();
  rt_.Run(queue_->Send(R"({"set": "../etc", "urls": ["http://x/1"]})")).IgnoreError();
  rt_.Run(queue_->Send(R"({"set": "s", "manifest": "s3://lists/missing.txt"})")).IgnoreError();
  int received = 0;
  for (int poll = 0; poll < 10 && received < 5; ++poll) {
    Result<int> got = rt_.Run(intake.PollOnce());
    ASSERT_TRUE(got.ok()) << got.status();
    received += *got;
  }
  ASSERT_EQ(received, 5);
  EXPECT_EQ(intake.counts().jobs_created, 2);
  EXPECT_EQ(intake.counts().rejected, 3);
  EXPECT_EQ(intake.counts().delete_failures, 0);

  std::vector<db::Job> jobs = *db_->ListJobs(std::nullopt, 10);
  ASSERT_EQ(jobs.size(), 2u);
  std::map<std::string, db::Job> by_set;
  for (db::Job& job : jobs) by_set[job.set] = *db_->FindJob(std::to_string(job.id));
  EXPECT_EQ(by_set["brand-a"].dedupe_key, "sqs:" + good);
  EXPECT_EQ(by_set["brand-a"].max_attempts, 4);
  EXPECT_EQ(by_set["shard-7"].dedupe_key, "sqs:" + listed);
  EXPECT_EQ(by_set["shard-7"].urls, (std::vector<std::string>{"http://x/a", "http://x/b"}));
  // A redelivered message (the same MessageId) finds its job instead of making another.
  Result<db::Submitted> again =
      db_->Submit({.set = "brand-a", .urls = {"http://x/1"}, .dedupe_key = "sqs:" + good});
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(again->created);
  EXPECT_FALSE(intake.idle());
  ASSERT_TRUE(rt_.Run(intake.PollOnce()).ok());
  EXPECT_TRUE(intake.idle()) << "an empty receive marks the intake idle";
}

}  // namespace
}  // namespace sluice::intake

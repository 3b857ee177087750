// SqsIntake against sqslite and a SQLite job store: messages become jobs keyed by MessageId,
// bad messages are left for the redrive policy, manifests are read, deletes are checked; and
// against StrictSqs, a message redelivered while its job is being made makes one job.
#include "queue/intake/sqs_intake.h"

#include <gtest/gtest.h>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <map>

#include "db/sqlite/sqlite_catalog.h"
#include "runtime/task_group.h"
#include "testing/sqs_fixture.h"
#include "testing/strict_sqs.h"
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

// A worker's extensions are lost and its message's visibility (1 s) runs out while it still
// reads the manifest (2.5 s); SQS hands the message to a second worker. Whichever finishes
// first makes the job, the other finds it, and the message is gone once its newest receipt
// handle deletes it — the older handle's delete is answered 200 and deletes nothing, as in SQS.
TEST(SqsVisibilityTest, AMessageRedeliveredWhileItsJobIsMadeMakesOneJob) {
  using namespace std::chrono_literals;
  for (std::chrono::milliseconds second_reads : {0ms, 2000ms}) {
    SCOPED_TRACE(::testing::Message()
                 << "the second worker reads for " << second_reads.count() << " ms");
    testing::StrictSqs sqs(1000ms);
    std::string id = sqs.Add(R"({"set": "shard-1", "manifest": "s3://lists/one.txt"})");
    sqs.RefuseExtensions(true);
    testing::TempDir dir;
    std::unique_ptr<db::SqliteCatalog> db =
        std::move(*db::SqliteCatalog::Open(dir.path() / "sluice.db"));
    StrictSqsClient sqs_client(sqs, 1);
    runtime::Runtime& rt = sqs_client.rt;
    SqsQueue& queue = sqs_client.queue;
    auto reader = [&rt](std::chrono::milliseconds takes) -> ManifestReader {
      return [&rt, takes](std::string) -> boost::asio::awaitable<Result<std::string>> {
        boost::asio::steady_timer reading(rt.loop_executor(), takes);
        co_await reading.async_wait(boost::asio::use_awaitable);
        co_return std::string("http://x/a\nhttp://x/b\n");
      };
    };
    SqsIntake first(rt, queue, *db, reader(2500ms), {.visibility_seconds = 1});
    SqsIntake second(rt, queue, *db, reader(second_reads), {.visibility_seconds = 1});
    Result<int> first_polled = 0;
    Result<int> second_polled = 0;
    auto poll_first = [&]() -> boost::asio::awaitable<void> {
      first_polled = co_await first.PollOnce();
    };
    auto both = [&]() -> boost::asio::awaitable<bool> {
      runtime::TaskGroup group(rt.loop_executor());
      group.Spawn(poll_first());
      boost::asio::steady_timer expired(rt.loop_executor(), 1500ms);
      co_await expired.async_wait(boost::asio::use_awaitable);
      second_polled = co_await second.PollOnce();
      co_await group.Wait();
      co_return true;
    };
    rt.Run(both());
    ASSERT_TRUE(first_polled.ok()) << first_polled.status();
    ASSERT_TRUE(second_polled.ok()) << second_polled.status();
    EXPECT_EQ(*first_polled, 1);
    EXPECT_EQ(*second_polled, 1) << "the message came back once its visibility ran out";
    EXPECT_EQ(sqs.receives(), 2);

    std::vector<db::Job> jobs = *db->ListJobs(std::nullopt, 10);
    ASSERT_EQ(jobs.size(), 1u) << "one job however often the message was received";
    db::Job job = *db->FindJob(std::to_string(jobs[0].id));
    EXPECT_EQ(job.dedupe_key, "sqs:" + id);
    EXPECT_EQ(job.urls, (std::vector<std::string>{"http://x/a", "http://x/b"}));
    EXPECT_EQ(first.counts().jobs_created + second.counts().jobs_created, 1);
    EXPECT_EQ(first.counts().duplicates + second.counts().duplicates, 1);
    EXPECT_EQ(sqs.stale_deletes(), 1) << "the first worker's handle was no longer the newest";
    EXPECT_EQ(sqs.messages_left(), 0) << "the newest handle deleted the message";
  }
}

// StrictSqs answers a receive at once, as sqslite does (neither long-polls): an idle intake
// must not loop on empty receives — each is a billed request on SQS — but start them at least
// min_idle_interval apart.
TEST(SqsVisibilityTest, AnIdleIntakePacesItsReceivesWhenTheServerAnswersAtOnce) {
  using namespace std::chrono_literals;
  testing::StrictSqs sqs(1000ms);
  testing::TempDir dir;
  std::unique_ptr<db::SqliteCatalog> db =
      std::move(*db::SqliteCatalog::Open(dir.path() / "sluice.db"));
  StrictSqsClient sqs_client(sqs, 5);
  runtime::Runtime& rt = sqs_client.rt;
  SqsQueue& queue = sqs_client.queue;
  ManifestReader none = [](std::string) -> boost::asio::awaitable<Result<std::string>> {
    co_return absl::NotFoundError("no manifests here");
  };
  SqsIntake intake(rt, queue, *db, none, {.min_idle_interval = 500ms});
  auto idle_for_two_seconds = [&]() -> boost::asio::awaitable<bool> {
    runtime::TaskGroup group(rt.loop_executor());
    group.Spawn(intake.Run());
    boost::asio::steady_timer idle(rt.loop_executor(), 2000ms);
    co_await idle.async_wait(boost::asio::use_awaitable);
    intake.Stop();
    co_await group.Wait();
    co_return true;
  };
  rt.Run(idle_for_two_seconds());
  // Two seconds at one receive per 500 ms: 4 or 5 (a loop would send thousands).
  EXPECT_GE(sqs.receive_calls(), 2);
  EXPECT_LE(sqs.receive_calls(), 6);
  EXPECT_TRUE(intake.idle());
}

}  // namespace
}  // namespace sluice::intake

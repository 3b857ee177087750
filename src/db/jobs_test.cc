// The JobStore contract, run against SQLite and Postgres: lifecycle, fencing, dead letter,
// priorities, fairness, concurrent claimers.
#include "db/jobs.h"

#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "common/strings.h"
#include "testing/db_backends.h"
#include "testing/temp_dir.h"

namespace sluice::db {
namespace {

using std::chrono::milliseconds;

JobSpec Spec(std::string set, int priority = 0, int max_attempts = 3) {
  return JobSpec{.set = set,
                 .urls = {"http://a/" + set + "/1", "http://a/" + set + "/2"},
                 .priority = priority,
                 .max_attempts = max_attempts};
}

Lease LeaseOf(const Job& job) { return {job.id, job.epoch}; }

// A set step's result: what a commit under a lease carries in these tests.
StepRow SetStepRow() {
  return StepRow{.url = "",
                 .method = "set.summary",
                 .version = 1,
                 .step_key = "k",
                 .ok = true,
                 .output_json = "{}",
                 .artifacts_json = "{}"};
}

class JobStoreConformance : public BackendTest {
 protected:
  std::vector<Job> Claim(std::string worker, int n, milliseconds lease = milliseconds(60'000),
                         std::vector<std::string> pipelines = {}) {
    Result<std::vector<Job>> jobs = db_->Claim(worker, n, lease, pipelines);
    EXPECT_TRUE(jobs.ok()) << jobs.status();
    return jobs.ok() ? *jobs : std::vector<Job>{};
  }
};

TEST_P(JobStoreConformance, WorkersClaimOnlyThePipelinesTheyServe) {
  for (const char* pipeline : {"video", "defects", "default", "video"}) {
    ASSERT_TRUE(
        db_->Submit(
               {.set = StrCat("s-", pipeline), .urls = {"http://x/a.mp4"}, .pipeline = pipeline})
            .ok());
  }
  EXPECT_FALSE(db_->Submit({.set = "bad", .urls = {"http://x/a"}, .pipeline = "a,b"}).ok());
  std::vector<Job> defects = Claim("defects-pool", 10, milliseconds(60'000), {"defects"});
  ASSERT_EQ(defects.size(), 1u);
  EXPECT_EQ(defects[0].pipeline, "defects");
  std::vector<Job> video = Claim("video-pool", 10, milliseconds(60'000), {"video", "other"});
  ASSERT_EQ(video.size(), 2u);
  for (const Job& job : video) EXPECT_EQ(job.pipeline, "video");
  EXPECT_TRUE(Claim("video-pool", 10, milliseconds(60'000), {"video"}).empty());
  std::vector<Job> rest = Claim("any", 10);
  ASSERT_EQ(rest.size(), 1u);
  EXPECT_EQ(rest[0].pipeline, "default") << "a job names the default pipeline unless told";
}

TEST_P(JobStoreConformance, SubmitClaimComplete) {
  Result<Submitted> submitted = db_->Submit(Spec("brand"));
  ASSERT_TRUE(submitted.ok()) << submitted.status();
  EXPECT_TRUE(submitted->created);
  EXPECT_EQ(submitted->job.state, JobState::kQueued);
  EXPECT_EQ(submitted->job.token.size(), 20u);
  EXPECT_EQ(submitted->job.urls.size(), 2u);

  std::vector<Job> claimed = Claim("w1", 4);
  ASSERT_EQ(claimed.size(), 1u);
  EXPECT_EQ(claimed[0].state, JobState::kRunning);
  EXPECT_EQ(claimed[0].epoch, 1);
  EXPECT_EQ(claimed[0].attempts, 1);
  EXPECT_EQ(claimed[0].worker, "w1");
  EXPECT_EQ(claimed[0].urls, submitted->job.urls);
  EXPECT_GT(claimed[0].lease_until_ms, claimed[0].started_ms);
  EXPECT_TRUE(Claim("w2", 4).empty()) << "a running job is not claimed twice";

  EXPECT_EQ(*db_->Complete({LeaseOf(claimed[0])}), 1);
  EXPECT_EQ(*db_->Complete({LeaseOf(claimed[0])}), 1) << "completing twice is idempotent";
  Result<Job> found = db_->FindJob(submitted->job.token);
  ASSERT_TRUE(found.ok()) << found.status();
  EXPECT_EQ(found->state, JobState::kDone);
  EXPECT_GT(found->finished_ms, 0);
  EXPECT_EQ(db_->FindJob(std::to_string(found->id))->token, found->token);
  EXPECT_EQ(db_->FindJob("nope").status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(Claim("w1", 4).empty());
}

TEST_P(JobStoreConformance, CompleteAndClaimFinishesJobsAndLeasesTheNextOnes) {
  for (const char* set : {"a", "b", "c"}) ASSERT_TRUE(db_->Submit(Spec(set)).ok());
  std::vector<Job> first = Claim("w1", 1);
  ASSERT_EQ(first.size(), 1u);

  Result<Claimed> next =
      db_->CompleteAndClaim({LeaseOf(first[0])}, "w1", 5, milliseconds(60'000), {});
  ASSERT_TRUE(next.ok()) << next.status();
  EXPECT_EQ(next->completed, 1);
  ASSERT_EQ(next->jobs.size(), 2u);
  for (const Job& job : next->jobs) {
    EXPECT_EQ(job.state, JobState::kRunning);
    EXPECT_NE(job.id, first[0].id);
    EXPECT_EQ(job.urls.size(), 2u);
  }
  EXPECT_EQ(db_->FindJob(first[0].token)->state, JobState::kDone);

  // A stale lease is not completed, and nothing left to claim is not an error.
  Lease stale{next->jobs[0].id, next->jobs[0].epoch - 1};
  Result<Claimed> last =
      db_->CompleteAndClaim({stale, LeaseOf(next->jobs[1])}, "w1", 5, milliseconds(60'000), {});
  ASSERT_TRUE(last.ok()) << last.status();
  EXPECT_EQ(last->completed, 1);
  EXPECT_TRUE(last->jobs.empty());
  EXPECT_EQ(db_->FindJob(next->jobs[0].token)->state, JobState::kRunning);
  EXPECT_EQ(db_->FindJob(next->jobs[1].token)->state, JobState::kDone);
}

TEST_P(JobStoreConformance, BadSpecsAreRefused) {
  EXPECT_EQ(db_->Submit(JobSpec{.set = "", .urls = {"u"}}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(db_->Submit(JobSpec{.set = "s", .urls = {}}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_P(JobStoreConformance, DedupeKeyMakesOneJob) {
  JobSpec spec = Spec("s");
  spec.dedupe_key = "sqs-message-1";
  Result<Submitted> first = db_->Submit(spec);
  Result<Submitted> again = db_->Submit(spec);
  ASSERT_TRUE(first.ok() && again.ok());
  EXPECT_TRUE(first->created);
  EXPECT_FALSE(again->created);
  EXPECT_EQ(again->job.id, first->job.id);
  EXPECT_EQ(db_->ListJobs(std::nullopt, 10)->size(), 1u);
}

TEST_P(JobStoreConformance, TakenOverLeaseIsFencedEverywhere) {
  ASSERT_TRUE(db_->RecordItems("s", {}).ok());
  ASSERT_TRUE(db_->Submit(Spec("s")).ok());
  std::vector<Job> first = Claim("stopped-worker", 1, milliseconds(1));
  ASSERT_EQ(first.size(), 1u);
  std::this_thread::sleep_for(milliseconds(20));
  std::vector<Job> second = Claim("live-worker", 1);
  ASSERT_EQ(second.size(), 1u) << "an expired lease is taken over";
  EXPECT_EQ(second[0].epoch, first[0].epoch + 1);
  EXPECT_EQ(second[0].attempts, 2) << "the lost attempt counts";
  EXPECT_EQ(second[0].failure_cause, "lease_expired");

  // The stopped worker wakes up: every write under its old lease is refused.
  Result<std::vector<int64_t>> lost = db_->Heartbeat({LeaseOf(first[0])}, milliseconds(60'000));
  ASSERT_TRUE(lost.ok()) << lost.status();
  EXPECT_EQ(*lost, std::vector<int64_t>{first[0].id});
  EXPECT_EQ(CauseOf(db_->Fail(LeaseOf(first[0]), absl::UnavailableError("x"), true, {})),
            "lease_lost");
  EXPECT_EQ(*db_->Complete({LeaseOf(first[0])}), 0);
  StepRow row = SetStepRow();
  Result<SetTotals> stale = db_->CommitAnalysis("s", {.steps = {row}}, LeaseOf(first[0]));
  EXPECT_EQ(CauseOf(stale.status()), "lease_lost") << stale.status();
  EXPECT_TRUE(db_->ListSteps("s")->empty()) << "a refused commit writes nothing";

  EXPECT_TRUE(db_->Heartbeat({LeaseOf(second[0])}, milliseconds(60'000))->empty());
  Result<SetTotals> committed = db_->CommitAnalysis("s", {.steps = {row}}, LeaseOf(second[0]));
  ASSERT_TRUE(committed.ok()) << committed.status();
  EXPECT_EQ(committed->commits, 1);
  EXPECT_EQ(db_->FindJob(std::to_string(second[0].id))->state, JobState::kDone);
}

TEST_P(JobStoreConformance, CancelledJobsAreDeadAndTheirRunningWorkerIsFencedOut) {
  ASSERT_TRUE(db_->RecordItems("s", {}).ok());
  Job queued = db_->Submit(Spec("q"))->job;
  Job running = db_->Submit(Spec("s"))->job;
  std::vector<Job> claimed = Claim("w", 1);
  ASSERT_EQ(claimed.size(), 1u);
  ASSERT_EQ(claimed[0].id, queued.id) << "first come";
  ASSERT_TRUE(db_->Submit(Spec("r")).ok());
  Result<Job> cancelled = db_->CancelJob(claimed[0].id);
  ASSERT_TRUE(cancelled.ok()) << cancelled.status();
  EXPECT_EQ(cancelled->state, JobState::kDead);
  EXPECT_EQ(cancelled->failure_cause, "cancelled");
  EXPECT_EQ(*db_->Heartbeat({LeaseOf(claimed[0])}, milliseconds(60'000)),
            std::vector<int64_t>{claimed[0].id})
      << "the worker running it learns it lost it";
  StepRow row = SetStepRow();
  EXPECT_EQ(CauseOf(db_->CommitAnalysis("q", {.steps = {row}}, LeaseOf(claimed[0])).status()),
            "lease_lost");
  EXPECT_EQ(db_->CancelJob(running.id)->state, JobState::kDead) << "a queued one too";
  std::vector<Job> next = Claim("w", 5);
  ASSERT_EQ(next.size(), 1u) << "cancelled jobs are not claimed";
  EXPECT_EQ(next[0].set, "r");
  EXPECT_EQ(db_->CancelJob(queued.id).status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(db_->CancelJob(987654).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(db_->RetryJob(running.id)->state, JobState::kQueued) << "and can be re-driven";
  std::map<JobState, int64_t> counts = *db_->CountJobs();
  EXPECT_EQ(counts[JobState::kQueued], 1);
  EXPECT_EQ(counts[JobState::kRunning], 1);
  EXPECT_EQ(counts[JobState::kDead], 1);
  EXPECT_FALSE(counts.contains(JobState::kDone));
}

TEST_P(JobStoreConformance, FailuresRetryThenDeadLetterThenRetryByHand) {
  ASSERT_TRUE(db_->Submit(Spec("poison", 0, /*max_attempts=*/2)).ok());
  std::vector<Job> one = Claim("w", 1);
  ASSERT_EQ(one.size(), 1u);
  ASSERT_TRUE(db_->Fail(LeaseOf(one[0]), absl::UnavailableError("origin down"), true, {}).ok());
  std::vector<Job> two = Claim("w", 1);
  ASSERT_EQ(two.size(), 1u) << "a retryable failure with attempts left is queued again";
  ASSERT_TRUE(db_->Fail(LeaseOf(two[0]),
                        WithCause(absl::UnavailableError("still down"), "origin_down"), true, {})
                  .ok());
  EXPECT_TRUE(Claim("w", 1).empty());
  std::vector<Job> dead = *db_->ListJobs(JobState::kDead, 10);
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_EQ(dead[0].failure_cause, "origin_down");
  EXPECT_EQ(dead[0].failure_details, "still down");
  EXPECT_EQ(dead[0].attempts, 2);

  Result<Job> retried = db_->RetryJob(dead[0].id);
  ASSERT_TRUE(retried.ok()) << retried.status();
  EXPECT_EQ(retried->state, JobState::kQueued);
  EXPECT_EQ(retried->attempts, 0);
  EXPECT_EQ(db_->RetryJob(dead[0].id).status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(db_->RetryJob(999999).status().code(), absl::StatusCode::kNotFound);
  std::vector<Job> three = Claim("w", 1);
  ASSERT_EQ(three.size(), 1u);
  // A permanent failure goes to dead letter at once.
  ASSERT_TRUE(db_->Fail(LeaseOf(three[0]), absl::InvalidArgumentError("bad list"), false, {}).ok());
  EXPECT_EQ(db_->FindJob(three[0].token)->state, JobState::kDead);
}

TEST_P(JobStoreConformance, ExpiredLeasesUseUpAttempts) {
  ASSERT_TRUE(db_->Submit(Spec("crashy", 0, /*max_attempts=*/2)).ok());
  ASSERT_EQ(Claim("w1", 1, milliseconds(1)).size(), 1u);
  std::this_thread::sleep_for(milliseconds(20));
  ASSERT_EQ(Claim("w2", 1, milliseconds(1)).size(), 1u);
  std::this_thread::sleep_for(milliseconds(20));
  EXPECT_TRUE(Claim("w3", 1).empty()) << "two crashed attempts of two: dead";
  std::vector<Job> dead = *db_->ListJobs(JobState::kDead, 10);
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_EQ(dead[0].failure_cause, "lease_expired");
}

TEST_P(JobStoreConformance, PriorityFirstThenRoundRobinAcrossSets) {
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(db_->Submit(Spec("huge-brand")).ok());
  for (int i = 0; i < 2; ++i) ASSERT_TRUE(db_->Submit(Spec("small-brand")).ok());
  ASSERT_TRUE(db_->Submit(Spec("urgent", /*priority=*/5)).ok());
  std::vector<std::string> order;
  for (int i = 0; i < 7; ++i) {
    std::vector<Job> one = Claim("w", 1);
    ASSERT_EQ(one.size(), 1u);
    order.push_back(one[0].set);
  }
  EXPECT_EQ(order, (std::vector<std::string>{"urgent", "huge-brand", "small-brand", "huge-brand",
                                             "small-brand", "huge-brand", "huge-brand"}));
}

TEST_P(JobStoreConformance, ConcurrentClaimersNeverShareAJob) {
  constexpr int kJobs = 120;
  for (int i = 0; i < kJobs; ++i) ASSERT_TRUE(db_->Submit(Spec(StrCat("s", i % 7))).ok());
  std::mutex mu;
  std::map<int64_t, int> claims;
  std::vector<std::thread> claimers;
  for (int t = 0; t < 8; ++t) {
    claimers.emplace_back([&, t] {
      // Half complete and claim apart, half in one call.
      std::vector<Lease> finished;
      while (true) {
        Result<Claimed> next = Claimed{};
        if (t % 2) {
          next = db_->CompleteAndClaim(finished, StrCat("w", t), 3, milliseconds(60'000), {});
        } else {
          Result<int> done = db_->Complete(finished);
          EXPECT_TRUE(done.ok()) << done.status();
          if (done.ok()) next->completed = *done;
          if (Result<std::vector<Job>> jobs =
                  db_->Claim(StrCat("w", t), 3, milliseconds(60'000), {});
              jobs.ok()) {
            next->jobs = std::move(*jobs);
          } else {
            next = jobs.status();
          }
        }
        ASSERT_TRUE(next.ok()) << next.status();
        EXPECT_EQ(next->completed, static_cast<int>(finished.size()));
        finished.clear();
        if (next->jobs.empty()) return;
        std::lock_guard lock(mu);
        for (const Job& job : next->jobs) {
          ++claims[job.id];
          finished.push_back(LeaseOf(job));
        }
      }
    });
  }
  for (std::thread& claimer : claimers) claimer.join();
  EXPECT_EQ(claims.size(), static_cast<size_t>(kJobs));
  for (const auto& [id, count] : claims) EXPECT_EQ(count, 1) << "job " << id;
  Result<std::map<JobState, int64_t>> counts = db_->CountJobs();
  ASSERT_TRUE(counts.ok()) << counts.status();
  EXPECT_EQ(*counts, (std::map<JobState, int64_t>{{JobState::kDone, kJobs}}));
}

INSTANTIATE_TEST_SUITE_P(Backends, JobStoreConformance,
                         ::testing::Values(SqliteBackend(), PostgresBackend()), BackendName);

TEST(PostgresJobsTest, SubmitWakesAWaitingWorker) {
  Result<std::string> uri = sluice::testing::FreshPostgresDatabase();
  ASSERT_TRUE(uri.ok()) << uri.status();
  auto db = PostgresCatalog::Open(*uri);
  ASSERT_TRUE(db.ok()) << db.status();
  // The first wait sets up LISTEN; nothing is pending yet.
  EXPECT_FALSE(*(*db)->WaitForJobs(milliseconds(10)));
  auto submitter = PostgresCatalog::Open(*uri);
  ASSERT_TRUE(submitter.ok());
  ASSERT_TRUE((*submitter)->Submit(Spec("s")).ok());
  // The notification is the hint; the generous timeout is only a bound for a broken build.
  EXPECT_TRUE(*(*db)->WaitForJobs(milliseconds(30'000)));
}

}  // namespace
}  // namespace sluice::db

// Fleet tests through the real binary: `sluice submit` and several `sluice worker` processes
// sharing one Postgres database, while workers are killed, stopped and the server restarted.
// What must hold: every set commits exactly once, nothing is lost, and no step whose
// checkpoint was durable runs again (counted through SLUICE_TEST_STEP_LOG).
#include <gtest/gtest.h>
#include <signal.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "common/strings.h"
#include "db/postgres/postgres_catalog.h"
#include "testing/fixtures.h"
#include "testing/origin.h"
#include "testing/subprocess.h"
#include "testing/temp_dir.h"
#include "testing/test_servers.h"

namespace sluice::cli {
namespace {

using namespace std::chrono_literals;
using http::HttpReply;
using http::HttpRequest;
using sluice::testing::ProcessResult;
using sluice::testing::ScriptedOrigin;
using sluice::testing::Subprocess;

// Cheap item steps, one slow one (OCR) so that kills land in analysis too, and a set step.
constexpr const char* kPipeline = R"(
name = "fleet-test"
[[cycle]]
  [[cycle.item]]
  method = "image.phash"
  [[cycle.item]]
  method = "image.colors"
  [[cycle.item]]
  method = "ocr.tesseract"
  [[cycle.set]]
  method = "set.summary"
)";

class FleetTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::filesystem::path image =
        sluice::testing::MakeTextImage(dir_.path(), "ad.png", "SALE", "200x80");
    std::ifstream in(image, std::ios::binary);
    image_.assign(std::istreambuf_iterator<char>(in), {});
    std::ofstream(pipeline()) << kPipeline;
  }

  void UseDatabase(std::string uri) {
    uri_ = std::move(uri);
    auto db = db::PostgresCatalog::Open(uri_);
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = std::move(*db);
  }

  // `count` distinct images (the same picture, different trailing bytes) at /SET/N.png,
  // each answered after `delay`.
  std::vector<std::string> ServeSet(const std::string& set, int count,
                                    std::chrono::milliseconds delay) {
    std::vector<std::string> urls;
    for (int i = 0; i < count; ++i) {
      std::string path = "/" + set + "/" + std::to_string(i) + ".png";
      std::string body = image_ + "sluice-fleet-test " + path;
      origin_.Route(path, [body, delay](const HttpRequest&, int) {
        return HttpReply{.headers = {{"Content-Type", "image/png"}}, .body = body, .delay = delay};
      });
      urls.push_back(origin_.Url(path));
    }
    return urls;
  }

  ProcessResult Sluice(std::vector<std::string> args, std::vector<std::string> env = {}) {
    args.insert(args.begin(), SLUICE_BINARY);
    env.push_back("SLUICE_DB=" + uri_);
    return sluice::testing::RunProcess(args, dir_.path(), std::nullopt, env);
  }

  std::string Submit(const std::string& set, const std::vector<std::string>& urls,
                     int max_attempts) {
    std::filesystem::path list = dir_.path() / (set + ".txt");
    std::ofstream out(list);
    for (const std::string& url : urls) out << url << "\n";
    out.close();
    ProcessResult submitted = Sluice({"submit", list.string(), "--data", data().string(),
                                      "--max-attempts", std::to_string(max_attempts)});
    EXPECT_EQ(submitted.exit_code, 0) << submitted.err;
    return std::string(Trim(submitted.out));
  }

  std::vector<std::string> WorkerArgs(const std::string& name, double lease,
                                      std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {SLUICE_BINARY,
                                     "worker",
                                     "--data",
                                     data().string(),
                                     "--pipeline",
                                     pipeline().string(),
                                     "--allow-private",
                                     "--lease",
                                     std::to_string(lease),
                                     "--poll",
                                     "0.1",
                                     "--name",
                                     name};
    if (std::find(extra.begin(), extra.end(), "--concurrency") == extra.end()) {
      args.push_back("--concurrency");
      args.push_back("4");
    }
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
  }

  std::unique_ptr<Subprocess> StartWorker(const std::string& name, double lease,
                                          std::vector<std::string> extra = {},
                                          std::vector<std::string> env = {}) {
    std::filesystem::path logs = dir_.path() / "logs" / name;
    std::filesystem::create_directories(logs);
    env.push_back("SLUICE_DB=" + uri_);
    env.push_back("SLUICE_TEST_STEP_LOG=" + step_log().string());
    return std::make_unique<Subprocess>(WorkerArgs(name, lease, std::move(extra)), logs,
                                        std::nullopt, env);
  }

  // What the worker printed on stderr (Subprocess captures it as *.err in its directory).
  std::string WorkerLog(const std::string& name) {
    std::string log;
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(dir_.path() / "logs" / name, ec)) {
      if (entry.path().extension() != ".err") continue;
      std::ifstream in(entry.path());
      log.append(std::istreambuf_iterator<char>(in), {});
    }
    return log;
  }

  std::vector<db::Job> Jobs(std::optional<db::JobState> state = std::nullopt) {
    Result<std::vector<db::Job>> jobs = db_->ListJobs(state, 1000);
    EXPECT_TRUE(jobs.ok()) << jobs.status();
    return jobs.ok() ? *jobs : std::vector<db::Job>{};
  }

  // Waits until `done` jobs are done (or `deadline` passes); returns whether they are.
  bool WaitForDone(size_t done, std::chrono::seconds deadline,
                   const std::function<void()>& meanwhile = {}) {
    auto until = std::chrono::steady_clock::now() + deadline;
    while (std::chrono::steady_clock::now() < until) {
      if (Jobs(db::JobState::kDone).size() >= done) return true;
      if (meanwhile) meanwhile();
      std::this_thread::sleep_for(100ms);
    }
    return false;
  }

  // Steps that ran more than once after their checkpoint was durable.
  std::vector<std::string> RepeatedSteps() {
    std::ifstream in(step_log());
    std::map<std::string, int> runs;
    for (std::string line; std::getline(in, line);) ++runs[line];
    std::vector<std::string> repeated;
    for (const auto& [line, count] : runs)
      if (count > 1) repeated.push_back(line + " x" + std::to_string(count));
    return repeated;
  }

  size_t StepLogLines() {
    std::ifstream in(step_log());
    size_t lines = 0;
    for (std::string line; std::getline(in, line);) ++lines;
    return lines;
  }

  std::filesystem::path data() const { return dir_.path() / "data"; }
  std::filesystem::path pipeline() const { return dir_.path() / "pipeline.toml"; }
  std::filesystem::path step_log() const { return dir_.path() / "steps.log"; }

  sluice::testing::TempDir dir_;
  ScriptedOrigin origin_;
  std::string image_;
  std::string uri_;
  std::unique_ptr<db::PostgresCatalog> db_;
};

TEST_F(FleetTest, KilledWorkersLoseNothingAndCommitEachSetOnce) {
  Result<std::string> uri = sluice::testing::FreshPostgresDatabase();
  ASSERT_TRUE(uri.ok()) << uri.status();
  UseDatabase(*uri);
  constexpr int kSets = 10, kPerSet = 30;  // 300 items
  for (int s = 0; s < kSets; ++s) {
    std::string set = "brand-" + std::to_string(s);
    Submit(set, ServeSet(set, kPerSet, 60ms), /*max_attempts=*/50);
  }
  std::map<int, std::unique_ptr<Subprocess>> workers;
  std::map<int, std::string> name_in_slot;
  int generation = 0, kills = 0;
  auto start = [&](int slot) {
    std::string name = "w" + std::to_string(slot) + "-" + std::to_string(generation++);
    name_in_slot[slot] = name;
    workers[slot] = StartWorker(name, /*lease=*/1.0);
  };
  for (int slot = 0; slot < 3; ++slot) start(slot);
  // Kills are bounded so that every set can finish however slow the build (ASan, a loaded
  // machine): each job is interrupted at most twice, and a set that needs longer than the kill
  // interval still gets attempts that run to their commit.
  constexpr int kKillsPerJob = 2;
  std::map<int64_t, int> kills_of_job;
  std::mt19937 random(7);
  auto last_kill = std::chrono::steady_clock::now();
  bool finished = WaitForDone(kSets, 240s, [&] {
    if (std::chrono::steady_clock::now() - last_kill < 1200ms) return;
    // Kill the live worker that holds a running job, so the kill always interrupts work.
    std::vector<db::Job> victims;
    for (const db::Job& job : Jobs(db::JobState::kRunning)) {
      if (kills_of_job[job.id] >= kKillsPerJob) continue;
      for (const auto& [slot, name] : name_in_slot)
        if (name == job.worker) victims.push_back(job);
    }
    if (victims.empty()) return;
    const db::Job& victim = victims[random() % victims.size()];
    int slot = 0;
    for (const auto& [candidate, name] : name_in_slot)
      if (name == victim.worker) slot = candidate;
    workers[slot]->Kill(SIGKILL);
    workers[slot]->Wait();
    ++kills;
    ++kills_of_job[victim.id];
    start(slot);
    last_kill = std::chrono::steady_clock::now();
  });
  for (auto& [slot, worker] : workers) worker->Kill(SIGKILL);
  for (auto& [slot, worker] : workers) worker->Wait();
  std::string unfinished;
  for (const db::Job& job : Jobs()) {
    if (job.state == db::JobState::kDone) continue;
    unfinished += "\n  " + job.set + ": " + std::string(db::JobStateName(job.state)) +
                  ", attempts " + std::to_string(job.attempts) + ", worker " + job.worker +
                  ", last failure " + job.failure_cause + " " + job.failure_details;
  }
  ASSERT_TRUE(finished) << "jobs done: " << Jobs(db::JobState::kDone).size() << " of " << kSets
                        << " after " << kills << " kills; unfinished:" << unfinished;

  EXPECT_GE(kills, 3) << "the run was too short to kill workers mid-job";
  int attempts = 0;
  for (const db::Job& job : Jobs()) {
    EXPECT_EQ(job.state, db::JobState::kDone) << job.set;
    attempts += job.attempts;
  }
  EXPECT_GT(attempts, kSets) << "killed jobs were taken over by other workers";
  std::vector<db::SetTotals> sets = *db_->ListSets();
  ASSERT_EQ(sets.size(), static_cast<size_t>(kSets));
  for (const db::SetTotals& set : sets) {
    EXPECT_EQ(set.commits, 1) << set.set << " committed more than once";
    EXPECT_EQ(set.items, kPerSet) << set.set;
    EXPECT_EQ(set.ok, kPerSet) << set.set;
    std::vector<db::StepRow> steps = *db_->ListSteps(set.set);
    EXPECT_EQ(steps.size(), static_cast<size_t>(kPerSet * 3 + 1)) << set.set;
    EXPECT_TRUE(db_->LoadCheckpoints(set.set)->empty()) << "checkpoints go with the commit";
  }
  EXPECT_EQ(RepeatedSteps(), std::vector<std::string>{}) << "checkpointed steps ran again";
  // Every step ran at least once; only a kill between a checkpoint and its log line can hide
  // one (at most the steps a worker has in flight: 4 items x 3 steps, or the set step).
  EXPECT_GE(StepLogLines() + static_cast<size_t>(kills) * 12,
            static_cast<size_t>(kSets * (kPerSet * 3 + 1)));
}

// A job names its pipeline; a worker started with --pipelines claims only those jobs and runs
// each with the pipeline it names, so one queue feeds pools of machines for different methods.
TEST_F(FleetTest, WorkersClaimOnlyThePipelinesTheyServe) {
  Result<std::string> uri = sluice::testing::FreshPostgresDatabase();
  ASSERT_TRUE(uri.ok()) << uri.status();
  UseDatabase(*uri);
  auto submit = [&](const std::string& set, const std::string& pipeline) {
    std::filesystem::path list = dir_.path() / (set + ".txt");
    std::ofstream out(list);
    for (const std::string& url : ServeSet(set, 2, 0ms)) out << url << "\n";
    out.close();
    ProcessResult submitted =
        Sluice({"submit", list.string(), "--data", data().string(), "--pipeline", pipeline});
    EXPECT_EQ(submitted.exit_code, 0) << submitted.err;
  };
  submit("for-defects", "defects");
  submit("for-default", "default");
  // The job's own pipeline, not --pipeline: drop the one WorkerArgs passes.
  auto args = [&](const std::string& name, std::vector<std::string> extra) {
    std::vector<std::string> all = WorkerArgs(name, 30, std::move(extra));
    auto at = std::find(all.begin(), all.end(), "--pipeline");
    all.erase(at, at + 2);
    return all;
  };
  ProcessResult pool = sluice::testing::RunProcess(
      args("defects-pool", {"--pipelines", "defects", "--exit-when-idle"}), dir_.path(),
      std::nullopt, {"SLUICE_DB=" + uri_});
  ASSERT_EQ(pool.exit_code, 0) << pool.err;
  std::map<std::string, db::Job> by_set;
  for (const db::Job& job : Jobs()) by_set[job.set] = job;
  EXPECT_EQ(by_set["for-defects"].state, db::JobState::kDone) << pool.err;
  EXPECT_EQ(by_set["for-defects"].pipeline, "defects");
  EXPECT_EQ(by_set["for-default"].state, db::JobState::kQueued) << "not this pool's job";
  // The defects pipeline ran: the probe and the videos' summary, no image methods.
  Result<std::vector<db::StepRow>> steps = db_->ListSteps("for-defects");
  ASSERT_TRUE(steps.ok()) << steps.status();
  EXPECT_FALSE(steps->empty());
  for (const db::StepRow& step : *steps) {
    EXPECT_TRUE(step.method == "media.probe" || step.method == "set.video_summary") << step.method;
  }
  ProcessResult any = sluice::testing::RunProcess(args("any", {"--exit-when-idle"}), dir_.path(),
                                                  std::nullopt, {"SLUICE_DB=" + uri_});
  ASSERT_EQ(any.exit_code, 0) << any.err;
  for (const db::Job& job : Jobs()) EXPECT_EQ(job.state, db::JobState::kDone) << job.set;
  // A pool for a pipeline that does not exist is refused before it claims anything.
  ProcessResult bad =
      sluice::testing::RunProcess(args("bad", {"--pipelines", "nope", "--exit-when-idle"}),
                                  dir_.path(), std::nullopt, {"SLUICE_DB=" + uri_});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("no built-in pipeline 'nope'"), std::string::npos) << bad.err;
}

TEST_F(FleetTest, StoppedWorkerPastItsLeaseHasItsCommitRefused) {
  Result<std::string> uri = sluice::testing::FreshPostgresDatabase();
  ASSERT_TRUE(uri.ok()) << uri.status();
  UseDatabase(*uri);
  std::string token = Submit("slow", ServeSet("slow", 8, 300ms), 5);
  std::unique_ptr<Subprocess> stopped =
      StartWorker("stopped", /*lease=*/1.0, {"--exit-when-idle", "--concurrency", "1"});
  // Wait until it is fetching, then freeze it past its lease.
  auto until = std::chrono::steady_clock::now() + 30s;
  while (std::chrono::steady_clock::now() < until && origin_.Log().size() < 2)
    std::this_thread::sleep_for(20ms);
  ASSERT_GE(origin_.Log().size(), 2u);
  stopped->Kill(SIGSTOP);
  std::this_thread::sleep_for(1500ms);
  std::unique_ptr<Subprocess> taker = StartWorker("taker", 5.0, {"--exit-when-idle"});
  ProcessResult took = taker->Wait();
  ASSERT_EQ(took.exit_code, 0) << WorkerLog("taker");
  Result<db::Job> job = db_->FindJob(token);
  ASSERT_TRUE(job.ok()) << job.status();
  EXPECT_EQ(job->state, db::JobState::kDone);
  EXPECT_EQ(job->worker, "taker");
  EXPECT_EQ(job->epoch, 2);

  stopped->Kill(SIGCONT);
  ProcessResult resumed = stopped->Wait();
  EXPECT_EQ(resumed.exit_code, 0) << WorkerLog("stopped");
  EXPECT_NE(WorkerLog("stopped").find("lease"), std::string::npos) << WorkerLog("stopped");
  EXPECT_EQ(WorkerLog("stopped").find("job 1 committed"), std::string::npos)
      << WorkerLog("stopped");
  EXPECT_EQ(db_->ListSets()->at(0).commits, 1);
  EXPECT_EQ(db_->FindJob(token)->worker, "taker");
}

TEST_F(FleetTest, PoisonJobReachesDeadLetterAndCanBeRetried) {
  Result<std::string> uri = sluice::testing::FreshPostgresDatabase();
  ASSERT_TRUE(uri.ok()) << uri.status();
  UseDatabase(*uri);
  std::string token = Submit("poison", ServeSet("poison", 3, 0ms), /*max_attempts=*/2);
  // This job kills whichever worker runs it (the crash hook fires after its first step).
  std::vector<std::string> crash = {"SLUICE_TEST_CRASH_AFTER_STEPS=1"};
  for (int run = 0; run < 2; ++run) {
    std::unique_ptr<Subprocess> worker =
        StartWorker("crashing-" + std::to_string(run), 0.3, {"--exit-when-idle"}, crash);
    EXPECT_EQ(worker->Wait().exit_code, 128 + SIGKILL);
    std::this_thread::sleep_for(400ms);  // past the lease
  }
  std::unique_ptr<Subprocess> last = StartWorker("last", 0.3, {"--exit-when-idle"}, crash);
  EXPECT_EQ(last->Wait().exit_code, 0) << "nothing left to claim: the job is dead";
  Result<db::Job> job = db_->FindJob(token);
  ASSERT_TRUE(job.ok());
  EXPECT_EQ(job->state, db::JobState::kDead);
  EXPECT_EQ(job->failure_cause, "lease_expired");
  EXPECT_EQ(job->attempts, 2);

  ProcessResult dead = Sluice({"jobs", "--state", "dead", "--data", data().string()});
  EXPECT_NE(dead.out.find(token), std::string::npos) << dead.out;
  ProcessResult status = Sluice({"status", token, "--data", data().string()});
  EXPECT_NE(status.out.find("dead"), std::string::npos) << status.out;
  EXPECT_NE(status.out.find("lease_expired"), std::string::npos) << status.out;
  ProcessResult retry =
      Sluice({"jobs", "retry", std::to_string(job->id), "--data", data().string()});
  ASSERT_EQ(retry.exit_code, 0) << retry.err;
  // Cancelled while queued, then re-driven again: cancel and retry go both ways.
  ProcessResult cancel =
      Sluice({"jobs", "cancel", std::to_string(job->id), "--data", data().string()});
  ASSERT_EQ(cancel.exit_code, 0) << cancel.err;
  EXPECT_EQ(db_->FindJob(token)->failure_cause, "cancelled");
  EXPECT_EQ(
      Sluice({"jobs", "cancel", std::to_string(job->id), "--data", data().string()}).exit_code, 2)
      << "dead already";
  ASSERT_EQ(Sluice({"jobs", "retry", std::to_string(job->id), "--data", data().string()}).exit_code,
            0);
  std::unique_ptr<Subprocess> fixed = StartWorker("fixed", 5, {"--exit-when-idle"});
  EXPECT_EQ(fixed->Wait().exit_code, 0) << WorkerLog("fixed");
  EXPECT_EQ(db_->FindJob(token)->state, db::JobState::kDone);
  ProcessResult json = Sluice({"status", token, "--json", "--data", data().string()});
  EXPECT_NE(json.out.find("\"items_ok\":3"), std::string::npos) << json.out;
}

TEST_F(FleetTest, WorkersRideOutAPostgresRestart) {
  auto server = sluice::testing::PostgresServer::Start();
  ASSERT_TRUE(server.ok()) << server.status();
  Result<std::string> uri = (*server)->CreateDatabase("fleet");
  ASSERT_TRUE(uri.ok()) << uri.status();
  UseDatabase(*uri);
  for (int s = 0; s < 4; ++s) {
    std::string set = "restart-" + std::to_string(s);
    Submit(set, ServeSet(set, 10, 100ms), 5);
  }
  std::vector<std::unique_ptr<Subprocess>> workers;
  // Two workers running two jobs each: every set is in flight when the server goes away.
  for (int w = 0; w < 2; ++w)
    workers.push_back(StartWorker("r" + std::to_string(w), 10.0, {"--jobs", "2"}));
  auto until = std::chrono::steady_clock::now() + 30s;
  while (std::chrono::steady_clock::now() < until && Jobs(db::JobState::kRunning).empty())
    std::this_thread::sleep_for(20ms);
  ASSERT_TRUE((*server)->Stop().ok());
  std::this_thread::sleep_for(1500ms);
  ASSERT_TRUE((*server)->StartAgain().ok());
  bool finished = WaitForDone(4, 120s);
  for (auto& worker : workers) worker->Kill(SIGKILL);
  for (auto& worker : workers) worker->Wait();
  ASSERT_TRUE(finished) << WorkerLog("r0") << WorkerLog("r1");
  std::vector<db::SetTotals> sets = *db_->ListSets();
  ASSERT_EQ(sets.size(), 4u);
  for (const db::SetTotals& set : sets) {
    EXPECT_EQ(set.commits, 1) << set.set;
    EXPECT_EQ(set.ok, 10) << set.set;
  }
}

TEST_F(FleetTest, SqsMessageBecomesAJobThatCommitsAndIsDeleted) {
  Result<std::string> uri = sluice::testing::FreshPostgresDatabase();
  ASSERT_TRUE(uri.ok()) << uri.status();
  UseDatabase(*uri);
  auto sqs = sluice::testing::Sqslite::Start();
  ASSERT_TRUE(sqs.ok()) << sqs.status();
  Result<std::string> queue = (*sqs)->CreateQueue("media");
  ASSERT_TRUE(queue.ok()) << queue.status();
  std::vector<std::string> urls = ServeSet("from-sqs", 3, 0ms);
  std::string body = R"({"set": "from-sqs", "urls": [")" + urls[0] + R"(", ")" + urls[1] +
                     R"(", ")" + urls[2] + R"("]})";
  Result<std::string> message = (*sqs)->Send(*queue, body);
  ASSERT_TRUE(message.ok()) << message.status();
  ASSERT_EQ(*(*sqs)->Messages(*queue), 1);

  std::unique_ptr<Subprocess> worker =
      StartWorker("sqs-worker", 10, {"--exit-when-idle", "--sqs", *queue, "--sqs-wait", "1"},
                  {"AWS_ACCESS_KEY_ID=local", "AWS_SECRET_ACCESS_KEY=local"});
  ProcessResult done = worker->Wait();
  ASSERT_EQ(done.exit_code, 0) << WorkerLog("sqs-worker");
  std::vector<db::Job> jobs = Jobs();
  ASSERT_EQ(jobs.size(), 1u) << WorkerLog("sqs-worker");
  EXPECT_EQ(jobs[0].dedupe_key, "sqs:" + *message);
  EXPECT_EQ(jobs[0].state, db::JobState::kDone);
  EXPECT_EQ(db_->ListSets()->at(0).commits, 1);
  EXPECT_EQ(db_->ListSets()->at(0).ok, 3);
  EXPECT_EQ(*(*sqs)->Messages(*queue), 0) << "the message is deleted once its job exists";
}

// A message naming a manifest in S3 (s3rver) becomes a job over the manifest's URLs; one whose
// manifest is not an s3://bucket/key location is left in the queue for its redrive policy.
TEST_F(FleetTest, SqsManifestMessagesAreReadFromS3) {
  Result<std::string> uri = sluice::testing::FreshPostgresDatabase();
  ASSERT_TRUE(uri.ok()) << uri.status();
  UseDatabase(*uri);
  auto sqs = sluice::testing::Sqslite::Start();
  ASSERT_TRUE(sqs.ok()) << sqs.status();
  auto s3 = sluice::testing::S3rver::Start();
  ASSERT_TRUE(s3.ok()) << s3.status();
  std::vector<std::string> urls = ServeSet("shard-1", 2, 0ms);
  std::filesystem::path manifest = dir_.path() / "shard-1.txt";
  std::ofstream(manifest) << urls[0] << "\n" << urls[1] << "\n";
  // s3rver does not check signatures: a plain PUT stores the manifest.
  ProcessResult put = sluice::testing::RunProcess(
      {"/usr/bin/curl", "-sS", "--fail", "-X", "PUT", "--data-binary", "@" + manifest.string(),
       (*s3)->endpoint() + "/" + (*s3)->bucket() + "/lists/shard-1.txt"},
      dir_.path());
  ASSERT_EQ(put.exit_code, 0) << put.err;
  Result<std::string> good = (*sqs)->CreateQueue("good");
  Result<std::string> bad = (*sqs)->CreateQueue("bad");
  ASSERT_TRUE(good.ok() && bad.ok());
  ASSERT_TRUE((*sqs)
                  ->Send(*good, R"({"set": "shard-1", "manifest": "s3://)" + (*s3)->bucket() +
                                    R"(/lists/shard-1.txt"})")
                  .ok());
  ASSERT_TRUE(
      (*sqs)
          ->Send(*bad, R"({"set": "shard-2", "manifest": "s3://)" + (*s3)->bucket() + R"("})")
          .ok());
  std::vector<std::string> aws = {
      "AWS_ENDPOINT_URL=" + (*s3)->endpoint(),
      std::string("AWS_ACCESS_KEY_ID=") + testing::S3rver::kAccessKey,
      std::string("AWS_SECRET_ACCESS_KEY=") + testing::S3rver::kSecretKey};
  for (const std::string& queue : {*good, *bad}) {
    std::unique_ptr<Subprocess> worker = StartWorker(
        "manifest-worker", 10, {"--exit-when-idle", "--sqs", queue, "--sqs-wait", "1"}, aws);
    ASSERT_EQ(worker->Wait().exit_code, 0) << WorkerLog("manifest-worker");
  }
  std::vector<db::Job> jobs = Jobs();
  ASSERT_EQ(jobs.size(), 1u) << WorkerLog("manifest-worker");
  EXPECT_EQ(jobs[0].set, "shard-1");
  EXPECT_EQ(jobs[0].state, db::JobState::kDone);
  EXPECT_EQ(db_->ListSets()->at(0).ok, 2);
  EXPECT_EQ(*(*sqs)->Messages(*good), 0);
  EXPECT_EQ(*(*sqs)->Messages(*bad), 1) << "left for the queue's redrive policy";
  EXPECT_NE(WorkerLog("manifest-worker").find("only s3://bucket/key manifests"), std::string::npos)
      << WorkerLog("manifest-worker");
}

// A set over S3 whose analysis a second worker resumes: the first stored the video in S3 as it
// downloaded it, analysed its downloaded file and was killed after its first step; the second
// streams the 200 MB object from S3 into a scratch file in bounded ranges, and its memory stays
// far below the video's size.
TEST_F(FleetTest, ASetResumedElsewhereStreamsItsVideoInBoundedMemory) {
  Result<std::string> uri = sluice::testing::FreshPostgresDatabase();
  ASSERT_TRUE(uri.ok()) << uri.status();
  UseDatabase(*uri);
  auto s3 = sluice::testing::S3rver::Start();
  ASSERT_TRUE(s3.ok()) << s3.status();
  // ~200 MB of raw video (Matroska, 320x240 at 30 fps for 58 s): no encoding time.
  std::filesystem::path video = dir_.path() / "big.mkv";
  ProcessResult made = sluice::testing::RunProcess(
      {"/usr/bin/ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=30",
       "-t", "58", "-c:v", "rawvideo", "-pix_fmt", "yuv420p", video.string()},
      dir_.path());
  ASSERT_EQ(made.exit_code, 0) << made.err;
  ASSERT_GT(std::filesystem::file_size(video), 190u << 20);
  auto body = std::make_shared<std::string>();
  {
    std::ifstream in(video, std::ios::binary);
    body->assign(std::istreambuf_iterator<char>(in), {});
  }
  origin_.Route("/big.mkv", [body](const HttpRequest& request, int) {
    return http::ServeBytes(request, *body, "video/x-matroska");
  });
  Submit("big", {origin_.Url("/big.mkv")}, /*max_attempts=*/5);
  std::vector<std::string> aws = {
      "AWS_ENDPOINT_URL=" + (*s3)->endpoint(),
      std::string("AWS_ACCESS_KEY_ID=") + testing::S3rver::kAccessKey,
      std::string("AWS_SECRET_ACCESS_KEY=") + testing::S3rver::kSecretKey};
  std::vector<std::string> store = {"--exit-when-idle", "--store",
                                    "s3://" + (*s3)->bucket() + "/fleet"};
  // The pipeline's image steps do not apply to a video; set.summary is the first step run.
  std::vector<std::string> crash = aws;
  crash.push_back("SLUICE_TEST_CRASH_AFTER_STEPS=1");
  std::unique_ptr<Subprocess> first = StartWorker("first", 1.0, store, crash);
  EXPECT_EQ(first->Wait().exit_code, 128 + SIGKILL) << WorkerLog("first");
  std::this_thread::sleep_for(1500ms);  // past the lease

  std::filesystem::path rss = dir_.path() / "second.rss";
  std::vector<std::string> args = {"/usr/bin/time", "-f", "%M", "-o", rss.string()};
  for (std::string& arg : WorkerArgs("second", 5.0, store)) args.push_back(std::move(arg));
  std::filesystem::create_directories(dir_.path() / "logs" / "second");
  std::vector<std::string> env = aws;
  env.push_back("SLUICE_DB=" + uri_);
  Subprocess second(args, dir_.path() / "logs" / "second", std::nullopt, env);
  ASSERT_EQ(second.Wait().exit_code, 0) << WorkerLog("second");
  std::vector<db::Job> jobs = Jobs();
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_EQ(jobs[0].state, db::JobState::kDone) << WorkerLog("second");
  EXPECT_EQ(jobs[0].worker, "second");
  EXPECT_EQ(db_->ListSets()->at(0).ok, 1);
  std::vector<db::StepRow> steps = *db_->ListSteps("big");
  ASSERT_EQ(steps.size(), 1u);
  EXPECT_EQ(steps[0].method, "set.summary");
  EXPECT_TRUE(steps[0].ok) << steps[0].failure_details;
  int64_t peak_kb = 0;
  std::ifstream(rss) >> peak_kb;
  ASSERT_GT(peak_kb, 0);
  std::printf("peak RSS of the resumed worker: %lld MB\n", static_cast<long long>(peak_kb / 1024));
#if defined(__SANITIZE_ADDRESS__)
  // AddressSanitizer keeps freed memory in quarantine (256 MB by default): RSS says nothing of
  // the program here; the debug build checks it.
  std::printf("(not checked under ASan)\n");
#else
  // The video is over 190 MB: a worker that held it would pass this bound by far. (The debug
  // binary itself is ~100 MB resident with its libraries: the bound leaves it room to grow.)
  EXPECT_LT(peak_kb, 150 * 1024) << "the resumed worker held the video in memory";
#endif
}

}  // namespace
}  // namespace sluice::cli

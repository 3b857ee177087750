#include "worker/worker.h"

#include <algorithm>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "common/redact.h"
#include "common/strings.h"
#include "runtime/offload.h"
#include "runtime/task_group.h"

namespace sluice::worker {

namespace asio = boost::asio;

std::chrono::milliseconds RetryBackoff(int attempts) {
  return std::chrono::milliseconds(
      std::min<int64_t>(60'000, int64_t{1000} << std::clamp(attempts, 0, 6)));
}

Worker::Worker(pipeline::SetParts parts, pipeline::PipelineDef pipeline, WorkerOptions options,
               intake::Intake* intake, WorkerObserver* observer)
    : parts_(std::move(parts)),
      pipeline_(std::move(pipeline)),
      options_(std::move(options)),
      intake_(intake),
      observer_(observer ? observer : &silent_),
      renewing_(parts_.runtime->loop_executor()),
      slot_freed_(parts_.runtime->loop_executor()) {}

Worker::~Worker() = default;

void Worker::Stop() {
  counts_.stopped = true;
  if (intake_) intake_->Stop();
  for (pipeline::SetRunner* runner : runners_) runner->Stop();
  slot_freed_.cancel();
}

asio::awaitable<void> Worker::KeepLeases() {
  while (true) {
    renewing_.expires_after(options_.lease / 3);
    boost::system::error_code ec;
    co_await renewing_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return;  // cancelled: the worker is done
    std::vector<db::Lease> leases;
    for (const auto& [id, held] : held_) {
      if (!held.lost) leases.push_back({id, held.job->epoch});
    }
    if (leases.empty()) continue;
    auto renew = [&] { return parts_.db->Heartbeat(leases, options_.lease); };
    Result<std::vector<int64_t>> lost_jobs =
        co_await runtime::RunOn(parts_.runtime->blocking(), renew);
    if (!lost_jobs.ok()) continue;  // the next round tries again, well within the lease
    for (int64_t id : *lost_jobs) {
      // A job that finished meanwhile is gone from held_ (or held again under a new epoch).
      auto it = held_.find(id);
      auto sent = std::find_if(leases.begin(), leases.end(),
                               [id](const db::Lease& lease) { return lease.job_id == id; });
      if (it == held_.end() || it->second.lost || sent == leases.end() ||
          sent->epoch != it->second.job->epoch)
        continue;
      it->second.lost = true;
      observer_->OnLeaseLost(*it->second.job);
    }
  }
}

asio::awaitable<Result<const pipeline::PipelineDef*>> Worker::PipelineOf(std::string name) {
  if (!options_.resolve_pipeline || name.empty()) co_return &pipeline_;
  auto known = resolved_.find(name);
  if (known == resolved_.end()) {
    auto resolve = [this, &name] { return options_.resolve_pipeline(name); };
    Result<pipeline::PipelineDef> definition =
        co_await runtime::RunOn(parts_.runtime->blocking(), resolve);
    if (!definition.ok()) {
      co_return Failure(absl::StatusCode::kInvalidArgument, "unknown_pipeline",
                        StrCat("pipeline '", name, "': ", definition.status().message()));
    }
    known = resolved_.emplace(name, std::move(*definition)).first;
  }
  co_return &known->second;
}

asio::awaitable<Result<pipeline::SetReport>> Worker::RunLeased(db::Job job) {
  db::Lease lease{job.id, job.epoch};
  SLUICE_CO_ASSIGN_OR_RETURN(const pipeline::PipelineDef* definition,
                             co_await PipelineOf(job.pipeline));
  held_[job.id] = Held{&job};
  pipeline::SetRunOptions run = options_.run;
  run.lease = lease;
  pipeline::SetRunner runner(parts_, std::move(run));
  runners_.insert(&runner);
  if (counts_.stopped) runner.Stop();
  Result<pipeline::SetReport> report = co_await runner.Run(job.set, job.urls, *definition);
  runners_.erase(&runner);
  if (report.ok() && report->interrupted()) {
    report = Failure(absl::StatusCode::kUnavailable, "worker_stopped",
                     "the worker was stopped before the set was acquired");
  }
  bool lost = held_[job.id].lost;
  held_.erase(job.id);
  if (!report.ok() && lost) co_return db::LeaseLost(lease);
  co_return report;
}

asio::awaitable<void> Worker::RunJob(db::Job job) {
  observer_->OnJobStarted(job);
  Result<pipeline::SetReport> report = co_await RunLeased(job);
  if (report.ok()) {
    ++counts_.committed;
    observer_->OnJobCommitted(job, *report);
  } else if (CauseOf(report.status()) == "lease_lost") {
    ++counts_.failed;
    observer_->OnJobFailed(job, report.status(), false, false);
  } else {
    ++counts_.failed;
    // A stopped worker gives the job back at once.
    bool given_back = CauseOf(report.status()) == "worker_stopped";
    std::chrono::milliseconds backoff =
        given_back ? std::chrono::milliseconds(0) : RetryBackoff(job.attempts);
    bool retryable = IsRetryable(report.status());
    db::Lease held{job.id, job.epoch};
    Status cause = RedactSecrets(report.status());
    auto fail = [&] { return parts_.db->Fail(held, cause, retryable, backoff); };
    Status recorded = co_await runtime::RunOn(parts_.runtime->blocking(), fail);
    observer_->OnJobFailed(job, report.status(), retryable && job.attempts < job.max_attempts,
                           recorded.ok());
  }
  --running_;
  slot_freed_.cancel();
}

asio::awaitable<WorkerCounts> Worker::Run() {
  runtime::TaskGroup side(parts_.runtime->loop_executor());
  if (intake_) side.Spawn(intake_->Run());
  side.Spawn(KeepLeases());
  runtime::TaskGroup jobs(parts_.runtime->loop_executor());
  while (!counts_.stopped) {
    int free = std::max(0, options_.jobs - running_);
    if (free > 0) {
      auto claim = [&] {
        return parts_.db->Claim(options_.name, free, options_.lease, options_.pipelines);
      };
      Result<std::vector<db::Job>> claimed =
          co_await runtime::RunOn(parts_.runtime->blocking(), claim);
      if (!claimed.ok()) {
        observer_->OnClaimFailed(claimed.status());
      } else if (!claimed->empty()) {
        for (db::Job& job : *claimed) {
          ++running_;
          jobs.Spawn(RunJob(std::move(job)));
        }
        continue;
      } else if (running_ == 0) {
        if (options_.exit_when_idle && (!intake_ || intake_->idle())) break;
        if (!intake_) {
          // Postgres wakes us on NOTIFY; otherwise this is the poll interval.
          auto wait = [&] { return parts_.db->WaitForJobs(options_.poll); };
          Result<bool> woken = co_await runtime::RunOn(parts_.runtime->blocking(), wait);
          (void)woken;  // a hint either way: the next claim decides
          continue;
        }
      }
    }
    // Every slot busy, or nothing ready while jobs run: wait for a slot or the poll interval.
    slot_freed_.expires_after(options_.poll);
    boost::system::error_code ec;
    co_await slot_freed_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
  co_await jobs.Wait();
  if (intake_) intake_->Stop();
  renewing_.cancel();
  co_await side.Wait();
  co_return counts_;
}

}  // namespace sluice::worker

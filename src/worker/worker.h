// Worker: the claim loop over the durable queue (DESIGN.md §2, §4 Queue). It claims jobs (up to
// `jobs` at once, in one batch as slots free up), runs each through a SetRunner under the job's
// lease — the leases of all its running jobs renewed together, in one call every third of the
// lease's length — and settles it:
//
//   committed        the set's commit completed the job in the same transaction;
//   lease lost       another worker took the job over; this one's commit was refused;
//   failed           retryable failures go back to the queue with backoff (2, 4, 8 … s, at
//                    most a minute) while attempts remain, the rest to the dead letter state;
//   given back       Stop() interrupted the acquisition: the job is queued again at once.
//
// An optional intake (SQS) runs beside the loop and makes jobs for it.
//
// Event-loop only; queue calls run on the blocking pool.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <string>

#include "db/jobs.h"
#include "pipeline/definition.h"
#include "pipeline/set_runner.h"
#include "queue/intake/intake.h"

namespace sluice::worker {

struct WorkerOptions {
  // The worker's name in job rows (an operator finds it by this). Required.
  std::string name;
  // Jobs (sets) run at once, each with run.concurrency items in flight. Default 1.
  int jobs = 1;
  // Lease length; renewed every third of it. A worker silent for longer loses its job. 30 s.
  std::chrono::milliseconds lease{30'000};
  // How long an idle worker waits for a wake-up (Postgres NOTIFY) before claiming again. 2 s.
  std::chrono::milliseconds poll{2'000};
  // Return once nothing runs, nothing is ready and the intake is idle, instead of waiting.
  bool exit_when_idle = false;
  // How each set runs; `lease` is set per job.
  pipeline::SetRunOptions run;
  // Claim only jobs naming one of these pipelines (a pool of machines for some methods).
  // Empty: any job.
  std::vector<std::string> pipelines;
  // How a job's pipeline name becomes a pipeline (built-in names, files); called on the
  // blocking pool, once per name. Null: every job runs the worker's own pipeline. A name it
  // refuses fails the job for good with its error.
  std::function<Result<pipeline::PipelineDef>(const std::string& name)> resolve_pipeline;
};

// What the worker did, for logs. Called on the event loop; must not block.
class WorkerObserver {
 public:
  virtual ~WorkerObserver() = default;
  virtual void OnJobStarted(const db::Job& /*job*/) {}
  virtual void OnJobCommitted(const db::Job& /*job*/, const pipeline::SetReport& /*report*/) {}
  // The job's lease renewal found it taken over; its work is abandoned at the commit.
  virtual void OnLeaseLost(const db::Job& /*job*/) {}
  // The job ended without a commit. `requeued`: it goes back to the queue (else dead letter,
  // or nothing when `status` is lease_lost); `recorded`: the queue took the failure.
  virtual void OnJobFailed(const db::Job& /*job*/, const Status& /*status*/, bool /*requeued*/,
                           bool /*recorded*/) {}
  virtual void OnClaimFailed(const Status& /*status*/) {}
};

struct WorkerCounts {
  int64_t committed = 0;
  int64_t failed = 0;
  // Stop() ended the loop (rather than an idle queue).
  bool stopped = false;
};

class Worker {
 public:
  // `intake` and `observer` may be null; what is given must outlive Run().
  Worker(pipeline::SetParts parts, pipeline::PipelineDef pipeline, WorkerOptions options,
         intake::Intake* intake = nullptr, WorkerObserver* observer = nullptr);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // Claims and runs jobs until Stop(), or with exit_when_idle until idle. Returns the counts;
  // claim errors are reported to the observer and retried after the poll interval.
  boost::asio::awaitable<WorkerCounts> Run();
  // Stops claiming and the intake; running acquisitions are interrupted and their jobs given
  // back; analyses already begun run to their commits. Run() returns when all have ended.
  void Stop();

 private:
  boost::asio::awaitable<void> RunJob(db::Job job);
  boost::asio::awaitable<Result<pipeline::SetReport>> RunLeased(db::Job job);
  // The pipeline a job names, resolved once per name (options_.resolve_pipeline).
  boost::asio::awaitable<Result<const pipeline::PipelineDef*>> PipelineOf(std::string name);
  // Renews every running job's lease in one call each third of the lease until renewing_ is
  // cancelled; marks the jobs whose lease was lost.
  boost::asio::awaitable<void> KeepLeases();

  pipeline::SetParts parts_;
  pipeline::PipelineDef pipeline_;
  std::map<std::string, pipeline::PipelineDef> resolved_;
  WorkerOptions options_;
  intake::Intake* intake_;
  WorkerObserver* observer_;
  WorkerObserver silent_;
  WorkerCounts counts_;
  int running_ = 0;
  // The jobs running, by id: what KeepLeases renews. `job` is RunLeased's own (its URLs are
  // not copied), valid until RunLeased erases the entry.
  struct Held {
    const db::Job* job = nullptr;
    bool lost = false;
  };
  std::map<int64_t, Held> held_;
  boost::asio::steady_timer renewing_;
  std::set<pipeline::SetRunner*> runners_;
  boost::asio::steady_timer slot_freed_;
};

// The backoff before a failed job's next attempt: 2, 4, 8 … s after attempts 1, 2, 3 …, at most
// a minute.
std::chrono::milliseconds RetryBackoff(int attempts);

}  // namespace sluice::worker

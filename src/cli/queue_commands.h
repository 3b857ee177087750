// The queue commands of the sluice binary: submit, status, jobs, worker. Exit codes as in
// set_commands.h.
#pragma once

#include <filesystem>
#include <string>

#include "cli/console.h"
#include "http/fetcher.h"
#include "methods/registry.h"
#include "worker/worker.h"

namespace sluice::cli {

// Where the job queue lives: the data directory's database, or --db / $SLUICE_DB / the config
// file's [backends].
using QueueConfig = DataConfig;

struct SubmitConfig {
  QueueConfig queue;
  std::string list;  // URL list file or "-"
  std::string set;   // default: the list's file name
  int priority = 0;
  int max_attempts = 3;
  // The pipeline the job runs: a built-in name or a file the workers can read.
  std::string pipeline = "default";
  bool json = false;
};
// Queues the list as one job and prints its token: 0, or 2 for a bad list, 1 when the queue
// cannot be used.
int SubmitJob(SubmitConfig config);

struct StatusConfig {
  QueueConfig queue;
  std::string token;  // or the numeric job id
  bool json = false;
};
// Shows a job's state, attempts, progress (the job's URLs recorded so far) and failures.
// 2 for an unknown token.
int ShowJobStatus(StatusConfig config);

struct JobsConfig {
  QueueConfig queue;
  std::string state;      // "" for every state
  int64_t retry_id = 0;   // > 0: re-drive this dead job instead of listing
  int64_t cancel_id = 0;  // > 0: cancel this queued or running job instead of listing
  int limit = 100;
  bool json = false;
};
int ListJobs(JobsConfig config);

struct WorkerConfig {
  QueueConfig queue;
  size_t concurrency = 64;
  size_t per_host = 16;
  // Jobs (sets) run at once, each with `concurrency` items in flight; claimed in batches.
  int jobs = 1;
  http::FetchOptions fetch;
  // Every claimed job runs this pipeline (file or built-in name) instead of the one it names.
  std::filesystem::path pipeline;
  // Claim only jobs naming one of these pipelines; empty: any.
  std::vector<std::string> pipelines;
  // Lease length; renewed every third of it. A worker silent for longer loses its job.
  double lease_seconds = 30;
  // How long an idle worker waits for a wake-up (Postgres NOTIFY) before claiming again.
  double poll_seconds = 2;
  // Exit once a claim finds nothing ready (batch runs, tests) instead of waiting for more.
  bool exit_when_idle = false;
  std::string name;  // default: HOST:PID
  // An SQS queue URL to take jobs from as well ("" for none): each message becomes a job.
  std::string sqs;
  int sqs_wait_seconds = 20;
  int sqs_visibility_seconds = 60;
  // Attempts of the jobs the SQS intake creates.
  int max_attempts = 3;
};
// Claims jobs (up to `jobs` at once) and runs each (acquire, analyse, fenced commit) until
// stopped, or until idle with exit_when_idle. A failed job is queued again with backoff while
// attempts remain, else dead-lettered with its cause.
int RunWorker(WorkerConfig config);

// How a worker of `config` named `name` runs (`worker`, and `serve --workers`): each job runs
// the pipeline it names, resolved with `registry`, unless config.pipeline gives every job one.
worker::WorkerOptions WorkerOptionsFor(const WorkerConfig& config, std::string name,
                                       const methods::Registry& registry);
// A worker's name in job rows: host and process, so an operator can find it.
std::string WorkerName();

// The worker's log: one line per job started, committed or failed, on stderr.
class WorkerLog : public worker::WorkerObserver {
 public:
  void OnJobStarted(const db::Job& job) override;
  void OnJobCommitted(const db::Job& job, const pipeline::SetReport& report) override;
  void OnLeaseLost(const db::Job& job) override;
  void OnJobFailed(const db::Job& job, const Status& status, bool requeued, bool recorded) override;
  void OnClaimFailed(const Status& status) override;
};

}  // namespace sluice::cli

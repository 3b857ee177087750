// JobStore: the durable job queue's rows (DESIGN.md §4 "Queue"), on the same database as the
// catalog so that a set's commit and its job's completion are one transaction.
//
// A job is one set's worth of work: a set name and its URLs. Lifecycle:
//
//   queued ──Claim──► running ──commit (fenced)──► done
//      ▲                 │ Fail(retryable) / lease expired, attempts left
//      └─────────────────┘
//                        │ Fail(permanent) / attempts exhausted ──► dead ──Retry──► queued
//
// Every claim is a lease: it raises the job's epoch, counts an attempt and runs until
// lease_until, renewed by Heartbeat. A worker that stops renewing (crash, SIGSTOP, partition)
// loses the job at the next claim after the lease ends; from then on every write it makes with
// its old epoch — heartbeat, fail, complete, the set commit — is refused with
// FailedPrecondition, cause "lease_lost". That is the fence that keeps a set from committing
// twice.
//
// Claims take the highest priority first, then go round-robin across sets (each set's jobs are
// ranked 1, 2, 3… from the queue's lowest waiting rank at submit time), then oldest first.
//
// Calls block: run them on the blocking pool.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace sluice::db {

enum class JobState { kQueued, kRunning, kDone, kDead };
std::string_view JobStateName(JobState state);
// The state named `name` ("queued", …); nullopt for an unknown name.
std::optional<JobState> ParseJobState(std::string_view name);

struct JobSpec {
  std::string set;
  std::vector<std::string> urls;
  // Higher runs first. Default 0.
  int priority = 0;
  // Claims (crashes and lease expiries included) before the job goes to dead letter.
  int max_attempts = 3;
  // When set, a second Submit with the same key returns the first job (an SQS MessageId).
  std::string dedupe_key;
  // The pipeline the job runs: a built-in name ("default", "video", "defects") or a pipeline
  // file the workers can read. Workers may claim only some pipelines (Claim's `pipelines`).
  // No commas. Default "default".
  std::string pipeline = "default";
};

struct Job {
  int64_t id = 0;
  // Public handle printed by `sluice submit`, accepted by `sluice status`.
  std::string token;
  std::string set;
  JobState state = JobState::kQueued;
  int priority = 0;
  int attempts = 0;
  int max_attempts = 0;
  int64_t epoch = 0;
  std::string worker;  // the last claimant
  std::vector<std::string> urls;
  std::string dedupe_key;
  std::string pipeline;
  // Milliseconds since the Unix epoch; 0 when not yet.
  int64_t created_ms = 0;
  int64_t started_ms = 0;
  int64_t finished_ms = 0;
  int64_t lease_until_ms = 0;
  // Why the last attempt failed (kept after a successful retry for the record).
  std::string failure_cause;
  std::string failure_details;
};

// A claim's fence: writes made under it succeed only while the job is still running under
// this epoch.
struct Lease {
  int64_t job_id = 0;
  int64_t epoch = 0;
};

// What CompleteAndClaim did: the jobs it claimed and how many finished leases it completed.
struct Claimed {
  std::vector<Job> jobs;
  int completed = 0;
};

struct Submitted {
  Job job;
  // False when `dedupe_key` matched an existing job, which is returned instead.
  bool created = true;
};

class JobStore {
 public:
  virtual ~JobStore() = default;

  // Queues a job. InvalidArgument for an empty set name or URL list.
  virtual Result<Submitted> Submit(const JobSpec& spec) = 0;
  // Claims up to `max_jobs` ready jobs for `worker` with leases of `lease`, of the pipelines
  // named in `pipelines` only (empty: of any). Expired leases are reaped first (back to queued,
  // or dead with cause "lease_expired" when out of attempts). Empty when nothing is ready.
  virtual Result<std::vector<Job>> Claim(std::string_view worker, int max_jobs,
                                         std::chrono::milliseconds lease,
                                         const std::vector<std::string>& pipelines) = 0;
  // Renews `leases` for another `lease`. Returns the job ids whose lease is lost (their epoch
  // moved on, or they are no longer running): stop working on those.
  virtual Result<std::vector<int64_t>> Heartbeat(const std::vector<Lease>& leases,
                                                 std::chrono::milliseconds lease) = 0;
  // Ends an attempt that failed with `cause`: back to queued after `backoff` when `retryable`
  // and attempts remain, otherwise dead with the cause. FailedPrecondition "lease_lost" when
  // the lease is stale.
  virtual Status Fail(const Lease& lease, const Status& cause, bool retryable,
                      std::chrono::milliseconds backoff) = 0;
  // Marks jobs done without a set commit (jobs whose work lives elsewhere; the queue
  // benchmark). Returns how many were completed; the rest had lost their lease. A lease that
  // already completed counts as completed (a retried call after an ambiguous commit).
  virtual Result<int> Complete(const std::vector<Lease>& leases) = 0;
  // Complete(`finished`) and then Claim(...), in one round trip where the backend can (Postgres:
  // one statement, one transaction), so that a claimer finishing jobs and asking for more pays
  // one commit instead of two. `completed` counts as Complete's result does.
  virtual Result<Claimed> CompleteAndClaim(const std::vector<Lease>& finished,
                                           std::string_view worker, int max_jobs,
                                           std::chrono::milliseconds lease,
                                           const std::vector<std::string>& pipelines);
  // The job with this token, or this numeric id. NotFound when there is none.
  virtual Result<Job> FindJob(std::string_view token_or_id) = 0;
  // Jobs newest first, optionally only in `state`, at most `limit`. URLs are not loaded.
  virtual Result<std::vector<Job>> ListJobs(std::optional<JobState> state, int limit) = 0;
  // How many jobs are in each state (states with none are left out).
  virtual Result<std::map<JobState, int64_t>> CountJobs() = 0;
  // Re-drives a dead job: queued now, attempts reset. NotFound for no such job;
  // FailedPrecondition when it is not dead.
  virtual Result<Job> RetryJob(int64_t id) = 0;
  // Cancels a job that has not finished: dead with cause "cancelled", its epoch moved on so that
  // a worker running it loses its lease and its commit is refused. NotFound for no such job;
  // FailedPrecondition when it is done or dead already.
  virtual Result<Job> CancelJob(int64_t id) = 0;
  // Waits up to `timeout` for a hint that jobs may be ready (Postgres LISTEN/NOTIFY). True on a
  // hint; false on timeout. Backends without notifications just wait (callers poll).
  virtual Result<bool> WaitForJobs(std::chrono::milliseconds timeout) = 0;
};

}  // namespace sluice::db

// The commands of the sluice binary, composed from the embedded-default backends. cli/ parses
// arguments into these configs; everything else happens here.
//
// Each returns the process exit code and prints its own messages:
//   0   done (a set was recorded, item failures included)
//   1   fatal: the data directory or database cannot be used, or recording failed
//   2   bad input: arguments, an unreadable or malformed URL list
//   130 interrupted (SIGINT/SIGTERM): finished items are recorded; rerun to continue
#pragma once

#include <filesystem>
#include <string>

#include "app/console.h"
#include "http/fetcher.h"

namespace sluice::app {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFatal = 1;
inline constexpr int kExitBadInput = 2;
inline constexpr int kExitInterrupted = 130;

struct RunConfig {
  // A URL list file, or "-" for standard input.
  std::string list;
  // Default "": the list file's name without extension ("stdin" for "-").
  std::string set;
  std::filesystem::path data = "sluice-data";
  size_t concurrency = 64;
  size_t per_host = 16;
  // Fetch limits and guards; scratch_dir is set from the data directory.
  http::FetchOptions fetch;
  // Print one JSON object on stdout instead of the human summary.
  bool json = false;
  ProgressStyle progress = ProgressStyle::kAuto;
  // A pipeline file (TOML); "" for the built-in default pipeline.
  std::filesystem::path pipeline;
  // Fetch and store only; a later run without it analyses what was stored (nothing refetched).
  bool fetch_only = false;
  // The config file ([providers]); "" for $SLUICE_CONFIG, or the defaults when that is unset.
  std::filesystem::path config;
  // Where objects and result documents go: "" for $SLUICE_STORE, else the data directory;
  // "s3://bucket/prefix" for S3 (DataDir::Open).
  std::string store;
  // The database: "" for $SLUICE_DB, else the config file's backends.db, else
  // <data>/sluice.db; "sqlite://PATH" or "postgres://…".
  std::string db;
};

// Acquires the list, then runs the pipeline over the set and commits it.
int RunAcquire(RunConfig config);

// Validates a pipeline file against the method specs: 0 and a summary when valid, 2 and
// "FILE:LINE: what is wrong" otherwise.
int CheckPipeline(const std::filesystem::path& file, const std::filesystem::path& config = {});

struct DemoConfig {
  std::filesystem::path data = "sluice-data";
  // Default "": <data>/samples, where scripts/make-samples.sh writes them.
  std::filesystem::path samples;
  ProgressStyle progress = ProgressStyle::kAuto;
};

// Serves the sample media on loopback, runs the main job over it and shows where results are.
int RunDemo(DemoConfig config);

struct ResultsConfig {
  std::filesystem::path data = "sluice-data";
  // Default "": list the sets instead of one set's items.
  std::string set;
  // "table" or "jsonl".
  std::string format = "table";
  std::string store;
  std::string db;
  std::filesystem::path config;
};

int ShowResults(ResultsConfig config);

struct TryConfig {
  std::string method;
  std::filesystem::path file;
  // JSON object of parameters; "" for the defaults.
  std::string params;
  // Where artifacts (thumbnails) are stored.
  std::filesystem::path data = "sluice-data";
  std::filesystem::path config;
  // Save the provider exchanges as cassettes in this directory / serve them from it with no
  // network. At most one.
  std::filesystem::path record;
  std::filesystem::path replay;
};

// Runs one method alone on one file and prints its step result as JSON: 0 when the step
// succeeded, 1 when the method failed (the JSON says why), 2 for bad input.
int TryMethod(TryConfig config);

// Lists every registered method with its spec: a table, or one JSON object per line.
int ListMethods(bool json, const std::filesystem::path& config = {});

// Where the job queue lives: the data directory's database, or --db / $SLUICE_DB / the config
// file's [backends].
struct QueueConfig {
  std::filesystem::path data = "sluice-data";
  std::string db;
  std::string store;
  std::filesystem::path config;
};

struct SubmitConfig {
  QueueConfig queue;
  std::string list;  // URL list file or "-"
  std::string set;   // default: the list's file name
  int priority = 0;
  int max_attempts = 3;
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
  std::string state;     // "" for every state
  int64_t retry_id = 0;  // > 0: re-drive this dead job instead of listing
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
  std::filesystem::path pipeline;
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

}  // namespace sluice::app

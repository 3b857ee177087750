// SetRunner: one set from its URLs to its commit — acquire, then analyse and commit
// (DESIGN.md §2). Every front runs sets through it (`sluice run`, `sluice demo`, the worker, the
// HTTP service); nothing else orchestrates a set.
//
//   acquire  — every URL not yet recorded ok is fetched, stored once and recorded (Acquirer);
//   analyse  — the pipeline over every stored item of the set, checkpointed in a journal, and
//              the set committed in one transaction (Analyzer).
//
// Media is read once per process: with a store that keeps nothing on this machine (S3) the
// files acquisition downloaded stay in the scratch directory until the analysis ends and are
// analysed in place; only items acquired by an earlier run (a set resumed on another machine)
// are streamed back from the store, each into a scratch file of its own.
//
// The journal is a file under the data directory for a run on one machine, and the database
// for a run under a job's lease, where whichever worker takes the set over next resumes it.
//
// Event-loop only: construct, Run and Stop on the loop thread. One SetRunner runs one set once.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "db/catalog.h"
#include "http/curl_client.h"
#include "http/fetcher.h"
#include "methods/registry.h"
#include "pipeline/acquire.h"
#include "pipeline/analyze.h"
#include "pipeline/definition.h"
#include "pipeline/run_metrics.h"
#include "runtime/runtime.h"
#include "storage/blob_store.h"

namespace sluice::pipeline {

// What a set run is told as it goes. Called on the event loop; must not block. Every method
// has an empty default, so an observer overrides only what it shows.
class SetObserver {
 public:
  virtual ~SetObserver() = default;
  // How often OnAcquireProgress is called while acquiring. Zero (the default): only once, final.
  virtual std::chrono::milliseconds progress_interval() const { return {}; }
  // The acquisition's counters; `final` once acquisition has ended.
  virtual void OnAcquireProgress(const AcquireProgress& /*progress*/, bool /*final*/) {}
  // Every item recorded by acquisition, ok or failed.
  virtual void OnItemRecorded(const db::ItemRecord& /*item*/) {}
  // Acquisition is over and the analysis of `set` begins; it runs to its commit.
  virtual void OnAnalysisStarted(std::string_view /*set*/) {}
};

// The parts a set run works with, borrowed: they outlive every SetRunner made from them.
struct SetParts {
  runtime::Runtime* runtime = nullptr;
  // The process's HTTP client: fetches go through it.
  http::HttpClient* http = nullptr;
  storage::BlobStore* store = nullptr;
  db::Database* db = nullptr;
  const methods::Registry* registry = nullptr;
  // The vector indexes that absorb each committed set's embeddings. Null: none.
  index::IndexFolder* indexes = nullptr;
  // Where the indexes' files are copied after each set (a fleet's store). Null: not copied.
  storage::BlobStore* index_copies = nullptr;
  // The data directory: file journals live under it (JournalPath).
  std::filesystem::path data_root;
  // This process's scratch directory: downloads land here before the store takes them.
  std::filesystem::path scratch_dir;
  // Counts what the runs do (items, steps, sets in flight). Null: not counted.
  RunMetrics* metrics = nullptr;
};

struct SetRunOptions {
  // Items in flight while acquiring; also while analysing when the pipeline has remote steps
  // (items waiting on providers hold no CPU). Default 64.
  size_t concurrency = 64;
  // Items in flight per host while acquiring. Default 16.
  size_t per_host = 16;
  // Fetch limits and guards; scratch_dir is taken from SetParts.
  http::FetchOptions fetch;
  // Acquire only; a later run analyses what was stored (nothing is fetched again).
  bool fetch_only = false;
  // The job this set runs under (a worker's claim): checkpoints go to the database and the
  // commit completes the job, fenced by the lease. Default none: a file journal, no job.
  std::optional<db::Lease> lease;
  // The real-time path: analyse only the items of this run's URLs (their item steps; no set
  // steps) and commit only their results, leaving the rest of the set as it was; each run keeps
  // a journal of its own, so runs in one set may go on at once. Not with a lease.
  bool only_these_urls = false;
  // Test hooks, passed to the Analyzer (AnalyzeOptions documents them). 0 / empty: off.
  int64_t crash_after_steps = 0;
  std::filesystem::path executed_steps_log;
};

struct SetReport {
  AcquireReport acquire;
  // Empty (all zero) when the run stopped before analysing, or with fetch_only.
  AnalysisReport analysis;
  bool analysed = false;
  // The set as recorded at the end: after the commit when analysed, else after acquisition.
  const db::SetTotals& totals() const { return analysed ? analysis.totals : acquire.totals; }
  // Stop() ended acquisition early: what finished is recorded, the rest is not, nothing was
  // analysed; the same run again continues.
  bool interrupted() const { return acquire.interrupted; }
};

class SetRunner {
 public:
  // `observer` may be null; when given it must outlive Run().
  SetRunner(SetParts parts, SetRunOptions options, SetObserver* observer = nullptr);
  ~SetRunner();
  SetRunner(const SetRunner&) = delete;
  SetRunner& operator=(const SetRunner&) = delete;

  // Acquires `urls` into `set`, then (unless fetch_only or stopped) analyses the set with
  // `pipeline` and commits it. OK with a report when the set was recorded, item and step
  // failures included. Errors are fatal for the run: the fetch options are unusable
  // (InvalidArgument / FailedPrecondition), or the catalog, store or journal failed (their
  // codes); under a lease, cause "lease_lost" when another worker took the job over.
  boost::asio::awaitable<Result<SetReport>> Run(std::string set, std::vector<std::string> urls,
                                                PipelineDef pipeline);

  // During acquisition: stops starting items and interrupts those in flight; Run() records what
  // finished and returns with interrupted() and nothing analysed. Once analysis has begun it
  // runs to its commit, and Stop() has no effect.
  void Stop();
  bool analysing() const { return analysing_; }

 private:
  boost::asio::awaitable<Result<AnalysisReport>> Analyse(
      std::string set, PipelineDef pipeline, std::vector<std::string> only_urls,
      const std::map<std::string, std::filesystem::path>* local_copies);
  boost::asio::awaitable<void> ReportProgress(const Acquirer& acquirer);

  SetParts parts_;
  SetRunOptions options_;
  SetObserver* observer_;
  Acquirer* acquirer_ = nullptr;
  boost::asio::steady_timer* progress_timer_ = nullptr;
  bool stopped_ = false;
  bool analysing_ = false;
  bool acquiring_done_ = false;
};

// Whether any step of `pipeline` runs on the event loop (a remote method).
bool HasRemoteSteps(const PipelineDef& pipeline, const methods::Registry& registry);

// Set names become object-store keys and file names: letters, digits, '.', '_' and '-', at most
// 100 characters, not "." or "..". InvalidArgument naming the rule otherwise.
Status ValidateSetName(std::string_view set);

}  // namespace sluice::pipeline

// Analyze: the item and set stages of a set (DESIGN.md §2), after Acquire stored its media.
//
//   for each cycle of the pipeline:
//     item stage — for every stored item (bounded fan-out), its steps in dependency order,
//       independent ones concurrently; each step is skipped when it does not apply (kind,
//       condition), taken from the journal (a restarted run) or the result cache (the same bytes
//       analysed before, in any set), or run; every finished step is appended to the journal.
//     set stage — set methods over all item results; items they ask to run again get those
//       steps in the next cycle.
//   settle — as an item's stage of the last cycle ends: its step rows go to a scratch file
//     (CommitSpill), its result document to the object store (in batches), and what set steps
//     see of it keeps only the results some step reads. The items of a one-cycle pipeline are
//     listed a page at a time and let go of as they settle: memory does not grow with the set.
//   finalize — ONE transaction: step results (read back from the scratch file), set results,
//   result cache, set totals. The journal is removed after the commit.
//
// A failed step fails only its item's step (recorded with cause and details); the set commits.
// Event-loop only.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/json/object.hpp>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>

#include "db/catalog.h"
#include "index/index_folder.h"
#include "methods/registry.h"
#include "pipeline/definition.h"
#include "pipeline/journal.h"
#include "pipeline/run_metrics.h"
#include "runtime/runtime.h"
#include "storage/blob_store.h"

namespace sluice::pipeline {

struct AnalyzeOptions {
  // Items analysed at once. Default 0: one per core (each may hold a decoded image).
  size_t concurrency = 0;
  methods::MediaLimits limits;
  // Where objects are copied for reading when the store keeps none locally. Required then.
  std::filesystem::path scratch_dir;
  // Files on this machine that already hold items' bytes, by sha256 — what acquisition wrote in
  // this process — read in place instead of from the store. Owned by the caller; they must stay
  // until Run() returns. Null: none.
  const std::map<std::string, std::filesystem::path>* local_copies = nullptr;
  // Journal lines between syncs. Default 0: the journal's own choice (Journal::sync_every);
  // always before the commit.
  int64_t journal_sync_every = 0;
  // Test hook: the process kills itself (SIGKILL) at the first checkpoint by which at least
  // this many steps have been executed. 0 disables. Lets tests crash at every step boundary.
  int64_t crash_after_steps = 0;
  // Test hook: every executed step, once its checkpoint is durable, is appended to this file as
  // one line "SET<TAB>URL<TAB>METHOD" (O_APPEND, shared by processes). Lets fleet tests prove
  // that no checkpointed step ran twice. Empty disables.
  std::filesystem::path executed_steps_log;
  // The vector indexes that absorb the set's embeddings once it is committed. Null: none (the
  // embeddings are still stored; RepairIndexes adds them later).
  index::IndexFolder* indexes = nullptr;
  // Where the indexes' files are copied once they absorbed the set (index_copies.h). Null: not
  // copied.
  storage::BlobStore* index_copies = nullptr;
  // Empty: every item of the set, then the set steps, and the commit replaces the set's whole
  // analysis. Otherwise only the items with these URLs (the real-time path): their item steps,
  // no set steps and no ledger document, and the commit replaces only their results.
  std::vector<std::string> only_urls;
  // Counts every step run here (latency, failures). Null: not counted.
  RunMetrics* metrics = nullptr;
  // Items listed from the catalog at a time: those of a one-cycle pipeline are held only from
  // their page's listing to their settling.
  int page_items = 1000;
  // The job this analysis runs under (a worker's claim): the commit completes it in the same
  // transaction and is refused (cause "lease_lost") when another worker has taken it over.
  std::optional<db::Lease> lease;
};

struct AnalysisReport {
  int64_t steps_run = 0;       // executed in this run
  int64_t steps_replayed = 0;  // finished before a crash: taken from the journal
  int64_t steps_cached = 0;    // taken from the result cache
  int64_t steps_failed = 0;    // recorded failures (run or replayed)
  int64_t steps_skipped = 0;   // not applicable: kind, condition, or an input that never came
  int cycles = 0;
  double seconds = 0;
  // Wall time spent in each method's executed steps.
  std::map<std::string, double> millis_by_method;
  // The cost ledger of the steps executed in this run (remote calls, retries, tokens, time
  // waiting on providers), by method and by provider (the step's "provider" param). Also stored
  // as the set's ledger document, LedgerKey(set).
  std::map<std::string, methods::Cost> cost_by_method;
  std::map<std::string, methods::Cost> cost_by_provider;
  // Set step outputs by method.
  boost::json::object set_results;
  db::SetTotals totals;
  int64_t embeddings = 0;  // committed with the set (outputs of "embedding" methods)
  int64_t indexed = 0;     // of those, newly added to a vector index
  // Why the indexes could not absorb them ("" when they did): the set is committed all the
  // same, and the next RepairIndexes adds what is missing.
  std::string index_error;
};

class Analyzer {
 public:
  Analyzer(runtime::Runtime& runtime, const methods::Registry& registry, storage::BlobStore& store,
           db::Catalog& catalog, AnalyzeOptions options);
  ~Analyzer();

  // Analyses every item of `set` recorded in the catalog. Errors are fatal for the run (the
  // journal, store or catalog failed); step failures are not errors.
  boost::asio::awaitable<Result<AnalysisReport>> Run(std::string set, PipelineDef pipeline,
                                                     Journal& journal);

  // The key of an item's result document in the object store.
  static std::string ResultKey(std::string_view set, std::string_view url);
  // The key of a set's cost ledger document.
  static std::string LedgerKey(std::string_view set);

 private:
  struct Item;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The cost ledger of a report: {"set", "total", "by_method", "by_provider"}, each a cost.
boost::json::object LedgerJson(std::string_view set, const AnalysisReport& report);

// Where a set's journal lives in a data directory.
std::filesystem::path JournalPath(const std::filesystem::path& data_dir, std::string_view set);

}  // namespace sluice::pipeline

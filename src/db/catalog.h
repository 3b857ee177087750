// Catalog: the database's view of sets and their items, in domain terms (DESIGN.md §4).
//
// An item is one URL of a set: where it ended up (sha256, store key) or why it failed. Items
// are keyed by (set, url) and recorded with idempotent upserts, so a rerun or a retried batch
// never duplicates a row, and an item recorded "ok" is never downgraded by a later failure.
//
// Calls block (disk, locks): run them on the blocking pool, never on the event loop. One
// Catalog may be used from several threads; calls are serialised inside.
#pragma once

#include <boost/json/object.hpp>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "db/jobs.h"
#include "db/keys.h"

namespace sluice::db {

enum class ItemStatus { kOk, kFailed };

struct ItemRecord {
  std::string url;
  ItemStatus status = ItemStatus::kFailed;
  // Set when kOk.
  std::string final_url;
  std::string sha256;
  int64_t size = 0;
  std::string mime;
  std::string kind;  // "image", "video", "audio"
  std::string store_key;
  // Set when kFailed: the stable cause token ("http_404") and the human explanation.
  std::string failure_cause;
  std::string failure_details;
  // HTTP requests spent on the item in its last run.
  int requests = 0;
};

struct SetTotals {
  std::string set;
  int64_t items = 0;
  int64_t ok = 0;
  int64_t failed = 0;
  // Sum of the sizes of the set's ok items.
  int64_t bytes = 0;
  // Analysis commits of the set (CommitAnalysis calls that landed): 1 after a set's first
  // complete run; the fleet's kill tests check that it never exceeds one per job.
  int64_t commits = 0;
};

std::string_view ItemStatusName(ItemStatus status);

// The item as JSON: {url, status, final_url, sha256, size, mime, kind, store_key} when ok,
// {url, status, failure: {cause, details}} when failed. The shape of `sluice results` rows and
// of result documents.
boost::json::object ItemToJson(const ItemRecord& item);

// One method's result for one item (url) of a set, or for the set itself (url empty).
struct StepRow {
  std::string url;  // "" for a set step
  std::string method;
  int version = 0;
  std::string step_key;
  bool ok = false;
  std::string output_json;     // when ok
  std::string artifacts_json;  // when ok: {"name": "store key"}; "{}" when none
  std::string failure_cause;   // when not ok
  std::string failure_details;
  double millis = 0;
};

// What analysis found wrong with an item itself, before any of its steps ran (an image past the
// pixel limit): the commit records the item as failed with this cause.
struct ItemFailure {
  std::string url;
  std::string cause;
  std::string details;
};

// A finished step kept for reuse by any set: the result cache, keyed by (item_sha256, step key)
// and read by content.
struct CachedStep {
  std::string step_key;
  std::string item_sha256;  // the content the step ran on
  std::string method;
  int version = 0;
  std::string output_json;
  std::string artifacts_json;
};

// One content's embedding by one method and model. The database keeps every embedding (float32;
// the source of truth) keyed by (item_sha256, method, model); a vector index is a cache built
// from them.
struct EmbeddingRow {
  std::string item_sha256;
  int64_t item_id = 0;  // the content's id in vector indexes (index::IdFromSha256)
  std::string method;   // "image.embedding"
  std::string model;
  std::vector<float> vector;
};

// The embeddings of one (method, model): how many, of what dimension.
struct EmbeddingSpace {
  std::string method;
  std::string model;
  int dimensions = 0;
  int64_t count = 0;
};

// One content's 64-bit perceptual hash by one method ("image.phash"): what near-duplicate
// lookups across sets search (index::HashIndex), kept in the database as embeddings are.
struct HashRow {
  std::string item_sha256;
  int64_t item_id = 0;  // index::IdFromSha256
  std::string method;
  uint64_t hash = 0;
};

// The hashes of one method: how many.
struct HashSpace {
  std::string method;
  int64_t count = 0;
};

// One item (a URL of a set) whose content has an embedding or a hash: search results name these.
struct ItemOfContent {
  int64_t item_id = 0;  // 0 from ItemsOfContent
  std::string set;
  ItemRecord item;
};

// How the chosen URLs of a set stand (Catalog::CountOutcomes): recorded ok, recorded failed by
// cause; URLs not recorded yet are in neither.
struct Outcomes {
  int64_t ok = 0;
  int64_t failed = 0;
  std::map<std::string, int64_t> failed_by_cause;
};

// Which items of a set one page lists (Catalog::ListItemsPage).
struct ItemPageQuery {
  std::string after_url;  // the last URL of the page before; "" for the first page
  int limit = 100;
  std::optional<ItemStatus> status;  // every status when unset
  std::string kind;                  // "image", "video", "audio"; "" for every kind
  // Only items whose URL or one of whose step results (tags, content types, OCR and transcript
  // text, failures) contains these characters, ASCII letters in any case; "" for every item.
  std::string text;
  // Methods whose results `text` does not look into (embeddings: numbers, and long ones).
  std::vector<std::string> text_skips_methods;
};

// Step results and cache entries of a commit too many to hold in memory at once (a large
// set's, spilled to a file as its items finished): read in batches inside the commit's
// transaction.
class CommitRows {
 public:
  virtual ~CommitRows() = default;
  // Starts over from the first batch (a transaction tried again reads them all again).
  virtual Status Rewind() = 0;
  // Replaces `steps` and `cache` with the next batch: false when none is left (both empty). An
  // error aborts the commit.
  virtual Result<bool> Next(std::vector<StepRow>& steps, std::vector<CachedStep>& cache) = 0;
};

// What one set's analysis commits, in one transaction (Catalog::CommitAnalysis).
struct AnalysisCommit {
  // Empty: the commit is the set's whole analysis, and `steps` replace every step result of
  // the set (and its checkpoints go). Otherwise only these items (URLs) were analysed (the
  // real-time path): their step results are replaced and the rest of the set's stay, set steps
  // and checkpoints included.
  std::vector<std::string> only_urls;
  std::vector<StepRow> steps;             // replace the set's step results
  std::vector<CachedStep> cache;          // added to the result cache
  std::vector<ItemFailure> failed_items;  // recorded as failed, ok or not before
  std::vector<EmbeddingRow> embeddings;   // stored unless (content, method, model) already is
  std::vector<HashRow> hashes;            // stored unless (content, method) already is
  // More step results and cache entries, as if they were in `steps` and `cache`. Null: none.
  CommitRows* more = nullptr;
};

class Catalog {
 public:
  virtual ~Catalog() = default;

  // URLs of the set already recorded ok: a rerun skips them. Empty for an unknown set.
  virtual Result<std::vector<std::string>> CompletedUrls(std::string_view set) = 0;
  // Upserts `items` into `set` (created on first use) in one transaction: all or none.
  virtual Status RecordItems(std::string_view set, const std::vector<ItemRecord>& items) = 0;
  // Recounts the set from its items, stamps it finished and returns the totals.
  // NotFound when the set has never been recorded.
  virtual Result<SetTotals> FinishSet(std::string_view set) = 0;
  // The set's items ordered by URL. Empty for an unknown set.
  virtual Result<std::vector<ItemRecord>> ListItems(std::string_view set) = 0;
  // The set's items with these URLs, by URL; URLs it does not hold are left out.
  virtual Result<std::vector<ItemRecord>> ListItems(std::string_view set,
                                                    const std::vector<std::string>& urls) = 0;
  // Up to query.limit items of the set matching the query's filters, by URL after
  // query.after_url. Empty past the end and for an unknown set.
  virtual Result<std::vector<ItemRecord>> ListItemsPage(std::string_view set,
                                                        const ItemPageQuery& query) = 0;
  // How these URLs of the set stand, counted without reading their records (a job's status is
  // polled often).
  virtual Result<Outcomes> CountOutcomes(std::string_view set,
                                         const std::vector<std::string>& urls) = 0;
  // The contents that more than one ok item of the set holds, with how many hold each (what an
  // analysis keeps cached results of until the last of those items is done). Empty for an
  // unknown set.
  virtual Result<std::map<std::string, int64_t>> RepeatedContents(std::string_view set) = 0;
  // Every item, in every set, whose content is `sha256`; by set then URL. Empty when none.
  virtual Result<std::vector<ItemOfContent>> ItemsOfContent(std::string_view sha256) = 0;
  // Every set with its totals as of its last FinishSet, by name.
  virtual Result<std::vector<SetTotals>> ListSets() = 0;

  // Cached steps of the given contents, by step key.
  virtual Result<std::vector<CachedStep>> CachedSteps(
      const std::vector<std::string>& item_sha256s) = 0;
  // In ONE transaction: replaces the set's step results (item and set steps) with
  // `commit.steps` (and `commit.more`'s), adds `commit.cache` (and `commit.more`'s) to the
  // result cache, records `commit.failed_items` as
  // failed (ok or not before), stores `commit.embeddings` (an embedding already stored for the
  // same content, method and model is kept) and `commit.hashes` (likewise per content and
  // method), recounts the set and stamps it finished.
  // Idempotent: the same call twice leaves the same rows. NotFound when the set was never
  // recorded; InvalidArgument when an embedding's dimension differs from that of its method
  // and model's stored ones.
  //
  // With `lease`, the same transaction completes that job, fenced: when the lease is stale (the
  // job was taken over, see jobs.h) nothing is written and the result is FailedPrecondition,
  // cause "lease_lost". A lease whose job this very commit already completed (a retry after an
  // ambiguous COMMIT) commits again idempotently.
  virtual Result<SetTotals> CommitAnalysis(std::string_view set, const AnalysisCommit& commit,
                                           std::optional<Lease> lease) = 0;
  // The set's step results, by url then method (set steps first: their url is "").
  virtual Result<std::vector<StepRow>> ListSteps(std::string_view set) = 0;
  // The step results of these URLs of the set ("" for the set's own steps), by url then method.
  virtual Result<std::vector<StepRow>> ListSteps(std::string_view set,
                                                 const std::vector<std::string>& urls) = 0;

  // Checkpoints: journal lines of the set's finished steps kept in the database, so that any
  // worker can resume a set another one was analysing. CommitAnalysis removes them.
  // In the order saved; empty for a set with none.
  virtual Result<std::vector<std::string>> LoadCheckpoints(std::string_view set) = 0;
  // Appends `lines` in one transaction.
  virtual Status SaveCheckpoints(std::string_view set, const std::vector<std::string>& lines) = 0;

  // Every (method, model) with stored embeddings, by method then model.
  virtual Result<std::vector<EmbeddingSpace>> EmbeddingSpaces() = 0;
  // Up to `limit` embeddings of (method, model) whose content sorts after `after_sha256`
  // ("" for the first page), by content: pages through all of them.
  virtual Result<std::vector<EmbeddingRow>> ListEmbeddings(std::string_view method,
                                                           std::string_view model,
                                                           std::string_view after_sha256,
                                                           int limit) = 0;
  // The stored embeddings of one content (every method and model). Empty when it has none.
  virtual Result<std::vector<EmbeddingRow>> EmbeddingsOf(std::string_view sha256) = 0;
  // The ok items, in every set, whose content has an embedding or a hash with one of these ids;
  // by set then URL.
  virtual Result<std::vector<ItemOfContent>> ItemsWithContentIds(
      const std::vector<int64_t>& item_ids) = 0;

  // Every method with stored hashes, by method.
  virtual Result<std::vector<HashSpace>> HashSpaces() = 0;
  // Up to `limit` hashes of `method` whose content sorts after `after_sha256` ("" for the first
  // page), by content: pages through all of them.
  virtual Result<std::vector<HashRow>> ListHashes(std::string_view method,
                                                  std::string_view after_sha256, int limit) = 0;
};

// One database: the catalog, the job queue and the API keys on the same connection(s), so a set
// commit and its job's completion are one transaction. SQLite (embedded) and Postgres (fleet)
// implement it.
class Database : public Catalog, public JobStore, public KeyStore {};

// The refusal of an embedding whose dimension differs from the `stored` one of its method and
// model: InvalidArgument, cause "embedding_dimension".
Status EmbeddingDimensionMismatch(const EmbeddingRow& row, int64_t stored);

// Hands `insert` the commit's own step results and cache entries, then every batch of
// `commit.more` from its first: how both backends write them inside their transaction. The
// first error (of `insert` or of reading a batch) stops it and is returned.
using InsertSteps =
    std::function<Status(const std::vector<StepRow>& steps, const std::vector<CachedStep>& cache)>;
Status ForEachStepBatch(const AnalysisCommit& commit, const InsertSteps& insert);

// `text` as a LIKE pattern that matches it anywhere, with %, _ and \ escaped by '\'
// (ESCAPE '\'): what ItemPageQuery.text filters with on both databases.
std::string ContainsPattern(std::string_view text);

// The failure for a write under a stale lease: FailedPrecondition, cause "lease_lost".
Status LeaseLost(const Lease& lease);

}  // namespace sluice::db

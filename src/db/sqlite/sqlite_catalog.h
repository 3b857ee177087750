// SqliteCatalog: the embedded-default Catalog (`sqlite://./sluice-data/sluice.db`).
//
// WAL journal with synchronous=FULL: a committed batch survives a crash of the process or the
// machine. Batches are one transaction each, so the cost of a sync is paid once per batch.
#pragma once

#include <sqlite3.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>

#include "db/catalog.h"
#include "db/sqlite/statement.h"

namespace sluice::db {

class SqliteCatalog : public Database {
 public:
  // Opens or creates the database at `path` and its schema. FailedPrecondition (cause
  // "data_dir_unwritable") when the file cannot be created or opened for writing; DataLoss when
  // it is not a sluice database.
  static Result<std::unique_ptr<SqliteCatalog>> Open(const std::filesystem::path& path);
  ~SqliteCatalog() override;

  Result<std::vector<std::string>> CompletedUrls(std::string_view set) override;
  Status RecordItems(std::string_view set, const std::vector<ItemRecord>& items) override;
  Result<SetTotals> FinishSet(std::string_view set) override;
  Result<std::vector<ItemRecord>> ListItems(std::string_view set) override;
  Result<std::vector<ItemRecord>> ListItems(std::string_view set,
                                            const std::vector<std::string>& urls) override;
  Result<std::vector<ItemRecord>> ListItemsPage(std::string_view set,
                                                const ItemPageQuery& query) override;
  Result<Outcomes> CountOutcomes(std::string_view set,
                                 const std::vector<std::string>& urls) override;
  Result<std::map<std::string, int64_t>> RepeatedContents(std::string_view set) override;
  Result<std::vector<ItemOfContent>> ItemsOfContent(std::string_view sha256) override;
  Result<std::vector<SetTotals>> ListSets() override;
  Result<std::vector<CachedStep>> CachedSteps(
      const std::vector<std::string>& item_sha256s) override;
  Result<SetTotals> CommitAnalysis(std::string_view set, const AnalysisCommit& commit,
                                   std::optional<Lease> lease) override;
  Result<std::vector<StepRow>> ListSteps(std::string_view set) override;
  Result<std::vector<StepRow>> ListSteps(std::string_view set,
                                         const std::vector<std::string>& urls) override;
  Result<std::vector<std::string>> LoadCheckpoints(std::string_view set) override;
  Status SaveCheckpoints(std::string_view set, const std::vector<std::string>& lines) override;
  Result<std::vector<EmbeddingSpace>> EmbeddingSpaces() override;
  Result<std::vector<EmbeddingRow>> ListEmbeddings(std::string_view method, std::string_view model,
                                                   std::string_view after_sha256,
                                                   int limit) override;
  Result<std::vector<EmbeddingRow>> EmbeddingsOf(std::string_view sha256) override;
  Result<std::vector<ItemOfContent>> ItemsWithContentIds(
      const std::vector<int64_t>& item_ids) override;
  Result<std::vector<HashSpace>> HashSpaces() override;
  Result<std::vector<HashRow>> ListHashes(std::string_view method, std::string_view after_sha256,
                                          int limit) override;

  // JobStore (sqlite_jobs.cc).
  Result<Submitted> Submit(const JobSpec& spec) override;
  Result<std::vector<Job>> Claim(std::string_view worker, int max_jobs,
                                 std::chrono::milliseconds lease,
                                 const std::vector<std::string>& pipelines) override;
  Result<std::vector<int64_t>> Heartbeat(const std::vector<Lease>& leases,
                                         std::chrono::milliseconds lease) override;
  Status Fail(const Lease& lease, const Status& cause, bool retryable,
              std::chrono::milliseconds backoff) override;
  Result<int> Complete(const std::vector<Lease>& leases) override;
  Result<Job> FindJob(std::string_view token_or_id) override;
  Result<std::vector<Job>> ListJobs(std::optional<JobState> state, int limit) override;
  Result<std::map<JobState, int64_t>> CountJobs() override;
  Result<Job> RetryJob(int64_t id) override;
  Result<Job> CancelJob(int64_t id) override;
  Result<bool> WaitForJobs(std::chrono::milliseconds timeout) override;
  Status AddKey(const ApiKey& key) override;
  Result<std::vector<ApiKey>> ListKeys() override;
  Result<ApiKey> RevokeKey(std::string_view name) override;
  Result<ApiKey> FindKey(std::string_view hash) override;

 private:
  explicit SqliteCatalog(sqlite3* db) : db_(db), statements_(db) {}
  Status Exec(const char* sql);
  Result<SetTotals> FinishSetLocked(std::string_view set, bool count_commit);
  // Brings the schema to the newest version (PRAGMA user_version).
  Status Migrate();
  // BEGIN IMMEDIATE, `body`, COMMIT; ROLLBACK when anything fails. Callers hold mu_.
  Status InTransaction(const std::function<Status()>& body);
  // UPDATE jobs SET `set_clause` (?2 is now in ms) for job `id` when its state is one of
  // `from_states`: the job as changed; NotFound for no such job; FailedPrecondition "job N is
  // STATE; `only`" otherwise.
  Result<Job> ChangeJobState(int64_t id, std::string_view set_clause, std::string_view from_states,
                             std::string_view only);
  Status ReapExpiredLeases(int64_t now);
  Status CompleteLocked(const Lease& lease);
  // Inserts `embeddings` inside the caller's transaction (mu_ held).
  Status StoreEmbeddingsLocked(const std::vector<EmbeddingRow>& embeddings, int64_t now);
  Status StoreHashesLocked(const std::vector<HashRow>& hashes, int64_t now);
  Status Error(std::string_view what) const;

  std::mutex mu_;
  sqlite3* db_;
  StatementCache statements_;  // of db_, under mu_
};

}  // namespace sluice::db

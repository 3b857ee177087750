// PostgresCatalog: the fleet Catalog (`--db postgres://…`), over libpq on the blocking pool.
//
// Shared by every worker of a fleet. Bulk writes go through COPY into per-connection staging
// tables and then one upsert each, inside the caller's one transaction; reads are plain
// statements. Connections are pooled; a lost connection (a server restart, a failover) is
// retried with backoff for Options::reconnect_for before a call gives up with Unavailable.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>

#include "db/catalog.h"
#include "db/postgres/pg.h"

namespace sluice::db {

class PostgresCatalog : public Database {
 public:
  // Connects to `conninfo` (a postgres:// URI or libpq key=value string) and brings the schema
  // to the current version (migrations are versioned in schema_migrations and applied under an
  // advisory lock, so workers starting together apply each one once). Unavailable when the
  // server cannot be reached within 3 s (later calls ride out outages for the pool's
  // reconnect window); FailedPrecondition (cause
  // "schema_too_new") when the database was migrated by a newer sluice.
  static Result<std::unique_ptr<PostgresCatalog>> Open(const std::string& conninfo,
                                                       pg::Pool::Options options = {});
  ~PostgresCatalog() override;

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

  // JobStore (postgres_jobs.cc).
  Result<Submitted> Submit(const JobSpec& spec) override;
  Result<std::vector<Job>> Claim(std::string_view worker, int max_jobs,
                                 std::chrono::milliseconds lease,
                                 const std::vector<std::string>& pipelines) override;
  Result<std::vector<int64_t>> Heartbeat(const std::vector<Lease>& leases,
                                         std::chrono::milliseconds lease) override;
  Status Fail(const Lease& lease, const Status& cause, bool retryable,
              std::chrono::milliseconds backoff) override;
  Result<int> Complete(const std::vector<Lease>& leases) override;
  Result<Claimed> CompleteAndClaim(const std::vector<Lease>& finished, std::string_view worker,
                                   int max_jobs, std::chrono::milliseconds lease,
                                   const std::vector<std::string>& pipelines) override;
  Result<Job> FindJob(std::string_view token_or_id) override;
  Result<std::vector<Job>> ListJobs(std::optional<JobState> state, int limit) override;
  Result<std::map<JobState, int64_t>> CountJobs() override;
  Result<Job> RetryJob(int64_t id) override;
  Result<Job> CancelJob(int64_t id) override;
  // LISTEN sluice_jobs on a connection of its own; when that cannot be had, sleeps `timeout`
  // (polling is the fallback).
  Result<bool> WaitForJobs(std::chrono::milliseconds timeout) override;
  Status AddKey(const ApiKey& key) override;
  Result<std::vector<ApiKey>> ListKeys() override;
  Result<ApiKey> RevokeKey(std::string_view name) override;
  Result<ApiKey> FindKey(std::string_view hash) override;

  // Claims reap expired leases at most this often per process (default 500 ms): a statement
  // saved on most claims, at the price of noticing a dead worker up to this much later.
  void set_reap_interval(std::chrono::milliseconds interval) { reap_interval_ = interval; }

  // The schema version this database is at.
  Result<int> SchemaVersion();
  pg::Pool& pool() { return *pool_; }

 protected:
  explicit PostgresCatalog(std::unique_ptr<pg::Pool> pool) : pool_(std::move(pool)) {}

 private:
  std::unique_ptr<pg::Pool> pool_;
  std::chrono::milliseconds reap_interval_{500};
  std::atomic<int64_t> next_reap_ms_{0};  // steady clock
  std::mutex listen_mu_;
  std::unique_ptr<pg::Connection> listener_;
};

// Completes the lease's job inside the caller's transaction on `connection`; LeaseLost when
// stale. Shared by Complete and the fenced CommitAnalysis.
Status CompleteFenced(pg::Connection& connection, const Lease& lease);

// Applies the catalog's migrations on `connection`. Exposed for the migration test.
Status MigratePostgres(pg::Connection& connection);

}  // namespace sluice::db

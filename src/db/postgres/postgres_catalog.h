// PostgresCatalog: the fleet Catalog (`--db postgres://…`), over libpq on the blocking pool.
//
// Shared by every worker of a fleet. Bulk writes go through COPY into per-connection staging
// tables and then one upsert each, inside the caller's one transaction; reads are plain
// statements. Connections are pooled; a lost connection (a server restart, a failover) is
// retried with backoff for Options::reconnect_for before a call gives up with Unavailable.
#pragma once

#include <memory>
#include <string>

#include "db/catalog.h"
#include "db/postgres/pg.h"

namespace sluice::db {

class PostgresCatalog : public Catalog {
 public:
  // Connects to `conninfo` (a postgres:// URI or libpq key=value string) and brings the schema
  // to the current version (migrations are versioned in schema_migrations and applied under an
  // advisory lock, so workers starting together apply each one once). Unavailable when the
  // server cannot be reached within the pool's reconnect window; FailedPrecondition (cause
  // "schema_too_new") when the database was migrated by a newer sluice.
  static Result<std::unique_ptr<PostgresCatalog>> Open(const std::string& conninfo,
                                                       pg::Pool::Options options = {});
  ~PostgresCatalog() override;

  Result<std::vector<std::string>> CompletedUrls(std::string_view set) override;
  Status RecordItems(std::string_view set, const std::vector<ItemRecord>& items) override;
  Result<SetTotals> FinishSet(std::string_view set) override;
  Result<std::vector<ItemRecord>> ListItems(std::string_view set) override;
  Result<std::vector<SetTotals>> ListSets() override;
  Result<std::vector<CachedStep>> CachedSteps(
      const std::vector<std::string>& item_sha256s) override;
  Result<SetTotals> CommitAnalysis(std::string_view set, const std::vector<StepRow>& steps,
                                   const std::vector<CachedStep>& cache) override;
  Result<std::vector<StepRow>> ListSteps(std::string_view set) override;

  // The schema version this database is at.
  Result<int> SchemaVersion();
  pg::Pool& pool() { return *pool_; }

 protected:
  explicit PostgresCatalog(std::unique_ptr<pg::Pool> pool) : pool_(std::move(pool)) {}

 private:
  std::unique_ptr<pg::Pool> pool_;
};

// Applies the catalog's migrations on `connection`. Exposed for the migration test.
Status MigratePostgres(pg::Connection& connection);

}  // namespace sluice::db

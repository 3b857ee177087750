// SqliteCatalog: the embedded-default Catalog (`sqlite://./sluice-data/sluice.db`).
//
// WAL journal with synchronous=FULL: a committed batch survives a crash of the process or the
// machine. Batches are one transaction each, so the cost of a sync is paid once per batch.
#pragma once

#include <sqlite3.h>

#include <filesystem>
#include <memory>
#include <mutex>

#include "db/catalog.h"

namespace sluice::db {

class SqliteCatalog : public Catalog {
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
  Result<std::vector<SetTotals>> ListSets() override;
  Result<std::vector<CachedStep>> CachedSteps(
      const std::vector<std::string>& item_sha256s) override;
  Result<SetTotals> CommitAnalysis(std::string_view set, const std::vector<StepRow>& steps,
                                   const std::vector<CachedStep>& cache) override;
  Result<std::vector<StepRow>> ListSteps(std::string_view set) override;

 private:
  explicit SqliteCatalog(sqlite3* db) : db_(db) {}
  Status Exec(const char* sql);
  Result<SetTotals> FinishSetLocked(std::string_view set, bool count_commit);
  // Brings the schema to the newest version (PRAGMA user_version).
  Status Migrate();
  Status Error(std::string_view what) const;

  std::mutex mu_;
  sqlite3* db_;
};

}  // namespace sluice::db

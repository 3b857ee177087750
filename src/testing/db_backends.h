// Test-only: the database backends a conformance suite runs against — SQLite in a scratch
// directory and Postgres (a fresh database per test, testing/test_servers.h).
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <functional>
#include <memory>
#include <ostream>
#include <string>

#include "db/postgres/postgres_catalog.h"
#include "db/sqlite/sqlite_catalog.h"
#include "testing/temp_dir.h"
#include "testing/test_servers.h"

namespace sluice::db {

struct Backend {
  std::string name;
  // Opens (or reopens) the database at `where`.
  std::function<Result<std::unique_ptr<Database>>(const std::string& where)> open;
  // A new empty database's location for `open`.
  std::function<Result<std::string>(const std::filesystem::path& scratch)> create;
};

inline void PrintTo(const Backend& backend, std::ostream* out) { *out << backend.name; }

inline Backend SqliteBackend() {
  return {"sqlite",
          [](const std::string& where) -> Result<std::unique_ptr<Database>> {
            SLUICE_ASSIGN_OR_RETURN(auto database, SqliteCatalog::Open(where));
            return std::unique_ptr<Database>(std::move(database));
          },
          [](const std::filesystem::path& scratch) -> Result<std::string> {
            return (scratch / "sluice.db").string();
          }};
}

inline Backend PostgresBackend() {
  return {"postgres",
          [](const std::string& where) -> Result<std::unique_ptr<Database>> {
            SLUICE_ASSIGN_OR_RETURN(auto database, PostgresCatalog::Open(where));
            // The contract says a claim reaps expired leases first; the default interval is a
            // throughput setting for fleets.
            database->set_reap_interval(std::chrono::milliseconds(0));
            return std::unique_ptr<Database>(std::move(database));
          },
          [](const std::filesystem::path&) { return sluice::testing::FreshPostgresDatabase(); }};
}

// A test run once per backend on a fresh database: db_ (reopened by Reopen()).
class BackendTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    Result<std::string> where = GetParam().create(dir_.path());
    ASSERT_TRUE(where.ok()) << where.status();
    where_ = *where;
    Reopen();
  }
  void Reopen() {
    db_.reset();
    Result<std::unique_ptr<Database>> opened = GetParam().open(where_);
    ASSERT_TRUE(opened.ok()) << opened.status();
    db_ = std::move(*opened);
  }
  sluice::testing::TempDir dir_;
  std::string where_;
  std::unique_ptr<Database> db_;
};

inline std::string BackendName(const ::testing::TestParamInfo<Backend>& info) {
  return info.param.name;
}

}  // namespace sluice::db

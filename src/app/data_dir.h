// The data directory of the embedded defaults (DESIGN.md §7):
//
//   <data>/objects/ab/<sha256>   the object store (LocalBlobStore rooted at <data>)
//   <data>/sluice.db             the catalog and job queue (SQLite), unless --db names another
//   <data>/index/                the vector indexes (FAISS files), one per embedding space
//   <data>/.tmp/run-<pid>/       this process's scratch files; removed on exit, and swept at
//                                start when the process that made them is gone
//
// Only app/ names these concrete backends.
#pragma once

#include <filesystem>
#include <memory>

#include "app/backends.h"
#include "common/status.h"
#include "db/catalog.h"
#include "http/curl_client.h"
#include "index/index_folder.h"
#include "pipeline/index_upkeep.h"
#include "runtime/runtime.h"
#include "storage/blob_store.h"

namespace sluice::storage {
class LocalBlobStore;
}

namespace sluice::app {

struct Process;

struct DataDir {
  std::filesystem::path root;  // absolute
  // The local store under `root`: objects by default, and always the scratch space.
  std::unique_ptr<storage::LocalBlobStore> local;
  // Where objects and result documents go: `local`, or an S3 store (--store s3://…).
  storage::BlobStore* store = nullptr;
  // The catalog and the job queue: SQLite under `root`, or Postgres (--db postgres://…).
  std::unique_ptr<db::Database> db;
  // The vector indexes over the database's embeddings (FAISS files under `root`/index): null
  // until OpenIndexes, which the commands that write or search them call. With them, what
  // OpenIndexes added that they missed, and why it could not repair them ("" when it could; the
  // run goes on, the database being the truth).
  std::unique_ptr<index::IndexFolder> indexes;
  std::vector<pipeline::IndexRepair> index_repairs;
  std::string index_problem;
  // Index files OpenIndexes fetched from the store's copies (pipeline/index_copies.h).
  int index_files_fetched = 0;
  std::filesystem::path scratch;

  // Opens the indexes (loading the methods module, which carries the index backend): with a
  // remote store, first fetches the index files the folder lacks from their copies there; then
  // adds what the database holds and they miss (pipeline::RepairIndexes). The module's error
  // when it cannot be loaded; a failed fetch or repair is only recorded in index_problem.
  Status OpenIndexes();
  // Where index files are copied for a fleet: the store when it is remote (S3); null for the
  // data directory's own store, whose index/ is the index folder itself.
  storage::BlobStore* index_copies() const;

  // For messages: "file:///…/objects" or "s3://bucket/prefix at ENDPOINT".
  std::string objects() const;
  // For messages: the SQLite file, or the Postgres URI without its password.
  std::string database() const { return database_; }

  // Opens (creating when missing) the data directory at `root` with the backends in `uris`
  // (see Backends). Objects: "" for `root` itself, "s3://bucket/prefix" for S3 (endpoint
  // AWS_ENDPOINT_URL, default https://s3.REGION.amazonaws.com; region AWS_REGION or
  // AWS_DEFAULT_REGION, default us-east-1; credentials from the process's AWS chain,
  // Process::Aws). Database: "" for `root`/sluice.db, "sqlite://PATH", or
  // "postgres://…" / "postgresql://…" (any libpq URI).
  // FailedPrecondition (cause "data_dir_unwritable") when it cannot be created or written;
  // DataLoss when sluice.db is not a sluice database; InvalidArgument for a bad URI;
  // Unavailable when Postgres cannot be reached; the credential chain's error for an S3 store
  // whose credentials are misconfigured.
  // An S3 store sends its requests through the process's HTTP client: `process` must outlive
  // the DataDir.
  static Result<DataDir> Open(const std::filesystem::path& root, Process& process,
                              const Backends& uris = {});
  // Opens an existing data directory for reading results. NotFound when there is none (only
  // checked for the embedded database: a Postgres database is always "existing").
  static Result<DataDir> OpenExisting(const std::filesystem::path& root, Process& process,
                                      const Backends& uris = {});

  DataDir();
  DataDir(DataDir&&);
  DataDir& operator=(DataDir&&);
  ~DataDir();

 private:
  std::string database_;
  runtime::Runtime* runtime_ = nullptr;
  std::unique_ptr<storage::BlobStore> remote_;
};

}  // namespace sluice::app

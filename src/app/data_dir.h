// The data directory of the embedded defaults (DESIGN.md §7):
//
//   <data>/objects/ab/<sha256>   the object store (LocalBlobStore rooted at <data>)
//   <data>/sluice.db             the catalog (SQLite)
//   <data>/.tmp/run-<pid>/       this process's scratch files; removed on exit, and swept at
//                                start when the process that made them is gone
//
// Only app/ names these concrete backends.
#pragma once

#include <filesystem>
#include <memory>

#include "common/status.h"
#include "db/sqlite/sqlite_catalog.h"
#include "runtime/runtime.h"
#include "storage/local/local_blob_store.h"

namespace sluice::app {

struct DataDir {
  std::filesystem::path root;  // absolute
  std::unique_ptr<storage::LocalBlobStore> store;
  std::unique_ptr<db::SqliteCatalog> catalog;
  std::filesystem::path scratch;

  std::filesystem::path objects() const { return root / "objects"; }
  std::filesystem::path database() const { return root / "sluice.db"; }

  // Opens (creating when missing) the data directory at `root`. FailedPrecondition (cause
  // "data_dir_unwritable") when it cannot be created or written; DataLoss when sluice.db is not
  // a sluice database.
  static Result<DataDir> Open(const std::filesystem::path& root, runtime::Runtime& runtime);
  // Opens an existing data directory for reading results. NotFound when there is none.
  static Result<DataDir> OpenExisting(const std::filesystem::path& root, runtime::Runtime& runtime);

  DataDir() = default;
  DataDir(DataDir&&) = default;
  DataDir& operator=(DataDir&&) = default;
  ~DataDir();
};

}  // namespace sluice::app

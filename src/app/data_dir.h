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
#include "http/curl_client.h"
#include "runtime/runtime.h"
#include "storage/local/local_blob_store.h"

namespace sluice::app {

struct DataDir {
  std::filesystem::path root;  // absolute
  // The local store under `root`: objects by default, and always the scratch space.
  std::unique_ptr<storage::LocalBlobStore> local;
  // Where objects and result documents go: `local`, or an S3 store (--store s3://…).
  storage::BlobStore* store = nullptr;
  std::unique_ptr<db::SqliteCatalog> catalog;
  std::filesystem::path scratch;

  // For messages: "file:///…/objects" or "s3://bucket/prefix at ENDPOINT".
  std::string objects() const;
  std::filesystem::path database() const { return root / "sluice.db"; }

  // Opens (creating when missing) the data directory at `root`, with objects in `store_uri`:
  // "" or "file://" for `root` itself, "s3://bucket/prefix" for S3 (endpoint AWS_ENDPOINT_URL,
  // default https://s3.REGION.amazonaws.com; region AWS_REGION or AWS_DEFAULT_REGION, default
  // us-east-1; credentials AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN).
  // FailedPrecondition (cause "data_dir_unwritable") when it cannot be created or written;
  // DataLoss when sluice.db is not a sluice database; InvalidArgument for a bad store URI.
  static Result<DataDir> Open(const std::filesystem::path& root, runtime::Runtime& runtime,
                              const std::string& store_uri = "");
  // Opens an existing data directory for reading results. NotFound when there is none.
  static Result<DataDir> OpenExisting(const std::filesystem::path& root, runtime::Runtime& runtime,
                                      const std::string& store_uri = "");

  DataDir() = default;
  DataDir(DataDir&&) = default;
  DataDir& operator=(DataDir&&) = default;
  ~DataDir();

 private:
  std::unique_ptr<http::HttpClient> store_client_;
  std::unique_ptr<storage::BlobStore> remote_;
};

}  // namespace sluice::app

// Copies of the index files in the object store, for a fleet (DESIGN.md §7): every process
// keeps its indexes in its own data directory; a writer that changed one puts it under
// `index/` in the store, and a process whose folder lacks an index file (a new worker, a
// serving machine) fetches the copy before repairing from the database — a download instead of
// reading every vector from the database again. The database stays the truth: two writers'
// copies race (the later put wins) and RepairIndexes adds what a fetched copy misses. A folder
// that has a file keeps it; `sluice index build` rebuilds and republishes.
//
// Event-loop only.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <filesystem>
#include <string>
#include <vector>

#include "common/status.h"
#include "storage/blob_store.h"

namespace sluice::pipeline {

// The store key of the copy of index file `name`: "index/<name>".
std::string IndexCopyKey(const std::string& name);

// Puts the files `names` of `folder` into `store` as their copies, replacing older ones; names
// whose file is gone are skipped. Errors: the store's.
boost::asio::awaitable<Status> PublishIndexFiles(storage::BlobStore& store,
                                                 std::filesystem::path folder,
                                                 std::vector<std::string> names);

// PublishIndexFiles for every index file in `folder` (after a rebuild or a bulk load).
boost::asio::awaitable<Status> PublishAllIndexFiles(storage::BlobStore& store,
                                                    std::filesystem::path folder);

// Fetches every copy in `store` whose file `folder` lacks, in ranges (an index may be larger
// than memory allows twice), into a temporary file renamed into place. Returns how many were
// fetched. Errors: the store's; Internal (cause "index_io") when a file cannot be written.
boost::asio::awaitable<Result<int>> FetchMissingIndexFiles(storage::BlobStore& store,
                                                           std::filesystem::path folder);

}  // namespace sluice::pipeline

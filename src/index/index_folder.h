// IndexFolder: the vector indexes of one deployment as files in one folder (DESIGN.md §7:
// `./sluice-data/index/`), one per IndexSpec, named `IndexName(spec) + backend.extension`; and
// the hash indexes (near duplicates across sets), one per hashing method, named
// `<method>.hashes + backend.extension`.
//
// The folder holds open indexes in memory after first use; writers save them after each change
// (VectorIndex::Save is atomic, so a crash leaves the previous file). Two processes writing the
// same folder do not corrupt a file, but the later save wins: the database stays the source of
// truth and index_upkeep.h repairs what an index misses.
//
// Thread-safe.
#pragma once

#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "common/status.h"
#include "index/hash_index.h"
#include "index/vector_index.h"

namespace sluice::index {

// How a backend makes, trains and reads indexes. Chosen by the composition root (app/).
struct IndexBackend {
  std::string extension;  // ".faiss"
  // An empty index of `kind` (kinds that need training refuse: cause "needs_training").
  std::function<Result<std::unique_ptr<VectorIndex>>(const IndexSpec&, IndexKind)> create;
  // An index of `kind` holding these vectors, trained on them when the kind needs it.
  std::function<Result<std::unique_ptr<VectorIndex>>(
      const IndexSpec&, IndexKind, std::span<const VectorId>, std::span<const float>)>
      build;
  // An index written by Save: NotFound when absent, DataLoss (cause "bad_index") when unreadable.
  std::function<Result<std::unique_ptr<VectorIndex>>(const IndexSpec&,
                                                     const std::filesystem::path&)>
      load;
  // An empty hash index, and one written by HashIndex::Save (errors as `load`).
  std::function<std::unique_ptr<HashIndex>()> create_hashes;
  std::function<Result<std::unique_ptr<HashIndex>>(const std::filesystem::path&)> load_hashes;
};

class IndexFolder {
 public:
  IndexFolder(std::filesystem::path folder, IndexBackend backend);

  const std::filesystem::path& folder() const { return folder_; }
  std::filesystem::path FileOf(const IndexSpec& spec) const;

  // The index of `spec`: the open one, else read from its file, else a new exact (flat) one —
  // which exists only in memory until saved. Shared: a Replace leaves holders the old one. DataLoss
  // (cause "bad_index") for an unreadable file; the file is left alone so that `sluice index build`
  // can replace it.
  Result<std::shared_ptr<VectorIndex>> Open(const IndexSpec& spec);
  // Writes the open index of `spec` to its file (creating the folder). NotFound when it is not
  // open; the backend's error otherwise.
  Status Save(const IndexSpec& spec);
  // Replaces the index of `spec` with `built` and saves it.
  Status Replace(const IndexSpec& spec, std::unique_ptr<VectorIndex> built);
  // Makes an index of `kind` over these vectors (IndexBackend::build), without opening it.
  Result<std::unique_ptr<VectorIndex>> Build(const IndexSpec& spec, IndexKind kind,
                                             std::span<const VectorId> ids,
                                             std::span<const float> vectors) const;

  // The hash index of `method` ("image.phash"): as Open — the open one, else its file, else a
  // new empty one; DataLoss (cause "bad_index") for an unreadable file.
  Result<std::shared_ptr<HashIndex>> OpenHashes(const std::string& method);
  std::filesystem::path HashesFileOf(const std::string& method) const;
  // Writes the open hash index of `method`. NotFound when it is not open.
  Status SaveHashes(const std::string& method);

 private:
  Status CreateFolder() const;

  std::filesystem::path folder_;
  IndexBackend backend_;
  std::mutex mutex_;
  std::map<std::string, std::shared_ptr<VectorIndex>> open_;       // by IndexName
  std::map<std::string, std::shared_ptr<HashIndex>> open_hashes_;  // by method
};

}  // namespace sluice::index

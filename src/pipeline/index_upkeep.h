// Keeping the vector indexes in step with the embeddings in the database (DESIGN.md §2: after a
// set's commit "the vector index absorbs the new embeddings"). The database is the source of
// truth; every function here can be rerun and converges on the same indexes.
//
// Synchronous and CPU/disk-bound: run on the CPU or blocking pool. Errors: the catalog's and the
// index backend's.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "common/status.h"
#include "db/catalog.h"
#include "index/index_folder.h"
#include "index/vector_index.h"

namespace sluice::pipeline {

// The index of one (method, model, dimensions) of stored embeddings (cosine similarity).
index::IndexSpec IndexSpecOf(const db::EmbeddingSpace& space);

// Embeddings grouped by the index they go into (one per method, model and dimension): ids and
// vectors one after another, each id once (one content under two URLs of a set is one vector).
struct IndexBatch {
  index::IndexSpec spec;
  std::vector<index::VectorId> ids;
  std::vector<float> vectors;
};
std::vector<IndexBatch> GroupByIndex(const std::vector<db::EmbeddingRow>& embeddings);

// Adds `embeddings` to their indexes (one per method, model and dimension; created on first
// use) and saves each index that changed. Returns how many vectors were added (those already
// present are skipped).
Result<int64_t> AbsorbEmbeddings(index::IndexFolder& indexes,
                                 const std::vector<db::EmbeddingRow>& embeddings);

// Adds `hashes` to the hash index of their method (created on first use) and saves each index
// that changed. Returns how many were added (those already present are skipped).
Result<int64_t> AbsorbHashes(index::IndexFolder& indexes, const std::vector<db::HashRow>& hashes);

struct IndexRepair {
  std::string name;       // IndexName(spec), or "<method>.hashes" for a hash index
  bool hashes = false;    // a hash index
  index::IndexSpec spec;  // vector indexes
  int64_t stored = 0;     // embeddings in the database
  int64_t indexed = 0;    // vectors in the index before the repair
  int64_t added = 0;
};

// For every (method, model) with stored embeddings: when its index holds fewer vectors than the
// database (a crash between a commit and the index's save; another process's save winning),
// adds the missing ones from the database and saves it; the same for every method's hash
// index. One count per index when nothing is missing. Returns one entry per index.
Result<std::vector<IndexRepair>> RepairIndexes(index::IndexFolder& indexes, db::Catalog& catalog);

// The stored embeddings of `space` (the first `limit` by content, or all for 0), read in pages:
// ids and vectors one after another.
struct StoredVectors {
  std::vector<index::VectorId> ids;
  std::vector<float> vectors;
};
Result<StoredVectors> ReadStoredVectors(db::Catalog& catalog, const db::EmbeddingSpace& space,
                                        int64_t limit = 0);

// Rebuilds the index of `space` from the database: `kind`, or the one ChooseIndexKind picks for
// its size within `memory_budget_bytes`; replaces the saved index. Returns its stats.
Result<index::IndexStats> RebuildIndex(index::IndexFolder& indexes, db::Catalog& catalog,
                                       const db::EmbeddingSpace& space,
                                       std::optional<index::IndexKind> kind,
                                       int64_t memory_budget_bytes);

struct IndexCheck {
  index::IndexSpec spec;
  index::IndexStats stats;
  int64_t stored = 0;       // embeddings in the database
  int64_t missing = 0;      // of those, absent from the index
  int sample = 0;           // queries compared
  double recall_at_10 = 0;  // of the index's top 10 against exact search, over the sample
};

// Compares the index of `space` with the database: what it misses, and its recall@10 against
// exact search over every stored vector for `sample` stored vectors used as queries.
Result<IndexCheck> CheckIndex(index::IndexFolder& indexes, db::Catalog& catalog,
                              const db::EmbeddingSpace& space, int sample);

}  // namespace sluice::pipeline

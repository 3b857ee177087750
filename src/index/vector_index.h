// VectorIndex: the similarity index over one kind of embedding (DESIGN.md §3, §7) — "show me
// creatives like this one".
//
// One index per (embedding method, model, dimension): IndexSpec names it, and its file name comes
// from the spec. Vectors are keyed by stable 64-bit ids derived from the item's SHA-256
// (IdFromSha256), so adding an item that is already there changes nothing. The database is the
// source of truth: an index is a rebuildable cache of the embeddings stored there.
//
// Backends: faiss/ (the default). Every backend passes vector_index_conformance_test.cc.
// Synchronous and CPU-bound: call from the CPU pool. Thread-safe: Search may run concurrently
// with Search; writers (Add, Remove, Save) are serialised against everything else.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace sluice::index {

using VectorId = int64_t;

// The id of the item whose content has this SHA-256 (lowercase hex, 64 characters): its first
// 63 bits, so ids are non-negative and the same on every machine. InvalidArgument for anything
// but 64 hex digits.
Result<VectorId> IdFromSha256(std::string_view sha256_hex);

enum class Metric {
  kCosine,  // vectors are L2-normalised on the way in; scores are cosine similarities (higher
            // is closer)
  kL2,      // scores are squared Euclidean distances (lower is closer)
};

struct IndexSpec {
  std::string method;  // e.g. "image.embedding"
  std::string model;   // e.g. "mobilenet_v2-nsfwjs-2.4.2"
  int dimension = 0;
  Metric metric = Metric::kCosine;
};

// "<method>@<model>@<dimension>" with every character outside [A-Za-z0-9._-] turned into '_':
// the index's file name stem, one per spec.
std::string IndexName(const IndexSpec& spec);

// How vectors are searched. kFlat is exact (every vector compared); kHnsw is a graph (approximate,
// fast, memory about 1.2× the vectors); kIvfSq clusters and keeps each value in 8 bits
// (approximate, close to exact, memory a quarter of the vectors); kIvfPq clusters and compresses
// harder (approximate, memory a small fraction of the vectors). Both clustered kinds are trained
// on a sample before vectors are added.
enum class IndexKind { kFlat, kHnsw, kIvfSq, kIvfPq };
std::string_view IndexKindName(IndexKind kind);  // "flat", "hnsw", "ivfsq", "ivfpq"
// The kind named `name` (as IndexKindName gives it); std::nullopt for another name.
std::optional<IndexKind> IndexKindNamed(std::string_view name);
// Whether the kind must be trained on vectors before any can be added.
bool NeedsTraining(IndexKind kind);

// The kind for `count` vectors of `dimension` floats within `memory_budget_bytes`: exact while
// there are few enough to compare all (up to 100,000) and they fit; a graph while its memory
// fits; 8-bit clusters while they fit; product-quantised clusters beyond.
IndexKind ChooseIndexKind(int64_t count, int dimension, int64_t memory_budget_bytes);

struct Hit {
  VectorId id = 0;
  float score = 0;  // see Metric
};

struct IndexStats {
  IndexKind kind = IndexKind::kFlat;
  int64_t count = 0;  // vectors held
  int64_t bytes = 0;  // the index's size when saved
};

// Recall of `found` against `truth` (the same queries' hits from exact search): the share of
// truth's ids that `found` lists for the same query, over all queries. 1 when truth is empty.
double Recall(const std::vector<std::vector<Hit>>& truth,
              const std::vector<std::vector<Hit>>& found);

class VectorIndex {
 public:
  virtual ~VectorIndex() = default;

  virtual const IndexSpec& spec() const = 0;

  // Adds `ids.size()` vectors (`vectors` holds them one after another, spec().dimension floats
  // each). Ids already present are skipped, so adding the same item twice changes nothing.
  // Returns how many were added. InvalidArgument (cause "bad_vectors") when the sizes disagree,
  // an id repeats within the call or a value is not finite; nothing is added then.
  virtual Result<int64_t> Add(std::span<const VectorId> ids, std::span<const float> vectors) = 0;

  // Removes these ids (absent ones are ignored); returns how many were removed.
  virtual Result<int64_t> Remove(std::span<const VectorId> ids) = 0;

  // The `k` nearest vectors of each query (`queries` holds them one after another), best first;
  // fewer when the index holds fewer. InvalidArgument (cause "bad_vectors") for a size that is
  // not a multiple of the dimension, k < 1 or a value that is not finite.
  virtual Result<std::vector<std::vector<Hit>>> Search(std::span<const float> queries,
                                                       int k) const = 0;

  virtual bool Contains(VectorId id) const = 0;
  // The stored vector of `id` (normalised for kCosine); NotFound when absent.
  virtual Result<std::vector<float>> Vector(VectorId id) const = 0;
  virtual IndexStats Stats() const = 0;

  // Writes the index to `file` atomically (a temporary file beside it, then a rename): a reader
  // sees the old file or the new one. Internal (cause "index_io") when it cannot be written.
  virtual Status Save(const std::filesystem::path& file) const = 0;
};

}  // namespace sluice::index

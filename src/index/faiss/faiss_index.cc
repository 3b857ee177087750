#include "index/faiss/faiss_index.h"

#include <faiss/IndexFlat.h>
#include <faiss/IndexHNSW.h>
#include <faiss/IndexIDMap.h>
#include <faiss/IndexIVFPQ.h>
#include <faiss/IndexScalarQuantizer.h>
#include <faiss/clone_index.h>
#include <faiss/impl/AuxIndexStructures.h>
#include <faiss/impl/FaissException.h>
#include <faiss/impl/IDSelector.h>
#include <faiss/impl/io.h>
#include <faiss/index_io.h>

#include <cmath>
#include <mutex>
#include <shared_mutex>
#include <unordered_set>

#include "common/strings.h"
#include "index/faiss/faiss_hash_index.h"
#include "index/faiss/faiss_io.h"

namespace sluice::index {
namespace {

using FaissId = faiss::Index::idx_t;

Status BadVectors(std::string_view why) {
  return Failure(absl::StatusCode::kInvalidArgument, "bad_vectors", why);
}

faiss::MetricType FaissMetric(Metric metric) {
  return metric == Metric::kCosine ? faiss::METRIC_INNER_PRODUCT : faiss::METRIC_L2;
}

// Counts the bytes FAISS would write, writing none.
struct CountingWriter : faiss::IOWriter {
  size_t operator()(const void*, size_t size, size_t items) override {
    bytes += static_cast<int64_t>(size * items);
    return items;
  }
  int64_t bytes = 0;
};

// Checks sizes and values; returns the vectors, L2-normalised for cosine.
Result<std::vector<float>> Prepared(const IndexSpec& spec, std::span<const float> vectors,
                                    size_t count) {
  size_t d = static_cast<size_t>(spec.dimension);
  if (vectors.size() != count * d) {
    return BadVectors(
        StrCat(vectors.size(), " values are not ", count, " vectors of ", spec.dimension));
  }
  std::vector<float> out(vectors.begin(), vectors.end());
  for (size_t i = 0; i < count; ++i) {
    float* v = out.data() + i * d;
    double norm = 0;
    for (size_t j = 0; j < d; ++j) {
      if (!std::isfinite(v[j]))
        return BadVectors(StrCat("vector ", i, " has a value that is not finite"));
      norm += double{v[j]} * v[j];
    }
    if (spec.metric == Metric::kCosine) {
      if (norm == 0) return BadVectors(StrCat("vector ", i, " is zero: it has no direction"));
      float scale = static_cast<float>(1 / std::sqrt(norm));
      for (size_t j = 0; j < d; ++j) v[j] *= scale;
    }
  }
  return out;
}

class FaissIndex : public VectorIndex {
 public:
  FaissIndex(IndexSpec spec, IndexKind kind, std::unique_ptr<faiss::IndexIDMap2> index,
             FaissIndexOptions options)
      : spec_(std::move(spec)), kind_(kind), index_(std::move(index)), options_(options) {
    Tune();
  }

  const IndexSpec& spec() const override { return spec_; }

  Result<int64_t> Add(std::span<const VectorId> ids, std::span<const float> vectors) override {
    SLUICE_ASSIGN_OR_RETURN(std::vector<float> prepared, Prepared(spec_, vectors, ids.size()));
    SLUICE_RETURN_IF_ERROR(CheckDistinct(ids));
    std::unique_lock lock(mutex_);
    std::vector<FaissId> fresh_ids;
    std::vector<float> fresh;
    size_t d = static_cast<size_t>(spec_.dimension);
    for (size_t i : AbsentPositions(*index_, ids)) {
      fresh_ids.push_back(ids[i]);
      fresh.insert(fresh.end(), prepared.begin() + static_cast<ptrdiff_t>(i * d),
                   prepared.begin() + static_cast<ptrdiff_t>((i + 1) * d));
    }
    if (fresh_ids.empty()) return int64_t{0};
    SLUICE_RETURN_IF_ERROR(FaissGuard([&] {
      index_->add_with_ids(static_cast<FaissId>(fresh_ids.size()), fresh.data(), fresh_ids.data());
    }));
    return static_cast<int64_t>(fresh_ids.size());
  }

  Result<int64_t> Remove(std::span<const VectorId> ids) override {
    std::unique_lock lock(mutex_);
    std::vector<FaissId> present = PresentIds(*index_, ids);
    if (present.empty()) return int64_t{0};
    if (kind_ == IndexKind::kFlat) {
      faiss::IDSelectorBatch selector(present.size(), present.data());
      SLUICE_RETURN_IF_ERROR(FaissGuard([&] { index_->remove_ids(selector); }));
      return static_cast<int64_t>(present.size());
    }
    // A graph cannot drop nodes, and an id map cannot renumber inverted lists: the index is
    // emptied (keeping an IVF-PQ's training) and given back the vectors that stay.
    std::unordered_set<FaissId> gone(present.begin(), present.end());
    std::vector<FaissId> kept_ids;
    std::vector<float> kept;
    size_t d = static_cast<size_t>(spec_.dimension);
    std::unique_ptr<faiss::IndexIDMap2> rebuilt;
    SLUICE_RETURN_IF_ERROR(FaissGuard([&] {
      for (FaissId id : index_->id_map) {
        if (gone.count(id)) continue;
        kept_ids.push_back(id);
        kept.resize(kept.size() + d);
        index_->reconstruct(id, kept.data() + kept.size() - d);
      }
      std::unique_ptr<faiss::Index> inner(faiss::clone_index(index_->index));
      inner->reset();
      rebuilt = std::make_unique<faiss::IndexIDMap2>(inner.release());
      rebuilt->own_fields = true;
      if (!kept_ids.empty())
        rebuilt->add_with_ids(static_cast<FaissId>(kept_ids.size()), kept.data(), kept_ids.data());
    }));
    index_ = std::move(rebuilt);
    Tune();
    return static_cast<int64_t>(present.size());
  }

  Result<std::vector<std::vector<Hit>>> Search(std::span<const float> queries,
                                               int k) const override {
    if (k < 1) return BadVectors(StrCat("k must be at least 1, not ", k));
    size_t d = static_cast<size_t>(spec_.dimension);
    if (queries.size() % d != 0)
      return BadVectors(StrCat(queries.size(), " values are not whole vectors of ", d));
    size_t n = queries.size() / d;
    SLUICE_ASSIGN_OR_RETURN(std::vector<float> prepared, Prepared(spec_, queries, n));
    std::shared_lock lock(mutex_);
    int64_t held = index_->ntotal;
    std::vector<std::vector<Hit>> results(n);
    if (held == 0 || n == 0) return results;
    auto wanted = static_cast<FaissId>(std::min<int64_t>(k, held));
    std::vector<float> scores(n * static_cast<size_t>(wanted));
    std::vector<FaissId> labels(scores.size());
    SLUICE_RETURN_IF_ERROR(FaissGuard([&] {
      index_->search(static_cast<FaissId>(n), prepared.data(), wanted, scores.data(),
                     labels.data());
    }));
    for (size_t q = 0; q < n; ++q) {
      for (FaissId j = 0; j < wanted; ++j) {
        size_t at = q * static_cast<size_t>(wanted) + static_cast<size_t>(j);
        if (labels[at] < 0) continue;  // fewer found than asked
        results[q].push_back({.id = labels[at], .score = scores[at]});
      }
    }
    return results;
  }

  bool Contains(VectorId id) const override {
    std::shared_lock lock(mutex_);
    return index_->rev_map.count(id) > 0;
  }

  Result<std::vector<float>> Vector(VectorId id) const override {
    std::shared_lock lock(mutex_);
    if (!index_->rev_map.count(id)) return absl::NotFoundError(StrCat("no vector with id ", id));
    std::vector<float> out(static_cast<size_t>(spec_.dimension));
    SLUICE_RETURN_IF_ERROR(FaissGuard([&] { index_->reconstruct(id, out.data()); }));
    return out;
  }

  IndexStats Stats() const override {
    std::shared_lock lock(mutex_);
    CountingWriter counter;
    Status counted = FaissGuard([&] { faiss::write_index(index_.get(), &counter); });
    return {.kind = kind_, .count = index_->ntotal, .bytes = counted.ok() ? counter.bytes : 0};
  }

  Status Save(const std::filesystem::path& file) const override {
    std::shared_lock lock(mutex_);
    return SaveAtomically(file, [&](const char* path) { faiss::write_index(index_.get(), path); });
  }

  // A new, empty id map over a flat or HNSW index (kIvfPq needs training: BuildFaissIndex).
  static std::unique_ptr<faiss::IndexIDMap2> Empty(const IndexSpec& spec, IndexKind kind,
                                                   const FaissIndexOptions& options) {
    faiss::Index* inner = nullptr;
    if (kind == IndexKind::kHnsw) {
      auto* hnsw = new faiss::IndexHNSWFlat(spec.dimension, options.hnsw_neighbours,
                                            FaissMetric(spec.metric));
      hnsw->hnsw.efConstruction = options.hnsw_build_depth;
      inner = hnsw;
    } else {
      inner = new faiss::IndexFlat(spec.dimension, FaissMetric(spec.metric));
    }
    auto map = std::make_unique<faiss::IndexIDMap2>(inner);
    map->own_fields = true;
    return map;
  }

 private:
  void Tune() {
    if (auto* hnsw = dynamic_cast<faiss::IndexHNSW*>(index_->index))
      hnsw->hnsw.efSearch = options_.hnsw_search_depth;
    if (auto* ivf = dynamic_cast<faiss::IndexIVF*>(index_->index))
      ivf->nprobe = static_cast<size_t>(options_.ivf_probes);
  }

  IndexSpec spec_;
  IndexKind kind_;
  std::unique_ptr<faiss::IndexIDMap2> index_;
  FaissIndexOptions options_;
  mutable std::shared_mutex mutex_;
};

Status CheckSpec(const IndexSpec& spec) {
  if (spec.dimension < 1)
    return absl::InvalidArgumentError(StrCat("an index needs a dimension, not ", spec.dimension));
  return absl::OkStatus();
}

// The product quantiser's sub-vectors: the most that divide the dimension and keep at least two
// dimensions each, capped at 64 (8-bit codes: `m` bytes per vector).
int PqSubvectors(int dimension) {
  for (int m : {64, 48, 32, 24, 16, 12, 8, 6, 4, 2, 1}) {
    if (dimension % m == 0 && dimension / m >= 2) return m;
  }
  return 1;
}

}  // namespace

Result<std::unique_ptr<VectorIndex>> NewFaissIndex(const IndexSpec& spec, IndexKind kind,
                                                   const FaissIndexOptions& options) {
  SLUICE_RETURN_IF_ERROR(CheckSpec(spec));
  if (NeedsTraining(kind)) {
    return Failure(absl::StatusCode::kFailedPrecondition, "needs_training",
                   StrCat("an ", IndexKindName(kind),
                          " index is trained on vectors first: build it from them"));
  }
  return std::unique_ptr<VectorIndex>(
      new FaissIndex(spec, kind, FaissIndex::Empty(spec, kind, options), options));
}

Result<std::unique_ptr<VectorIndex>> BuildFaissIndex(const IndexSpec& spec, IndexKind kind,
                                                     std::span<const VectorId> ids,
                                                     std::span<const float> vectors,
                                                     const FaissIndexOptions& options) {
  SLUICE_RETURN_IF_ERROR(CheckSpec(spec));
  if (!NeedsTraining(kind)) {
    SLUICE_ASSIGN_OR_RETURN(std::unique_ptr<VectorIndex> index, NewFaissIndex(spec, kind, options));
    SLUICE_RETURN_IF_ERROR(index->Add(ids, vectors).status());
    return index;
  }
  SLUICE_ASSIGN_OR_RETURN(std::vector<float> prepared, Prepared(spec, vectors, ids.size()));
  auto n = static_cast<int64_t>(ids.size());
  if (n < 1000) {
    return Failure(
        absl::StatusCode::kFailedPrecondition, "needs_training",
        StrCat("an ", IndexKindName(kind), " index trains on at least 1,000 vectors, not ", n));
  }
  // About 4·√n lists, each trained on ~40 vectors at least.
  auto lists = static_cast<size_t>(
      std::clamp<int64_t>(static_cast<int64_t>(4 * std::sqrt(static_cast<double>(n))), 16,
                          std::max<int64_t>(16, n / 40)));
  auto* quantizer = new faiss::IndexFlat(spec.dimension, FaissMetric(spec.metric));
  faiss::IndexIVF* ivf = nullptr;
  if (kind == IndexKind::kIvfSq) {
    ivf = new faiss::IndexIVFScalarQuantizer(quantizer, spec.dimension, lists,
                                             faiss::ScalarQuantizer::QT_8bit,
                                             FaissMetric(spec.metric));
  } else {
    ivf = new faiss::IndexIVFPQ(quantizer, spec.dimension, lists,
                                static_cast<size_t>(PqSubvectors(spec.dimension)), 8,
                                FaissMetric(spec.metric));
  }
  ivf->own_fields = true;
  // k-means on at most 64 vectors a list, 10 rounds (FAISS's defaults: 256, 25): a million 512-d
  // vectors build in under three minutes on two cores (bench/index_bench.sh).
  ivf->cp.niter = 10;
  ivf->cp.max_points_per_centroid = 64;
  auto map = std::make_unique<faiss::IndexIDMap2>(ivf);
  map->own_fields = true;
  // The direct map lets vectors be read back by id (and the index rebuilt on removal).
  Status trained = FaissGuard([&] {
    ivf->train(n, prepared.data());
    ivf->make_direct_map(true);
  });
  if (!trained.ok()) return trained;
  auto index = std::make_unique<FaissIndex>(spec, kind, std::move(map), options);
  SLUICE_RETURN_IF_ERROR(index->Add(ids, vectors).status());
  return std::unique_ptr<VectorIndex>(std::move(index));
}

Result<std::unique_ptr<VectorIndex>> LoadFaissIndex(const IndexSpec& spec,
                                                    const std::filesystem::path& file,
                                                    const FaissIndexOptions& options) {
  SLUICE_RETURN_IF_ERROR(CheckSpec(spec));
  SLUICE_ASSIGN_OR_RETURN(std::unique_ptr<faiss::IndexIDMap2> map,
                          ReadIdMap<faiss::IndexIDMap2>(
                              file, [](const char* path) { return faiss::read_index(path); }));
  if (map->d != spec.dimension)
    return BadIndex(file, StrCat("vectors of ", map->d, " dimensions, not ", spec.dimension));
  if (map->metric_type != FaissMetric(spec.metric)) return BadIndex(file, "another metric");
  IndexKind kind = dynamic_cast<faiss::IndexHNSW*>(map->index)                 ? IndexKind::kHnsw
                   : dynamic_cast<faiss::IndexIVFPQ*>(map->index)              ? IndexKind::kIvfPq
                   : dynamic_cast<faiss::IndexIVFScalarQuantizer*>(map->index) ? IndexKind::kIvfSq
                                                                               : IndexKind::kFlat;
  return std::unique_ptr<VectorIndex>(new FaissIndex(spec, kind, std::move(map), options));
}

IndexBackend FaissBackend(FaissIndexOptions options) {
  return {
      .extension = ".faiss",
      .create = [options](const IndexSpec& spec,
                          IndexKind kind) { return NewFaissIndex(spec, kind, options); },
      .build =
          [options](const IndexSpec& spec, IndexKind kind, std::span<const VectorId> ids,
                    std::span<const float> vectors) {
            return BuildFaissIndex(spec, kind, ids, vectors, options);
          },
      .load =
          [options](const IndexSpec& spec, const std::filesystem::path& file) {
            return LoadFaissIndex(spec, file, options);
          },
      .create_hashes = [] { return NewFaissHashIndex(); },
      .load_hashes = [](const std::filesystem::path& file) { return LoadFaissHashIndex(file); }};
}

}  // namespace sluice::index

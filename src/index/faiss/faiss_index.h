// The FAISS backend of VectorIndex (libfaiss-dev): an IndexIDMap2 over a flat, HNSW or IVF-PQ
// index, so vectors keep the ids VectorIndex gives them and can be looked up and removed by id.
//
// Thread-safety and errors as vector_index.h. FAISS's own threads (OpenMP) are used by searches
// of many queries at once; a single query runs on the caller's thread.
#pragma once

#include <filesystem>
#include <memory>
#include <span>

#include "index/index_folder.h"
#include "index/vector_index.h"

namespace sluice::index {

struct FaissIndexOptions {
  // HNSW: neighbours per vector (M). Default 32.
  int hnsw_neighbours = 32;
  // HNSW: candidates kept while searching (efSearch; at least k). Default 128.
  int hnsw_search_depth = 128;
  // HNSW: candidates kept while adding (efConstruction). Default 80.
  int hnsw_build_depth = 80;
  // IVF-PQ: lists probed per query. Default 32.
  int ivf_probes = 32;
};

// An empty index of `kind`. FailedPrecondition (cause "needs_training") for kIvfPq, which must be
// trained on vectors: see BuildFaissIndex. InvalidArgument for a dimension below 1.
Result<std::unique_ptr<VectorIndex>> NewFaissIndex(const IndexSpec& spec, IndexKind kind,
                                                   const FaissIndexOptions& options = {});

// An index of `kind` holding these vectors (as VectorIndex::Add). kIvfPq is trained on them
// first (at least 1,000 vectors; its lists and code size follow from their number and the
// dimension). Errors as NewFaissIndex and Add; FailedPrecondition (cause "needs_training") for
// too few vectors to train kIvfPq.
Result<std::unique_ptr<VectorIndex>> BuildFaissIndex(const IndexSpec& spec, IndexKind kind,
                                                     std::span<const VectorId> ids,
                                                     std::span<const float> vectors,
                                                     const FaissIndexOptions& options = {});

// An index written by Save. NotFound when `file` does not exist; DataLoss (cause "bad_index")
// when it is not a FAISS index with ids, or its dimension or metric differ from `spec`.
Result<std::unique_ptr<VectorIndex>> LoadFaissIndex(const IndexSpec& spec,
                                                    const std::filesystem::path& file,
                                                    const FaissIndexOptions& options = {});

// The FAISS backend as an IndexFolder sees it (files "*.faiss"), with `options` for every index.
IndexBackend FaissBackend(FaissIndexOptions options = {});

}  // namespace sluice::index

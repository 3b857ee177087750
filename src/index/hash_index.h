// HashIndex: near-duplicate lookup over 64-bit perceptual hashes (image.phash) — "is this
// creative already known?" — without comparing every pair: the hashes of every set, searched by
// Hamming distance.
//
// Ids as VectorIndex (IdFromSha256): adding an item twice changes nothing. Backends: faiss/
// (binary indexes). Synchronous and CPU-bound; thread-safe as VectorIndex.
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>
#include <vector>

#include "common/status.h"
#include "index/vector_index.h"

namespace sluice::index {

struct HashHit {
  VectorId id = 0;
  int distance = 0;  // differing bits, 0–64
};

class HashIndex {
 public:
  virtual ~HashIndex() = default;

  // Adds one hash per id; ids already present are skipped. Returns how many were added.
  // InvalidArgument (cause "bad_vectors") when the sizes disagree or an id repeats in the call.
  virtual Result<int64_t> Add(std::span<const VectorId> ids, std::span<const uint64_t> hashes) = 0;

  // Removes these ids (absent ones are ignored); returns how many were removed.
  virtual Result<int64_t> Remove(std::span<const VectorId> ids) = 0;

  // For each query, the stored hashes at most `max_distance` bits away, nearest first, at most
  // `max_hits` of them. InvalidArgument (cause "bad_vectors") for max_distance outside 0–64 or
  // max_hits below 1.
  virtual Result<std::vector<std::vector<HashHit>>> Within(std::span<const uint64_t> queries,
                                                           int max_distance,
                                                           int max_hits) const = 0;

  virtual bool Contains(VectorId id) const = 0;
  virtual int64_t size() const = 0;

  // As VectorIndex::Save: atomic; Internal (cause "index_io") when it cannot be written.
  virtual Status Save(const std::filesystem::path& file) const = 0;
};

}  // namespace sluice::index

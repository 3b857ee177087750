#include "index/faiss/faiss_hash_index.h"

#include <faiss/IndexBinaryFlat.h>
#include <faiss/IndexIDMap.h>
#include <faiss/impl/IDSelector.h>
#include <faiss/index_io.h>

#include <cstring>
#include <mutex>
#include <shared_mutex>
#include <unordered_set>

#include "common/strings.h"
#include "index/faiss/faiss_io.h"

namespace sluice::index {
namespace {

using FaissId = faiss::IndexBinary::idx_t;
constexpr int kBits = 64;

Status BadHashes(std::string_view why) {
  return Failure(absl::StatusCode::kInvalidArgument, "bad_vectors", why);
}

// A hash as FAISS's 8 code bytes.
std::vector<uint8_t> Codes(std::span<const uint64_t> hashes) {
  std::vector<uint8_t> codes(hashes.size() * sizeof(uint64_t));
  if (!hashes.empty()) std::memcpy(codes.data(), hashes.data(), codes.size());
  return codes;
}

class FaissHashIndex : public HashIndex {
 public:
  explicit FaissHashIndex(std::unique_ptr<faiss::IndexBinaryIDMap2> index)
      : index_(std::move(index)) {}

  Result<int64_t> Add(std::span<const VectorId> ids, std::span<const uint64_t> hashes) override {
    if (ids.size() != hashes.size())
      return BadHashes(StrCat(ids.size(), " ids and ", hashes.size(), " hashes"));
    SLUICE_RETURN_IF_ERROR(CheckDistinct(ids));
    std::unique_lock lock(mutex_);
    std::vector<FaissId> fresh_ids;
    std::vector<uint64_t> fresh;
    for (size_t i : AbsentPositions(*index_, ids)) {
      fresh_ids.push_back(ids[i]);
      fresh.push_back(hashes[i]);
    }
    if (fresh.empty()) return int64_t{0};
    std::vector<uint8_t> codes = Codes(fresh);
    SLUICE_RETURN_IF_ERROR(FaissGuard([&] {
      index_->add_with_ids(static_cast<FaissId>(fresh.size()), codes.data(), fresh_ids.data());
    }));
    return static_cast<int64_t>(fresh.size());
  }

  Result<int64_t> Remove(std::span<const VectorId> ids) override {
    std::unique_lock lock(mutex_);
    std::vector<FaissId> present = PresentIds(*index_, ids);
    if (present.empty()) return int64_t{0};
    faiss::IDSelectorBatch selector(present.size(), present.data());
    SLUICE_RETURN_IF_ERROR(FaissGuard([&] { index_->remove_ids(selector); }));
    return static_cast<int64_t>(present.size());
  }

  Result<std::vector<std::vector<HashHit>>> Within(std::span<const uint64_t> queries,
                                                   int max_distance, int max_hits) const override {
    if (max_distance < 0 || max_distance > kBits)
      return BadHashes(StrCat("max_distance must be 0..64, not ", max_distance));
    if (max_hits < 1) return BadHashes(StrCat("max_hits must be at least 1, not ", max_hits));
    std::shared_lock lock(mutex_);
    std::vector<std::vector<HashHit>> results(queries.size());
    int64_t held = index_->ntotal;
    if (held == 0 || queries.empty()) return results;
    auto k = static_cast<FaissId>(std::min<int64_t>(max_hits, held));
    std::vector<uint8_t> codes = Codes(queries);
    std::vector<int32_t> distances(queries.size() * static_cast<size_t>(k));
    std::vector<FaissId> labels(distances.size());
    SLUICE_RETURN_IF_ERROR(FaissGuard([&] {
      index_->search(static_cast<FaissId>(queries.size()), codes.data(), k, distances.data(),
                     labels.data());
    }));
    for (size_t q = 0; q < queries.size(); ++q) {
      for (FaissId j = 0; j < k; ++j) {
        size_t at = q * static_cast<size_t>(k) + static_cast<size_t>(j);
        if (labels[at] < 0 || distances[at] > max_distance) continue;
        results[q].push_back({.id = labels[at], .distance = distances[at]});
      }
    }
    return results;
  }

  bool Contains(VectorId id) const override {
    std::shared_lock lock(mutex_);
    return index_->rev_map.count(id) > 0;
  }

  int64_t size() const override {
    std::shared_lock lock(mutex_);
    return index_->ntotal;
  }

  Status Save(const std::filesystem::path& file) const override {
    std::shared_lock lock(mutex_);
    return SaveAtomically(file,
                          [&](const char* path) { faiss::write_index_binary(index_.get(), path); });
  }

 private:
  std::unique_ptr<faiss::IndexBinaryIDMap2> index_;
  mutable std::shared_mutex mutex_;
};

}  // namespace

std::unique_ptr<HashIndex> NewFaissHashIndex() {
  auto map = std::make_unique<faiss::IndexBinaryIDMap2>(new faiss::IndexBinaryFlat(kBits));
  map->own_fields = true;
  return std::make_unique<FaissHashIndex>(std::move(map));
}

Result<std::unique_ptr<HashIndex>> LoadFaissHashIndex(const std::filesystem::path& file) {
  SLUICE_ASSIGN_OR_RETURN(std::unique_ptr<faiss::IndexBinaryIDMap2> map,
                          ReadIdMap<faiss::IndexBinaryIDMap2>(file, [](const char* path) {
                            return faiss::read_index_binary(path);
                          }));
  if (map->d != kBits) return BadIndex(file, StrCat("hashes of ", map->d, " bits, not 64"));
  return std::unique_ptr<HashIndex>(new FaissHashIndex(std::move(map)));
}

}  // namespace sluice::index

// The FAISS backend of HashIndex: an IndexBinaryIDMap2 over an exact binary index (popcount of
// XORs, 8 bytes a hash: ten million hashes are 80 MB and a scan of a few milliseconds).
// Thread-safety and errors as hash_index.h.
#pragma once

#include <filesystem>
#include <memory>

#include "index/hash_index.h"

namespace sluice::index {

// An empty index of 64-bit hashes.
std::unique_ptr<HashIndex> NewFaissHashIndex();

// An index written by Save. NotFound when `file` does not exist; DataLoss (cause "bad_index")
// when it is not a binary FAISS index of 64-bit hashes with ids.
Result<std::unique_ptr<HashIndex>> LoadFaissHashIndex(const std::filesystem::path& file);

}  // namespace sluice::index

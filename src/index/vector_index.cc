#include "index/vector_index.h"

#include <unordered_set>

#include "common/strings.h"

namespace sluice::index {

Result<VectorId> IdFromSha256(std::string_view sha256_hex) {
  if (sha256_hex.size() != 64) {
    return absl::InvalidArgumentError(
        StrCat("a SHA-256 is 64 hex digits, not ", sha256_hex.size(), " characters"));
  }
  uint64_t value = 0;
  for (size_t i = 0; i < sha256_hex.size(); ++i) {
    char c = sha256_hex[i];
    int digit = c >= '0' && c <= '9'   ? c - '0'
                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                       : -1;
    if (digit < 0) return absl::InvalidArgumentError(StrCat("not a hex digit: '", c, "'"));
    if (i < 16) value = value << 4 | static_cast<uint64_t>(digit);
  }
  return static_cast<VectorId>(value >> 1);
}

std::string IndexName(const IndexSpec& spec) {
  auto clean = [](std::string part) {
    for (char& c : part) {
      bool kept = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '_' || c == '-';
      if (!kept) c = '_';
    }
    return part;
  };
  return StrCat(clean(spec.method), "@", clean(spec.model), "@", spec.dimension);
}

std::string_view IndexKindName(IndexKind kind) {
  switch (kind) {
    case IndexKind::kFlat:
      return "flat";
    case IndexKind::kHnsw:
      return "hnsw";
    case IndexKind::kIvfSq:
      return "ivfsq";
    case IndexKind::kIvfPq:
      return "ivfpq";
  }
  return "flat";
}

std::optional<IndexKind> IndexKindNamed(std::string_view name) {
  for (IndexKind kind : {IndexKind::kFlat, IndexKind::kHnsw, IndexKind::kIvfSq, IndexKind::kIvfPq})
    if (IndexKindName(kind) == name) return kind;
  return std::nullopt;
}

bool NeedsTraining(IndexKind kind) {
  return kind == IndexKind::kIvfSq || kind == IndexKind::kIvfPq;
}

double Recall(const std::vector<std::vector<Hit>>& truth,
              const std::vector<std::vector<Hit>>& found) {
  int64_t hits = 0, wanted = 0;
  for (size_t q = 0; q < truth.size(); ++q) {
    std::unordered_set<VectorId> expected;
    for (const Hit& hit : truth[q]) expected.insert(hit.id);
    if (q < found.size())
      for (const Hit& hit : found[q]) hits += expected.count(hit.id);
    wanted += static_cast<int64_t>(expected.size());
  }
  return wanted ? static_cast<double>(hits) / static_cast<double>(wanted) : 1.0;
}

IndexKind ChooseIndexKind(int64_t count, int dimension, int64_t memory_budget_bytes) {
  int64_t raw = count * dimension * static_cast<int64_t>(sizeof(float));
  if (count <= 100'000 && raw <= memory_budget_bytes) return IndexKind::kFlat;
  // HNSW keeps the vectors and about 2 × M = 64 neighbour ids of 4 bytes per vector.
  int64_t graph = raw + count * 64 * 4;
  if (graph <= memory_budget_bytes) return IndexKind::kHnsw;
  // One byte per value, and the inverted lists' ids.
  int64_t scalar = count * (dimension + 8);
  if (scalar <= memory_budget_bytes) return IndexKind::kIvfSq;
  return IndexKind::kIvfPq;
}

}  // namespace sluice::index

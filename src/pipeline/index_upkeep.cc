#include "pipeline/index_upkeep.h"

#include <algorithm>
#include <map>
#include <set>
#include <unordered_set>

#include "common/strings.h"

namespace sluice::pipeline {

namespace {

constexpr int kPage = 2000;

index::IndexSpec SpecFor(const std::string& method, const std::string& model, size_t dimensions) {
  return index::IndexSpec{.method = method,
                          .model = model,
                          .dimension = static_cast<int>(dimensions),
                          .metric = index::Metric::kCosine};
}

// Calls `page` with the stored embeddings of `space` a page at a time, in content order: all of
// them, or pages until at least `limit` rows were read (0: no limit).
Status ForEachStoredPage(db::Catalog& catalog, const db::EmbeddingSpace& space,
                         const std::function<Status(const std::vector<db::EmbeddingRow>&)>& page,
                         int64_t limit = 0) {
  std::string after;
  for (int64_t read = 0; limit == 0 || read < limit;) {
    SLUICE_ASSIGN_OR_RETURN(std::vector<db::EmbeddingRow> rows,
                            catalog.ListEmbeddings(space.method, space.model, after, kPage));
    if (rows.empty()) return absl::OkStatus();
    SLUICE_RETURN_IF_ERROR(page(rows));
    read += static_cast<int64_t>(rows.size());
    after = rows.back().item_sha256;
    if (static_cast<int>(rows.size()) < kPage) return absl::OkStatus();
  }
  return absl::OkStatus();
}

// Appends the rows of the space's dimension to `ids` and `vectors` (skipping any other size).
void Append(const std::vector<db::EmbeddingRow>& rows, int dimension,
            std::vector<index::VectorId>& ids, std::vector<float>& vectors) {
  for (const db::EmbeddingRow& row : rows) {
    if (static_cast<int>(row.vector.size()) != dimension) continue;
    ids.push_back(row.item_id);
    vectors.insert(vectors.end(), row.vector.begin(), row.vector.end());
  }
}

}  // namespace

index::IndexSpec IndexSpecOf(const db::EmbeddingSpace& space) {
  return SpecFor(space.method, space.model, static_cast<size_t>(space.dimensions));
}

std::vector<IndexBatch> GroupByIndex(const std::vector<db::EmbeddingRow>& embeddings) {
  std::map<std::string, IndexBatch> batches;  // by index name
  std::map<std::string, std::unordered_set<index::VectorId>> taken;
  for (const db::EmbeddingRow& row : embeddings) {
    index::IndexSpec spec = SpecFor(row.method, row.model, row.vector.size());
    std::string name = index::IndexName(spec);
    // The index refuses an id twice within one call.
    if (!taken[name].insert(row.item_id).second) continue;
    IndexBatch& batch = batches[name];
    batch.spec = spec;
    batch.ids.push_back(row.item_id);
    batch.vectors.insert(batch.vectors.end(), row.vector.begin(), row.vector.end());
  }
  std::vector<IndexBatch> out;
  for (auto& [name, batch] : batches) out.push_back(std::move(batch));
  return out;
}

Result<int64_t> AbsorbEmbeddings(index::IndexFolder& indexes,
                                 const std::vector<db::EmbeddingRow>& embeddings) {
  int64_t added = 0;
  for (const IndexBatch& batch : GroupByIndex(embeddings)) {
    SLUICE_ASSIGN_OR_RETURN(std::shared_ptr<index::VectorIndex> index, indexes.Open(batch.spec));
    SLUICE_ASSIGN_OR_RETURN(int64_t count, index->Add(batch.ids, batch.vectors));
    if (count > 0) SLUICE_RETURN_IF_ERROR(indexes.Save(batch.spec));
    added += count;
  }
  return added;
}

Result<int64_t> AbsorbHashes(index::IndexFolder& indexes, const std::vector<db::HashRow>& hashes) {
  std::map<std::string, std::pair<std::vector<index::VectorId>, std::vector<uint64_t>>> by_method;
  std::set<std::pair<std::string, index::VectorId>> taken;  // the index refuses an id twice
  for (const db::HashRow& row : hashes) {
    if (!taken.emplace(row.method, row.item_id).second) continue;
    auto& [ids, values] = by_method[row.method];
    ids.push_back(row.item_id);
    values.push_back(row.hash);
  }
  int64_t added = 0;
  for (const auto& [method, batch] : by_method) {
    SLUICE_ASSIGN_OR_RETURN(std::shared_ptr<index::HashIndex> index, indexes.OpenHashes(method));
    SLUICE_ASSIGN_OR_RETURN(int64_t count, index->Add(batch.first, batch.second));
    if (count > 0) SLUICE_RETURN_IF_ERROR(indexes.SaveHashes(method));
    added += count;
  }
  return added;
}

namespace {

// RepairIndexes for the hash index of one method.
Result<IndexRepair> RepairHashIndex(index::IndexFolder& indexes, db::Catalog& catalog,
                                    const db::HashSpace& space) {
  IndexRepair repair{
      .name = StrCat(space.method, ".hashes"), .hashes = true, .stored = space.count};
  SLUICE_ASSIGN_OR_RETURN(std::shared_ptr<index::HashIndex> index,
                          indexes.OpenHashes(space.method));
  repair.indexed = index->size();
  if (repair.indexed >= repair.stored) return repair;
  std::string after;
  for (;;) {
    SLUICE_ASSIGN_OR_RETURN(std::vector<db::HashRow> rows,
                            catalog.ListHashes(space.method, after, kPage));
    std::vector<index::VectorId> ids;
    std::vector<uint64_t> hashes;
    for (const db::HashRow& row : rows) {
      if (index->Contains(row.item_id)) continue;
      ids.push_back(row.item_id);
      hashes.push_back(row.hash);
    }
    SLUICE_ASSIGN_OR_RETURN(int64_t added, index->Add(ids, hashes));
    repair.added += added;
    if (static_cast<int>(rows.size()) < kPage) break;
    after = rows.back().item_sha256;
  }
  if (repair.added > 0) SLUICE_RETURN_IF_ERROR(indexes.SaveHashes(space.method));
  return repair;
}

}  // namespace

Result<std::vector<IndexRepair>> RepairIndexes(index::IndexFolder& indexes, db::Catalog& catalog) {
  SLUICE_ASSIGN_OR_RETURN(std::vector<db::EmbeddingSpace> spaces, catalog.EmbeddingSpaces());
  std::vector<IndexRepair> repairs;
  for (const db::EmbeddingSpace& space : spaces) {
    IndexRepair repair{.spec = IndexSpecOf(space), .stored = space.count};
    repair.name = index::IndexName(repair.spec);
    SLUICE_ASSIGN_OR_RETURN(std::shared_ptr<index::VectorIndex> index, indexes.Open(repair.spec));
    repair.indexed = index->Stats().count;
    if (repair.indexed < repair.stored) {
      SLUICE_RETURN_IF_ERROR(ForEachStoredPage(
          catalog, space, [&](const std::vector<db::EmbeddingRow>& rows) -> Status {
            std::vector<index::VectorId> ids;
            std::vector<float> vectors;
            for (const db::EmbeddingRow& row : rows) {
              if (static_cast<int>(row.vector.size()) == space.dimensions &&
                  !index->Contains(row.item_id)) {
                ids.push_back(row.item_id);
                vectors.insert(vectors.end(), row.vector.begin(), row.vector.end());
              }
            }
            SLUICE_ASSIGN_OR_RETURN(int64_t added, index->Add(ids, vectors));
            repair.added += added;
            return absl::OkStatus();
          }));
      if (repair.added > 0) SLUICE_RETURN_IF_ERROR(indexes.Save(repair.spec));
    }
    repairs.push_back(repair);
  }
  SLUICE_ASSIGN_OR_RETURN(std::vector<db::HashSpace> hash_spaces, catalog.HashSpaces());
  for (const db::HashSpace& space : hash_spaces) {
    SLUICE_ASSIGN_OR_RETURN(IndexRepair repair, RepairHashIndex(indexes, catalog, space));
    repairs.push_back(std::move(repair));
  }
  return repairs;
}

Result<StoredVectors> ReadStoredVectors(db::Catalog& catalog, const db::EmbeddingSpace& space,
                                        int64_t limit) {
  int64_t count = limit > 0 ? std::min(limit, space.count) : space.count;
  StoredVectors stored;
  stored.ids.reserve(static_cast<size_t>(count));
  stored.vectors.reserve(static_cast<size_t>(count) * static_cast<size_t>(space.dimensions));
  SLUICE_RETURN_IF_ERROR(ForEachStoredPage(
      catalog, space,
      [&](const std::vector<db::EmbeddingRow>& rows) {
        Append(rows, space.dimensions, stored.ids, stored.vectors);
        return absl::OkStatus();
      },
      limit));
  if (limit > 0 && static_cast<int64_t>(stored.ids.size()) > limit) {
    stored.ids.resize(static_cast<size_t>(limit));
    stored.vectors.resize(static_cast<size_t>(limit) * static_cast<size_t>(space.dimensions));
  }
  return stored;
}

Result<index::IndexStats> RebuildIndex(index::IndexFolder& indexes, db::Catalog& catalog,
                                       const db::EmbeddingSpace& space,
                                       std::optional<index::IndexKind> kind,
                                       int64_t memory_budget_bytes) {
  SLUICE_ASSIGN_OR_RETURN(StoredVectors stored, ReadStoredVectors(catalog, space));
  index::IndexKind chosen = kind.value_or(index::ChooseIndexKind(
      static_cast<int64_t>(stored.ids.size()), space.dimensions, memory_budget_bytes));
  // Too few vectors to train clusters on (a tight budget, a young collection): exact search.
  if (!kind && index::NeedsTraining(chosen) && stored.ids.size() < 1000)
    chosen = index::IndexKind::kFlat;
  index::IndexSpec spec = IndexSpecOf(space);
  SLUICE_ASSIGN_OR_RETURN(std::unique_ptr<index::VectorIndex> built,
                          indexes.Build(spec, chosen, stored.ids, stored.vectors));
  index::IndexStats stats = built->Stats();
  SLUICE_RETURN_IF_ERROR(indexes.Replace(spec, std::move(built)));
  return stats;
}

Result<IndexCheck> CheckIndex(index::IndexFolder& indexes, db::Catalog& catalog,
                              const db::EmbeddingSpace& space, int sample) {
  IndexCheck check{.spec = IndexSpecOf(space), .stored = space.count};
  SLUICE_ASSIGN_OR_RETURN(std::shared_ptr<index::VectorIndex> index, indexes.Open(check.spec));
  check.stats = index->Stats();
  SLUICE_ASSIGN_OR_RETURN(StoredVectors stored, ReadStoredVectors(catalog, space));
  for (index::VectorId id : stored.ids) check.missing += index->Contains(id) ? 0 : 1;
  if (stored.ids.empty() || sample <= 0) return check;
  // Exact search over every stored vector is the reference.
  SLUICE_ASSIGN_OR_RETURN(
      std::unique_ptr<index::VectorIndex> exact,
      indexes.Build(check.spec, index::IndexKind::kFlat, stored.ids, stored.vectors));
  size_t count = stored.ids.size();
  size_t queries = std::min(count, static_cast<size_t>(sample));
  std::vector<float> picked;
  for (size_t q = 0; q < queries; ++q) {
    size_t at = q * count / queries;  // spread over the whole collection
    auto begin = stored.vectors.begin() + static_cast<std::ptrdiff_t>(at * space.dimensions);
    picked.insert(picked.end(), begin, begin + space.dimensions);
  }
  constexpr int kTop = 10;
  SLUICE_ASSIGN_OR_RETURN(auto truth, exact->Search(picked, kTop));
  SLUICE_ASSIGN_OR_RETURN(auto found, index->Search(picked, kTop));
  check.sample = static_cast<int>(queries);
  check.recall_at_10 = index::Recall(truth, found);
  return check;
}

}  // namespace sluice::pipeline

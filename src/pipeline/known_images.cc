#include "pipeline/known_images.h"

#include <algorithm>
#include <map>

namespace sluice::pipeline {

Result<std::vector<std::vector<methods::KnownImage>>> IndexedKnownImages::Near(
    const std::string& method, std::span<const uint64_t> hashes, int max_distance, int max_hits,
    const std::string& set) const {
  std::vector<std::vector<methods::KnownImage>> answers(hashes.size());
  if (hashes.empty()) return answers;
  SLUICE_ASSIGN_OR_RETURN(std::shared_ptr<index::HashIndex> index, indexes_.OpenHashes(method));
  if (index->size() == 0) return answers;
  // Contents held only by this set (its own earlier run, its duplicates) are passed over, so
  // look deeper than asked.
  int depth = std::min<int64_t>(index->size(), static_cast<int64_t>(max_hits) * 4 + 16);
  SLUICE_ASSIGN_OR_RETURN(std::vector<std::vector<index::HashHit>> found,
                          index->Within(hashes, max_distance, std::max(depth, 1)));
  std::vector<int64_t> ids;
  for (const auto& hits : found)
    for (const index::HashHit& hit : hits) ids.push_back(hit.id);
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  if (ids.empty()) return answers;
  SLUICE_ASSIGN_OR_RETURN(std::vector<db::ItemOfContent> items, catalog_.ItemsWithContentIds(ids));
  struct Content {
    std::string sha256;
    std::vector<methods::KnownImage::Holder> elsewhere;  // items of other sets, by set then URL
  };
  std::map<int64_t, Content> by_id;
  for (db::ItemOfContent& item : items) {
    Content& content = by_id[item.item_id];
    content.sha256 = item.item.sha256;
    if (item.set != set)
      content.elsewhere.push_back({.set = std::move(item.set), .url = std::move(item.item.url)});
  }
  for (size_t q = 0; q < found.size(); ++q) {
    for (const index::HashHit& hit : found[q]) {
      auto it = by_id.find(hit.id);
      if (it == by_id.end() || it->second.elsewhere.empty()) continue;
      answers[q].push_back(
          {.sha256 = it->second.sha256, .distance = hit.distance, .items = it->second.elsewhere});
      if (static_cast<int>(answers[q].size()) == max_hits) break;
    }
  }
  return answers;
}

}  // namespace sluice::pipeline

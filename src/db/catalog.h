// Catalog: the database's view of sets and their items, in domain terms (DESIGN.md §4).
//
// An item is one URL of a set: where it ended up (sha256, store key) or why it failed. Items
// are keyed by (set, url) and recorded with idempotent upserts, so a rerun or a retried batch
// never duplicates a row, and an item recorded "ok" is never downgraded by a later failure.
//
// Calls block (disk, locks): run them on the blocking pool, never on the event loop. One
// Catalog may be used from several threads; calls are serialised inside.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace sluice::db {

enum class ItemStatus { kOk, kFailed };

struct ItemRecord {
  std::string url;
  ItemStatus status = ItemStatus::kFailed;
  // Set when kOk.
  std::string final_url;
  std::string sha256;
  int64_t size = 0;
  std::string mime;
  std::string kind;  // "image", "video", "audio"
  std::string store_key;
  // Set when kFailed: the stable cause token ("http_404") and the human explanation.
  std::string failure_cause;
  std::string failure_details;
  // HTTP requests spent on the item in its last run.
  int requests = 0;
};

struct SetTotals {
  std::string set;
  int64_t items = 0;
  int64_t ok = 0;
  int64_t failed = 0;
  // Sum of the sizes of the set's ok items.
  int64_t bytes = 0;
};

std::string_view ItemStatusName(ItemStatus status);

class Catalog {
 public:
  virtual ~Catalog() = default;

  // URLs of the set already recorded ok: a rerun skips them. Empty for an unknown set.
  virtual Result<std::vector<std::string>> CompletedUrls(std::string_view set) = 0;
  // Upserts `items` into `set` (created on first use) in one transaction: all or none.
  virtual Status RecordItems(std::string_view set, const std::vector<ItemRecord>& items) = 0;
  // Recounts the set from its items, stamps it finished and returns the totals.
  // NotFound when the set has never been recorded.
  virtual Result<SetTotals> FinishSet(std::string_view set) = 0;
  // The set's items ordered by URL. Empty for an unknown set.
  virtual Result<std::vector<ItemRecord>> ListItems(std::string_view set) = 0;
  // Every set with its totals as of its last FinishSet, by name.
  virtual Result<std::vector<SetTotals>> ListSets() = 0;
};

}  // namespace sluice::db

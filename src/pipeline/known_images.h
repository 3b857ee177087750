// KnownImages over the hash indexes of a data directory and its catalog: how set.near_duplicates
// finds the images other sets already hold ("is this creative already known?") without
// comparing every pair — one binary index search per set step, then one catalog query for the
// items that hold what was found.
//
// Blocking (index search, database query); thread-safe as IndexFolder and Catalog are.
#pragma once

#include "db/catalog.h"
#include "index/index_folder.h"
#include "methods/method.h"

namespace sluice::pipeline {

class IndexedKnownImages : public methods::KnownImages {
 public:
  IndexedKnownImages(index::IndexFolder& indexes, db::Catalog& catalog)
      : indexes_(indexes), catalog_(catalog) {}

  Result<std::vector<std::vector<methods::KnownImage>>> Near(const std::string& method,
                                                             std::span<const uint64_t> hashes,
                                                             int max_distance, int max_hits,
                                                             const std::string& set) const override;

 private:
  index::IndexFolder& indexes_;
  db::Catalog& catalog_;
};

}  // namespace sluice::pipeline

// Disjoint sets over 0..count-1 (union-find with path halving): which items a chain of pairings
// joins — images into near-duplicate groups, letters into lines of text.
//
// Not thread-safe: one owner.
#pragma once

#include <cstddef>
#include <numeric>
#include <vector>

namespace sluice {

class DisjointSets {
 public:
  explicit DisjointSets(size_t count) : parent_(count) {
    std::iota(parent_.begin(), parent_.end(), size_t{0});
  }
  // The representative of x's set: equal for two items exactly when they were joined.
  size_t Find(size_t x) {
    while (parent_[x] != x) x = parent_[x] = parent_[parent_[x]];
    return x;
  }
  void Join(size_t a, size_t b) { parent_[Find(a)] = Find(b); }

 private:
  std::vector<size_t> parent_;
};

}  // namespace sluice

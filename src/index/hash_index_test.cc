// HashIndex on its FAISS backend: near duplicates by Hamming distance, add twice, remove, save
// and load, bad input.
#include <gtest/gtest.h>

#include <fstream>
#include <random>

#include "index/faiss/faiss_hash_index.h"
#include "index/faiss/faiss_index.h"
#include "index/index_folder.h"
#include "testing/temp_dir.h"

namespace sluice::index {
namespace {

// `count` random hashes with ids 100, 101, …
std::pair<std::vector<VectorId>, std::vector<uint64_t>> RandomHashes(int count, uint32_t seed) {
  std::mt19937_64 random(seed);
  std::vector<VectorId> ids;
  std::vector<uint64_t> hashes;
  for (int i = 0; i < count; ++i) {
    ids.push_back(100 + i);
    hashes.push_back(random());
  }
  return {ids, hashes};
}

// `hash` with its lowest `bits` bits flipped.
uint64_t Flipped(uint64_t hash, int bits) {
  return hash ^ (bits >= 64 ? ~uint64_t{0} : (uint64_t{1} << bits) - 1);
}

TEST(HashIndexTest, FindsNearDuplicatesWithinTheDistanceNearestFirst) {
  auto [ids, hashes] = RandomHashes(5000, 1);
  auto index = NewFaissHashIndex();
  ASSERT_EQ(*index->Add(ids, hashes), 5000);
  EXPECT_EQ(index->size(), 5000);
  // Copies of hash 7 at 0, 3 and 9 bits, and queries for each.
  std::vector<VectorId> near_ids = {1, 2, 3};
  std::vector<uint64_t> near = {hashes[7], Flipped(hashes[7], 3), Flipped(hashes[7], 9)};
  ASSERT_EQ(*index->Add(near_ids, near), 3);
  Result<std::vector<std::vector<HashHit>>> found =
      index->Within(std::vector<uint64_t>{hashes[7]}, 10, 20);
  ASSERT_TRUE(found.ok()) << found.status();
  ASSERT_EQ((*found)[0].size(), 4u) << "the original and its three copies, nothing random";
  EXPECT_EQ((*found)[0][0].distance, 0);
  EXPECT_EQ((*found)[0][2].distance, 3);
  EXPECT_EQ((*found)[0][3].id, 3);
  EXPECT_EQ((*found)[0][3].distance, 9);
  // A tighter distance keeps the closer ones; max_hits caps the list.
  EXPECT_EQ((*index->Within(std::vector<uint64_t>{hashes[7]}, 5, 20))[0].size(), 3u);
  EXPECT_EQ((*index->Within(std::vector<uint64_t>{hashes[7]}, 10, 2))[0].size(), 2u);
  // Random 64-bit hashes are ~32 bits apart: a stranger finds nothing within 10.
  EXPECT_TRUE((*index->Within(std::vector<uint64_t>{0x0123456789abcdefULL}, 10, 20))[0].empty());
}

TEST(HashIndexTest, AddingTwiceChangesNothingAndRemovedHashesAreGone) {
  auto [ids, hashes] = RandomHashes(300, 2);
  auto index = NewFaissHashIndex();
  ASSERT_EQ(*index->Add(ids, hashes), 300);
  EXPECT_EQ(*index->Add(ids, hashes), 0);
  EXPECT_EQ(index->size(), 300);
  std::vector<VectorId> gone = {ids[0], ids[1], 7};
  EXPECT_EQ(*index->Remove(gone), 2);
  EXPECT_FALSE(index->Contains(ids[0]));
  EXPECT_TRUE(index->Contains(ids[2]));
  auto found = index->Within(std::vector<uint64_t>{hashes[0], hashes[2]}, 0, 5);
  ASSERT_TRUE(found.ok());
  EXPECT_TRUE((*found)[0].empty());
  ASSERT_EQ((*found)[1].size(), 1u);
  EXPECT_EQ((*found)[1][0].id, ids[2]);
}

TEST(HashIndexTest, SavedAndLoadedItAnswersTheSame) {
  auto [ids, hashes] = RandomHashes(1000, 3);
  auto index = NewFaissHashIndex();
  ASSERT_TRUE(index->Add(ids, hashes).ok());
  sluice::testing::TempDir dir;
  std::filesystem::path file = dir.path() / "index" / "image.phash.faissb";
  ASSERT_TRUE(index->Save(file).ok());
  Result<std::unique_ptr<HashIndex>> loaded = LoadFaissHashIndex(file);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ((*loaded)->size(), 1000);
  auto found = (*loaded)->Within(std::vector<uint64_t>{Flipped(hashes[42], 4)}, 6, 3);
  ASSERT_TRUE(found.ok());
  ASSERT_EQ((*found)[0].size(), 1u);
  EXPECT_EQ((*found)[0][0].id, ids[42]);
  EXPECT_EQ((*found)[0][0].distance, 4);
  EXPECT_EQ(LoadFaissHashIndex(dir.path() / "missing").status().code(),
            absl::StatusCode::kNotFound);
  std::ofstream(dir.path() / "garbage") << "not an index";
  EXPECT_EQ(CauseOf(LoadFaissHashIndex(dir.path() / "garbage").status()), "bad_index");
}

TEST(HashIndexTest, BadInputIsRefused) {
  auto index = NewFaissHashIndex();
  std::vector<VectorId> two = {1, 2};
  std::vector<uint64_t> one = {5};
  EXPECT_EQ(CauseOf(index->Add(two, one).status()), "bad_vectors");
  std::vector<VectorId> same = {3, 3};
  std::vector<uint64_t> pair = {5, 6};
  EXPECT_EQ(CauseOf(index->Add(same, pair).status()), "bad_vectors");
  EXPECT_EQ(index->size(), 0);
  EXPECT_EQ(CauseOf(index->Within(one, 65, 3).status()), "bad_vectors");
  EXPECT_EQ(CauseOf(index->Within(one, 3, 0).status()), "bad_vectors");
  auto empty = index->Within(one, 3, 3);
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE((*empty)[0].empty());
}

TEST(HashIndexTest, AFolderKeepsOneHashIndexPerMethod) {
  sluice::testing::TempDir dir;
  auto [ids, hashes] = RandomHashes(10, 4);
  {
    IndexFolder folder(dir.path() / "index", FaissBackend());
    EXPECT_EQ(folder.SaveHashes("image.phash").code(), absl::StatusCode::kNotFound)
        << "not open yet";
    Result<std::shared_ptr<HashIndex>> index = folder.OpenHashes("image.phash");
    ASSERT_TRUE(index.ok()) << index.status();
    EXPECT_EQ((*index)->size(), 0) << "none yet: a new one";
    ASSERT_TRUE((*index)->Add(ids, hashes).ok());
    EXPECT_EQ(folder.OpenHashes("image.phash")->get(), index->get()) << "the open one";
    ASSERT_TRUE(folder.SaveHashes("image.phash").ok());
    EXPECT_EQ(folder.HashesFileOf("image.phash"),
              dir.path() / "index" / "image.phash.hashes.faiss");
    EXPECT_EQ((*folder.OpenHashes("other.hash"))->size(), 0);
  }
  IndexFolder reopened(dir.path() / "index", FaissBackend());
  EXPECT_EQ((*reopened.OpenHashes("image.phash"))->size(), 10);
  std::ofstream(reopened.HashesFileOf("broken")) << "not an index";
  EXPECT_EQ(CauseOf(reopened.OpenHashes("broken").status()), "bad_index");
}

}  // namespace
}  // namespace sluice::index

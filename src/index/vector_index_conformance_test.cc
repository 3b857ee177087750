// What every VectorIndex must do, run against each kind of the FAISS backend (flat, HNSW,
// IVF-PQ), and the interface's own helpers.
#include <gtest/gtest.h>

#include <fstream>
#include <random>
#include <set>

#include "common/sha256.h"
#include "index/faiss/faiss_index.h"
#include "index/vector_index.h"
#include "testing/temp_dir.h"

namespace sluice::index {
namespace {

TEST(VectorIndexTest, IdsComeFromTheSha256AndAreStable) {
  std::string sha = Sha256::HexOf("a creative");
  Result<VectorId> id = IdFromSha256(sha);
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_GE(*id, 0);
  EXPECT_EQ(*id, *IdFromSha256(sha));
  EXPECT_NE(*id, *IdFromSha256(Sha256::HexOf("another creative")));
  // The first 63 bits: "ff…" gives the largest id.
  EXPECT_EQ(*IdFromSha256(std::string(64, 'f')), std::numeric_limits<int64_t>::max());
  EXPECT_EQ(IdFromSha256("abc").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(IdFromSha256(std::string(63, '0') + "g").status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(VectorIndexTest, NamesAndKinds) {
  EXPECT_EQ(IndexName({.method = "image.embedding", .model = "org/model:v2", .dimension = 1280}),
            "image.embedding@org_model_v2@1280");
  int64_t gib = int64_t{1} << 30;
  EXPECT_EQ(ChooseIndexKind(50'000, 512, gib), IndexKind::kFlat);
  EXPECT_EQ(ChooseIndexKind(1'000'000, 512, 4 * gib), IndexKind::kHnsw);
  EXPECT_EQ(ChooseIndexKind(1'000'000, 512, gib), IndexKind::kIvfSq) << "a quarter fits";
  EXPECT_EQ(ChooseIndexKind(100'000'000, 512, 4 * gib), IndexKind::kIvfPq);
  EXPECT_EQ(ChooseIndexKind(50'000, 512, 1 << 20), IndexKind::kIvfPq) << "over the budget";
  EXPECT_EQ(IndexKindNamed("ivfsq"), IndexKind::kIvfSq);
  EXPECT_EQ(IndexKindNamed("lsh"), std::nullopt);
}

// `count` vectors of `dimension` around `clusters` centres (drawn from `seed`; the noise from
// `noise_seed`, default the same), and their ids 1000, 1001, …
struct Clustered {
  std::vector<VectorId> ids;
  std::vector<float> vectors;
};
Clustered MakeClustered(int count, int dimension, int clusters, uint32_t seed,
                        uint32_t noise_seed = 0) {
  std::mt19937 random(seed);
  std::normal_distribution<float> normal(0, 1);
  std::vector<float> centres(static_cast<size_t>(clusters * dimension));
  for (float& c : centres) c = normal(random);
  if (noise_seed) random.seed(noise_seed);
  Clustered out;
  for (int i = 0; i < count; ++i) {
    out.ids.push_back(1000 + i);
    const float* centre = centres.data() + (i % clusters) * dimension;
    for (int j = 0; j < dimension; ++j) out.vectors.push_back(centre[j] + 0.25f * normal(random));
  }
  return out;
}

std::span<const float> VectorOf(const Clustered& set, size_t i, int dimension) {
  return std::span<const float>(set.vectors)
      .subspan(i * static_cast<size_t>(dimension), static_cast<size_t>(dimension));
}

class VectorIndexConformance : public ::testing::TestWithParam<IndexKind> {
 protected:
  static constexpr int kDimension = 32;
  IndexSpec spec_{.method = "image.embedding", .model = "test", .dimension = kDimension};

  std::unique_ptr<VectorIndex> Build(const Clustered& set) {
    Result<std::unique_ptr<VectorIndex>> index =
        BuildFaissIndex(spec_, GetParam(), set.ids, set.vectors);
    EXPECT_TRUE(index.ok()) << index.status();
    return index.ok() ? std::move(*index) : nullptr;
  }
  bool exact() const { return !NeedsTraining(GetParam()); }
  sluice::testing::TempDir dir_;
};

TEST_P(VectorIndexConformance, FindsEachVectorFirstAndCountsThem) {
  Clustered set = MakeClustered(2000, kDimension, 40, 1);
  auto index = Build(set);
  ASSERT_TRUE(index);
  IndexStats stats = index->Stats();
  EXPECT_EQ(stats.kind, GetParam());
  EXPECT_EQ(stats.count, 2000);
  EXPECT_GT(stats.bytes, 0);
  int first = 0;
  for (size_t i = 0; i < 100; ++i) {
    Result<std::vector<std::vector<Hit>>> hits = index->Search(VectorOf(set, i, kDimension), 5);
    ASSERT_TRUE(hits.ok()) << hits.status();
    ASSERT_EQ(hits->size(), 1u);
    ASSERT_EQ((*hits)[0].size(), 5u);
    EXPECT_GE((*hits)[0][0].score, (*hits)[0][4].score) << "best first";
    first += (*hits)[0][0].id == set.ids[i];
  }
  EXPECT_GE(first, exact() ? 100 : 80);
  EXPECT_TRUE(index->Contains(set.ids[5]));
  EXPECT_FALSE(index->Contains(7));
}

TEST_P(VectorIndexConformance, AddingTheSameItemsAgainChangesNothing) {
  Clustered set = MakeClustered(1200, kDimension, 20, 2);
  auto index = Build(set);
  ASSERT_TRUE(index);
  Result<int64_t> again = index->Add(set.ids, set.vectors);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(*again, 0);
  EXPECT_EQ(index->Stats().count, 1200);
  // A mix: the known ones are skipped, the new one added.
  Clustered more = MakeClustered(1, kDimension, 1, 3);
  std::vector<VectorId> ids = {set.ids[0], 99};
  std::vector<float> vectors(VectorOf(set, 0, kDimension).begin(),
                             VectorOf(set, 0, kDimension).end());
  vectors.insert(vectors.end(), more.vectors.begin(), more.vectors.end());
  EXPECT_EQ(*index->Add(ids, vectors), 1);
  EXPECT_EQ(index->Stats().count, 1201);
}

TEST_P(VectorIndexConformance, RemovedVectorsAreGoneFromSearches) {
  Clustered set = MakeClustered(1500, kDimension, 30, 4);
  auto index = Build(set);
  ASSERT_TRUE(index);
  std::vector<VectorId> gone(set.ids.begin(), set.ids.begin() + 60);
  gone.push_back(5);  // never added: ignored
  Result<int64_t> removed = index->Remove(gone);
  ASSERT_TRUE(removed.ok()) << removed.status();
  EXPECT_EQ(*removed, 60);
  EXPECT_EQ(index->Stats().count, 1440);
  std::set<VectorId> absent(gone.begin(), gone.end());
  for (size_t i = 0; i < 60; ++i) {
    EXPECT_FALSE(index->Contains(set.ids[i]));
    auto hits = index->Search(VectorOf(set, i, kDimension), 10);
    ASSERT_TRUE(hits.ok());
    for (const Hit& hit : (*hits)[0]) EXPECT_FALSE(absent.count(hit.id)) << hit.id;
  }
  // The rest are still found, by their own vectors.
  auto kept = index->Search(VectorOf(set, 100, kDimension), 1);
  ASSERT_TRUE(kept.ok());
  if (exact()) {
    EXPECT_EQ((*kept)[0][0].id, set.ids[100]);
  }
}

TEST_P(VectorIndexConformance, SavedAndLoadedItAnswersTheSame) {
  Clustered set = MakeClustered(1500, kDimension, 30, 5);
  auto index = Build(set);
  ASSERT_TRUE(index);
  std::filesystem::path file = dir_.path() / "index" / (IndexName(spec_) + ".faiss");
  ASSERT_TRUE(index->Save(file).ok());
  EXPECT_EQ(static_cast<int64_t>(std::filesystem::file_size(file)), index->Stats().bytes);
  Result<std::unique_ptr<VectorIndex>> loaded = LoadFaissIndex(spec_, file);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ((*loaded)->Stats().kind, GetParam());
  EXPECT_EQ((*loaded)->Stats().count, 1500);
  std::vector<float> queries(set.vectors.begin(), set.vectors.begin() + 20 * kDimension);
  auto before = index->Search(queries, 5);
  auto after = (*loaded)->Search(queries, 5);
  ASSERT_TRUE(before.ok() && after.ok());
  for (size_t q = 0; q < 20; ++q) {
    ASSERT_EQ((*before)[q].size(), (*after)[q].size());
    for (size_t j = 0; j < (*before)[q].size(); ++j)
      EXPECT_EQ((*before)[q][j].id, (*after)[q][j].id);
  }
  // Vectors read back by id (normalised: cosine).
  Result<std::vector<float>> stored = (*loaded)->Vector(set.ids[3]);
  ASSERT_TRUE(stored.ok()) << stored.status();
  double norm = 0;
  for (float v : *stored) norm += double{v} * v;
  EXPECT_NEAR(norm, 1.0, exact() ? 1e-4 : 0.1);
  EXPECT_EQ((*loaded)->Vector(5).status().code(), absl::StatusCode::kNotFound);
}

TEST_P(VectorIndexConformance, BadVectorsAreRefusedAndNothingIsAdded) {
  Clustered set = MakeClustered(1100, kDimension, 10, 6);
  auto index = Build(set);
  ASSERT_TRUE(index);
  auto cause = [](const Status& s) { return std::string(CauseOf(s)); };
  std::vector<float> one(kDimension, 0.5f);
  std::vector<VectorId> two_ids = {1, 2};
  EXPECT_EQ(cause(index->Add(two_ids, one).status()), "bad_vectors") << "sizes disagree";
  std::vector<float> two(2 * kDimension, 0.5f);
  std::vector<VectorId> same = {3, 3};
  EXPECT_EQ(cause(index->Add(same, two).status()), "bad_vectors") << "an id twice";
  std::vector<float> nan = one;
  nan[4] = std::numeric_limits<float>::quiet_NaN();
  std::vector<VectorId> single = {4};
  EXPECT_EQ(cause(index->Add(single, nan).status()), "bad_vectors");
  std::vector<float> zero(kDimension, 0.0f);
  EXPECT_EQ(cause(index->Add(single, zero).status()), "bad_vectors") << "no direction";
  EXPECT_EQ(index->Stats().count, 1100);
  EXPECT_EQ(cause(index->Search(one, 0).status()), "bad_vectors");
  std::vector<float> partial(kDimension + 1, 0.5f);
  EXPECT_EQ(cause(index->Search(partial, 3).status()), "bad_vectors");
}

INSTANTIATE_TEST_SUITE_P(Kinds, VectorIndexConformance,
                         ::testing::Values(IndexKind::kFlat, IndexKind::kHnsw, IndexKind::kIvfSq,
                                           IndexKind::kIvfPq),
                         [](const auto& info) { return std::string(IndexKindName(info.param)); });

TEST(FaissIndexTest, EmptyIndexesAndLoadingErrors) {
  IndexSpec spec{.method = "m", .model = "x", .dimension = 8};
  Result<std::unique_ptr<VectorIndex>> flat = NewFaissIndex(spec, IndexKind::kFlat);
  ASSERT_TRUE(flat.ok());
  auto none = (*flat)->Search(std::vector<float>(8, 1.0f), 3);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE((*none)[0].empty()) << "nothing to find yet";
  EXPECT_EQ(CauseOf(NewFaissIndex(spec, IndexKind::kIvfPq).status()), "needs_training");
  EXPECT_EQ(NewFaissIndex({.dimension = 0}, IndexKind::kFlat).status().code(),
            absl::StatusCode::kInvalidArgument);
  sluice::testing::TempDir dir;
  EXPECT_EQ(LoadFaissIndex(spec, dir.path() / "missing.faiss").status().code(),
            absl::StatusCode::kNotFound);
  std::ofstream(dir.path() / "garbage.faiss") << "not an index";
  EXPECT_EQ(CauseOf(LoadFaissIndex(spec, dir.path() / "garbage.faiss").status()), "bad_index");
  ASSERT_TRUE((*flat)->Save(dir.path() / "eight.faiss").ok());
  IndexSpec wider = spec;
  wider.dimension = 16;
  EXPECT_EQ(CauseOf(LoadFaissIndex(wider, dir.path() / "eight.faiss").status()), "bad_index");
}

// Recall@10 of the approximate kinds against exact search on a clustered set.
TEST(FaissIndexTest, ApproximateKindsKeepTheirRecall) {
  const int d = 32;
  Clustered set = MakeClustered(5000, d, 100, 7);
  IndexSpec spec{.method = "m", .model = "x", .dimension = d};
  auto exact = BuildFaissIndex(spec, IndexKind::kFlat, set.ids, set.vectors);
  ASSERT_TRUE(exact.ok());
  Clustered queries = MakeClustered(200, d, 100, 7, 8);  // the same centres, other noise
  auto truth = (*exact)->Search(queries.vectors, 10);
  ASSERT_TRUE(truth.ok());
  for (auto [kind, floor] :
       {std::pair{IndexKind::kHnsw, 0.95}, {IndexKind::kIvfSq, 0.95}, {IndexKind::kIvfPq, 0.6}}) {
    auto index = BuildFaissIndex(spec, kind, set.ids, set.vectors);
    ASSERT_TRUE(index.ok()) << index.status();
    auto found = (*index)->Search(queries.vectors, 10);
    ASSERT_TRUE(found.ok());
    double recall = Recall(*truth, *found);
    std::printf("%s recall@10 %.3f\n", std::string(IndexKindName(kind)).c_str(), recall);
    EXPECT_GE(recall, floor) << IndexKindName(kind);
  }
}

}  // namespace
}  // namespace sluice::index

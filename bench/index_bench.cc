// Similarity search at scale (bench/index_bench.sh): COUNT clustered vectors of DIM floats
// (L2-normalised, cosine), one index of KIND built from them; reports build time, index memory
// against the raw vectors, recall@10 against exact search (a flat index over the same vectors,
// measured in the same run) and queries per second one at a time and in batches of 100.
//
// Usage: index_bench [COUNT] [DIM] [KIND] [PROBES]   (default 1000000 512 ivfsq 16)
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "index/faiss/faiss_index.h"
#include "index/vector_index.h"

namespace {

using sluice::index::IndexKind;
using sluice::index::VectorId;
using Clock = std::chrono::steady_clock;

double Since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// `count` vectors around `clusters` centres, normalised; the noise drawn from `noise_seed`.
std::vector<float> Clustered(int64_t count, int dim, int clusters, uint32_t noise_seed) {
  std::mt19937 centres_random(7);
  std::normal_distribution<float> normal(0, 1);
  std::vector<float> centres(static_cast<size_t>(clusters) * dim);
  for (float& x : centres) x = normal(centres_random);
  std::mt19937 random(noise_seed);
  std::uniform_int_distribution<int> pick(0, clusters - 1);
  std::vector<float> out(static_cast<size_t>(count) * dim);
  for (int64_t i = 0; i < count; ++i) {
    const float* centre = &centres[static_cast<size_t>(pick(random)) * dim];
    float* v = &out[static_cast<size_t>(i) * dim];
    double norm = 0;
    for (int j = 0; j < dim; ++j) {
      v[j] = centre[j] + 0.35f * normal(random);
      norm += static_cast<double>(v[j]) * v[j];
    }
    auto scale = static_cast<float>(1.0 / std::sqrt(norm));
    for (int j = 0; j < dim; ++j) v[j] *= scale;
  }
  return out;
}

template <class T>
T Check(sluice::Result<T> result, const char* what) {
  if (!result.ok()) {
    std::fprintf(stderr, "index_bench: %s: %s\n", what,
                 std::string(result.status().message()).c_str());
    std::exit(1);
  }
  return *std::move(result);
}

}  // namespace

int main(int argc, char** argv) {
  int64_t count = argc > 1 ? std::atoll(argv[1]) : 1'000'000;
  int dim = argc > 2 ? std::atoi(argv[2]) : 512;
  std::string kind_name = argc > 3 ? argv[3] : "ivfsq";
  int probes = argc > 4 ? std::atoi(argv[4]) : 16;
  std::optional<IndexKind> kind = sluice::index::IndexKindNamed(kind_name);
  if (!kind || count < 1000 || dim < 1) {
    std::fprintf(stderr,
                 "usage: index_bench [COUNT>=1000] [DIM] [flat|hnsw|ivfsq|ivfpq] [PROBES]\n");
    return 2;
  }
  const int clusters = 1000, k = 10;
  std::vector<float> vectors = Clustered(count, dim, clusters, 11);
  std::vector<VectorId> ids(static_cast<size_t>(count));
  for (int64_t i = 0; i < count; ++i) ids[static_cast<size_t>(i)] = 1000 + i;
  sluice::index::IndexSpec spec{.method = "bench", .model = "clustered", .dimension = dim};
  sluice::index::FaissIndexOptions options{.ivf_probes = probes};

  Clock::time_point start = Clock::now();
  auto index = Check(sluice::index::BuildFaissIndex(spec, *kind, ids, vectors, options), "build");
  double build_seconds = Since(start);
  sluice::index::IndexStats stats = index->Stats();
  auto exact = Check(sluice::index::BuildFaissIndex(spec, IndexKind::kFlat, ids, vectors), "exact");
  vectors.clear();
  vectors.shrink_to_fit();

  // Queries from the same centres with other noise.
  const int queries = 1000, recall_queries = 200, batch = 100;
  std::vector<float> asked = Clustered(queries, dim, clusters, 12);
  std::span<const float> recall_set(asked.data(), static_cast<size_t>(recall_queries) * dim);
  double recall = sluice::index::Recall(Check(exact->Search(recall_set, k), "exact search"),
                                        Check(index->Search(recall_set, k), "search"));

  start = Clock::now();
  for (int q = 0; q < queries; ++q)
    Check(index->Search(std::span<const float>(asked.data() + static_cast<size_t>(q) * dim,
                                               static_cast<size_t>(dim)),
                        k),
          "single search");
  double single_qps = queries / Since(start);
  start = Clock::now();
  for (int q = 0; q < queries; q += batch)
    Check(index->Search(std::span<const float>(asked.data() + static_cast<size_t>(q) * dim,
                                               static_cast<size_t>(batch) * dim),
                        k),
          "batched search");
  double batched_qps = queries / Since(start);

  double raw = static_cast<double>(count) * dim * sizeof(float);
  std::printf(
      "{\"count\":%lld,\"dim\":%d,\"kind\":\"%s\",\"probes\":%d,\"build_s\":%.1f,"
      "\"index_mb\":%.0f,\"raw_mb\":%.0f,\"memory_ratio\":%.3f,\"recall_at_10\":%.3f,"
      "\"single_qps\":%.0f,\"batched_qps\":%.0f}\n",
      static_cast<long long>(count), dim, kind_name.c_str(), probes, build_seconds,
      static_cast<double>(stats.bytes) / 1e6, raw / 1e6, static_cast<double>(stats.bytes) / raw,
      recall, single_qps, batched_qps);
  return 0;
}

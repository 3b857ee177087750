// Backfill: the bulk path for images already staged in a store (the catalogue team's hundreds of
// millions), apart from the per-set runner. Three steps, each rerunnable:
//
//   plan  the manifest (one object key per line) is cut into shard manifests beside it:
//           <manifest>.backfill/plan.json, shard-00000.txt, shard-00001.txt, …
//   run   one shard (any machine, any order, many at once): each image is read straight from
//         the store (a bounded number in flight), the methods run on it, and every
//         `chunk_size` images become one chunk of outputs, written back to the store:
//           <manifest>.backfill/out/shard-00007/chunk-00003.jsonl   one row per manifest line
//           <manifest>.backfill/out/shard-00007/chunk-00003.<method>.npy   float32 [rows, dim]
//           <manifest>.backfill/out/shard-00007/chunk-00003.json    its checksums, written last
//         then _MANIFEST.json (every chunk and checksum) and, last of all, _SUCCESS. A finished
//         shard is not run again; a killed one resumes after its last whole chunk.
//   load  every finished shard becomes a set of the database (items, step results, embeddings:
//         one transaction each, idempotent) and its vectors go into the indexes — read chunk by
//         chunk from the .npy files; an index too large for memory is trained on a sample first.
//
// A JSONL row: {"image_id": LINE, "key": KEY, "sha256": …, "size": …, "results": {method:
// output without its vector}, "failures": {method: {cause, details}}, "vectors": {method: ROW}}
// or, for an image that could not be read, {"image_id", "key", "error": {cause, details}}.
//
// Event-loop only.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"
#include "db/catalog.h"
#include "index/index_folder.h"
#include "methods/registry.h"
#include "runtime/runtime.h"
#include "storage/blob_store.h"

namespace sluice::pipeline {

struct BackfillPlan {
  std::string manifest;  // the manifest's key
  int64_t lines = 0;     // object lines (blank lines and # comments are not counted)
  int64_t shard_size = 0;
  int64_t shards = 0;
};

// The folder of a manifest's plan and outputs: "<manifest>.backfill".
std::string BackfillFolder(std::string_view manifest);

// Reads the manifest `manifest` (a key of `store`) and writes the plan and its shard manifests.
// Idempotent: the same manifest and shard size give the same files. InvalidArgument for a shard
// size below 1; NotFound for a missing manifest; the store's errors.
boost::asio::awaitable<Result<BackfillPlan>> PlanBackfill(storage::BlobStore& store,
                                                          std::string manifest, int64_t shard_size);

// The plan written by PlanBackfill. NotFound (cause "no_plan") when there is none.
boost::asio::awaitable<Result<BackfillPlan>> ReadBackfillPlan(storage::BlobStore& store,
                                                              std::string manifest);

struct BackfillRunOptions {
  std::vector<std::string> methods;   // item methods, run in this order (default params)
  int64_t chunk_size = 1000;          // images per output chunk
  size_t in_flight = 0;               // images read and analysed at once; 0: 2 per core
  std::filesystem::path scratch_dir;  // where objects not kept on this machine are copied
};

struct BackfillShardReport {
  int64_t shard = 0;
  bool already_done = false;   // _SUCCESS was there: nothing ran
  int64_t chunks_resumed = 0;  // whole chunks found from an earlier, interrupted run
  int64_t images = 0;          // rows written by this run
  int64_t failed = 0;          // of those, images that could not be read
  double seconds = 0;
  std::map<std::string, double> millis_by_method;  // summed over images
  double read_millis = 0;                          // reading objects, summed over images
};

// Runs shard `shard` of the plan of `manifest`. OutOfRange for a shard the plan does not have;
// InvalidArgument for an unknown method or one that takes no images; the store's errors.
// Per-image problems (a bad line, a missing object, a failed method) are rows, not errors.
boost::asio::awaitable<Result<BackfillShardReport>> RunBackfillShard(
    runtime::Runtime& runtime, const methods::Registry& registry, storage::BlobStore& store,
    std::string manifest, int64_t shard, BackfillRunOptions options);

struct BackfillLoadReport {
  int64_t shards_loaded = 0;
  int64_t shards_unfinished = 0;  // no _SUCCESS yet: left for a later load
  int64_t rows = 0;
  int64_t embeddings = 0;
  std::vector<index::IndexStats> indexes;
};

// Loads every finished shard of the plan of `manifest` into `catalog` (set "<set_prefix>-NNNNN"
// per shard) and `indexes`. Chunk checksums are checked first: DataLoss (cause
// "bad_checksum") names a chunk whose bytes differ from its record.
boost::asio::awaitable<Result<BackfillLoadReport>> LoadBackfill(
    runtime::Runtime& runtime, storage::BlobStore& store, db::Catalog& catalog,
    index::IndexFolder& indexes, std::string manifest, std::string set_prefix,
    int64_t memory_budget_bytes);

// A .npy file (NumPy format 1.0) of `rows` × `columns` little-endian float32, and back.
// ParseNpy: InvalidArgument for anything else.
std::string NpyFloat32(const std::vector<float>& values, int64_t rows, int64_t columns);
struct NpyMatrix {
  int64_t rows = 0, columns = 0;
  std::vector<float> values;
};
Result<NpyMatrix> ParseNpy(std::string_view bytes);

}  // namespace sluice::pipeline

#include "pipeline/backfill.h"

#include <boost/json/parse.hpp>
#include <chrono>
#include <cstring>
#include <map>
#include <optional>
#include <set>

#include "common/json_text.h"
#include "common/sha256.h"
#include "common/strings.h"
#include "index/vector_index.h"
#include "methods/runner.h"
#include "pipeline/index_upkeep.h"
#include "runtime/offload.h"
#include "runtime/task_group.h"

namespace sluice::pipeline {

namespace asio = boost::asio;
namespace json = boost::json;

namespace {

using Clock = std::chrono::steady_clock;

std::string Padded(int64_t number) {
  std::string digits = std::to_string(number);
  return std::string(digits.size() < 5 ? 5 - digits.size() : 0, '0') + digits;
}

std::string PlanKey(std::string_view manifest) {
  return StrCat(BackfillFolder(manifest), "/plan.json");
}
std::string ShardKey(std::string_view manifest, int64_t shard) {
  return StrCat(BackfillFolder(manifest), "/shard-", Padded(shard), ".txt");
}
std::string OutFolder(std::string_view manifest, int64_t shard) {
  return StrCat(BackfillFolder(manifest), "/out/shard-", Padded(shard), "/");
}
std::string ChunkStem(std::string_view manifest, int64_t shard, int64_t chunk) {
  return StrCat(OutFolder(manifest, shard), "chunk-", Padded(chunk));
}

// The object lines of a manifest: trimmed, without blanks and # comments.
std::vector<std::string> ManifestLines(std::string_view text) {
  std::vector<std::string> lines;
  for (std::string_view line : Split(text, "\n")) {
    std::string_view trimmed = Trim(line);
    if (trimmed.empty() || trimmed.front() == '#') continue;
    lines.emplace_back(trimmed);
  }
  return lines;
}

Result<json::object> ParseObject(const std::string& text, std::string_view what) {
  boost::system::error_code ec;
  json::value value = json::parse(text, ec);
  if (ec || !value.is_object())
    return Failure(absl::StatusCode::kDataLoss, "bad_backfill_file",
                   StrCat(what, " is not a JSON object"));
  return value.as_object();
}

int64_t IntOf(const json::object& object, std::string_view key) {
  const json::value* value = object.if_contains(key);
  return value && value->is_number() ? value->to_number<int64_t>() : 0;
}

// One image's outputs before they are written into a chunk.
struct ImageRow {
  json::object row;
  std::map<std::string, std::vector<float>> vectors;  // by embedding method
};

struct ChunkRecord {
  int64_t chunk = 0;
  int64_t first = 0;  // shard line of its first row
  int64_t rows = 0;
  json::object files;  // file name → sha256
};

json::object RecordJson(const ChunkRecord& record) {
  return {{"chunk", record.chunk},
          {"first", record.first},
          {"rows", record.rows},
          {"files", record.files}};
}

ChunkRecord RecordFromJson(const json::object& doc) {
  ChunkRecord record{
      .chunk = IntOf(doc, "chunk"), .first = IntOf(doc, "first"), .rows = IntOf(doc, "rows")};
  if (const json::value* files = doc.if_contains("files"); files && files->is_object())
    record.files = files->as_object();
  return record;
}

std::string FileName(std::string_view key) { return std::string(key.substr(key.rfind('/') + 1)); }

}  // namespace

std::string BackfillFolder(std::string_view manifest) { return StrCat(manifest, ".backfill"); }

asio::awaitable<Result<BackfillPlan>> PlanBackfill(storage::BlobStore& store, std::string manifest,
                                                   int64_t shard_size) {
  if (shard_size < 1) co_return absl::InvalidArgumentError("the shard size must be at least 1");
  SLUICE_CO_RETURN_IF_ERROR(storage::ValidateKey(manifest));
  SLUICE_CO_ASSIGN_OR_RETURN(std::string text, co_await store.Get(manifest));
  std::vector<std::string> lines = ManifestLines(text);
  BackfillPlan plan{.manifest = manifest,
                    .lines = static_cast<int64_t>(lines.size()),
                    .shard_size = shard_size,
                    .shards = (static_cast<int64_t>(lines.size()) + shard_size - 1) / shard_size};
  std::vector<storage::BlobWrite> writes;
  for (int64_t shard = 0; shard < plan.shards; ++shard) {
    std::string body;
    for (int64_t i = shard * shard_size; i < std::min(plan.lines, (shard + 1) * shard_size); ++i)
      StrAppend(body, lines[static_cast<size_t>(i)], "\n");
    writes.push_back({ShardKey(manifest, shard), std::move(body)});
  }
  json::object doc{{"manifest", manifest},
                   {"manifest_sha256", Sha256::HexOf(text)},
                   {"lines", plan.lines},
                   {"shard_size", plan.shard_size},
                   {"shards", plan.shards}};
  const storage::PutOptions replace{.overwrite = true};
  SLUICE_CO_RETURN_IF_ERROR(co_await store.PutBatch(std::move(writes), replace));
  // The plan last: a plan names shard manifests that are all there.
  SLUICE_CO_RETURN_IF_ERROR(
      (co_await store.PutBytes(PlanKey(manifest), JsonText(doc), replace)).status());
  co_return plan;
}

asio::awaitable<Result<BackfillPlan>> ReadBackfillPlan(storage::BlobStore& store,
                                                       std::string manifest) {
  Result<std::string> text = co_await store.Get(PlanKey(manifest));
  if (absl::IsNotFound(text.status()))
    co_return Failure(
        absl::StatusCode::kNotFound, "no_plan",
        StrCat("no backfill plan for ", manifest, ": run `sluice backfill plan` first"));
  if (!text.ok()) co_return text.status();
  SLUICE_CO_ASSIGN_OR_RETURN(json::object doc, ParseObject(*text, PlanKey(manifest)));
  co_return BackfillPlan{.manifest = manifest,
                         .lines = IntOf(doc, "lines"),
                         .shard_size = IntOf(doc, "shard_size"),
                         .shards = IntOf(doc, "shards")};
}

namespace {

// Reads and analyses the image of one manifest line.
asio::awaitable<ImageRow> AnalyseImage(runtime::Runtime& runtime, const methods::Registry& registry,
                                       storage::BlobStore& store, const BackfillRunOptions& options,
                                       int64_t image_id, std::string key,
                                       BackfillShardReport& report) {
  ImageRow out;
  out.row = {{"image_id", image_id}, {"key", key}};
  auto fail = [&](std::string_view cause, absl::string_view details) {
    out.row["error"] = json::object{{"cause", cause}, {"details", std::string(details)}};
    ++report.failed;
  };
  if (Status valid = storage::ValidateKey(key); !valid.ok()) {
    fail("bad_manifest_line", valid.message());
    co_return out;
  }
  Clock::time_point start = Clock::now();
  std::filesystem::path file;
  std::optional<std::filesystem::path> scratch;
  if (std::optional<std::filesystem::path> local = store.LocalPath(key)) {
    std::error_code ec;
    if (std::filesystem::exists(*local, ec)) file = *local;
  }
  if (file.empty()) {
    scratch = options.scratch_dir / StrCat("backfill-", image_id);
    Status copied = co_await storage::CopyToFile(store, runtime.blocking(), key, *scratch);
    if (!copied.ok()) {
      fail(absl::IsNotFound(copied) ? "not_found" : CauseOf(copied), copied.message());
      co_return out;
    }
    file = *scratch;
  }
  report.read_millis += std::chrono::duration<double, std::milli>(Clock::now() - start).count();
  methods::MethodRunner runner(registry, runtime, nullptr);
  Result<std::vector<methods::StepResult>> steps = co_await runner.RunMany(options.methods, file);
  if (scratch) {
    std::error_code ec;
    std::filesystem::remove(*scratch, ec);
  }
  if (!steps.ok()) {
    fail(absl::IsNotFound(steps.status()) ? "not_found" : CauseOf(steps.status()),
         steps.status().message());
    co_return out;
  }
  json::object results, failures, steps_done;
  for (methods::StepResult& step : *steps) {
    steps_done[step.method] = json::array{step.version, step.step_key};
    report.millis_by_method[step.method] += step.millis;
    if (!step.status.ok()) {
      failures[step.method] = json::object{{"cause", CauseOf(step.status)},
                                           {"details", std::string(step.status.message())}};
      continue;
    }
    if (std::optional<methods::Embedding> embedding = methods::EmbeddingOf(step.output)) {
      out.vectors[step.method] = std::move(embedding->vector);
      step.output.as_object().erase("vector");
    }
    results[step.method] = std::move(step.output);
  }
  const methods::ItemContext& item = runner.item();
  out.row["sha256"] = item.sha256;
  out.row["size"] = item.size;
  out.row["mime"] = item.mime;
  out.row["steps"] = std::move(steps_done);
  out.row["results"] = std::move(results);
  if (!failures.empty()) out.row["failures"] = std::move(failures);
  co_return out;
}

}  // namespace

asio::awaitable<Result<BackfillShardReport>> RunBackfillShard(runtime::Runtime& runtime,
                                                              const methods::Registry& registry,
                                                              storage::BlobStore& store,
                                                              std::string manifest, int64_t shard,
                                                              BackfillRunOptions options) {
  Clock::time_point start = Clock::now();
  BackfillShardReport report{.shard = shard};
  if (options.methods.empty()) co_return absl::InvalidArgumentError("no methods to run");
  for (const std::string& name : options.methods) {
    SLUICE_CO_ASSIGN_OR_RETURN(const methods::MethodBase* method, registry.Get(name));
    if (!methods::Accepts(method->spec(), MediaKind::kImage))
      co_return absl::InvalidArgumentError(StrCat(name, " takes no images"));
  }
  if (options.chunk_size < 1)
    co_return absl::InvalidArgumentError("the chunk size must be at least 1");
  SLUICE_CO_ASSIGN_OR_RETURN(BackfillPlan plan, co_await ReadBackfillPlan(store, manifest));
  if (shard < 0 || shard >= plan.shards)
    co_return absl::OutOfRangeError(
        StrCat("shard ", shard, " is not in the plan (shards 0 to ", plan.shards - 1, ")"));
  std::string out = OutFolder(manifest, shard);
  if ((co_await store.Stat(out + "_SUCCESS")).ok()) {
    report.already_done = true;
    co_return report;
  }
  SLUICE_CO_ASSIGN_OR_RETURN(std::string text, co_await store.Get(ShardKey(manifest, shard)));
  std::vector<std::string> lines = ManifestLines(text);

  // Whole chunks of an earlier run, in order from the first: the shard resumes after them.
  std::vector<ChunkRecord> records;
  SLUICE_CO_ASSIGN_OR_RETURN(std::vector<storage::BlobInfo> listed,
                             co_await store.List(out + "chunk-"));
  std::map<int64_t, ChunkRecord> found;
  for (const storage::BlobInfo& info : listed) {
    if (!info.key.ends_with(".json")) continue;
    SLUICE_CO_ASSIGN_OR_RETURN(std::string record_text, co_await store.Get(info.key));
    SLUICE_CO_ASSIGN_OR_RETURN(json::object doc, ParseObject(record_text, info.key));
    ChunkRecord record = RecordFromJson(doc);
    found[record.chunk] = record;
  }
  int64_t next_line = 0;
  for (const auto& [chunk, record] : found) {
    if (chunk != static_cast<int64_t>(records.size()) || record.first != next_line) break;
    records.push_back(record);
    next_line += record.rows;
  }
  report.chunks_resumed = static_cast<int64_t>(records.size());

  if (options.in_flight == 0) options.in_flight = 2 * std::max<size_t>(1, runtime.cpu_threads());
  std::error_code ec;
  std::filesystem::create_directories(options.scratch_dir, ec);
  const storage::PutOptions replace{.overwrite = true};
  int64_t total = static_cast<int64_t>(lines.size());
  while (next_line < total) {
    int64_t first = next_line, count = std::min(options.chunk_size, total - first);
    std::vector<ImageRow> rows(static_cast<size_t>(count));
    {
      // A bounded number of images in flight: each holds its bytes and decoded pixels.
      runtime::TaskGroup group(co_await asio::this_coro::executor);
      size_t next = 0;
      auto worker = [&]() -> asio::awaitable<void> {
        while (next < rows.size()) {
          size_t i = next++;
          int64_t image_id = shard * plan.shard_size + first + static_cast<int64_t>(i);
          rows[i] = co_await AnalyseImage(runtime, registry, store, options, image_id,
                                          lines[static_cast<size_t>(first) + i], report);
        }
      };
      for (size_t w = 0; w < std::min(options.in_flight, rows.size()); ++w) group.Spawn(worker());
      co_await group.Wait();
    }
    // The chunk's files, then its record: a record names files that are all there.
    ChunkRecord record{
        .chunk = static_cast<int64_t>(records.size()), .first = first, .rows = count};
    std::string stem = ChunkStem(manifest, shard, record.chunk);
    std::map<std::string, std::pair<std::vector<float>, int64_t>> matrices;  // method → values, dim
    std::string jsonl;
    for (ImageRow& image : rows) {
      json::object vectors;
      for (auto& [method, vector] : image.vectors) {
        auto& [values, dimension] = matrices[method];
        if (dimension == 0) dimension = static_cast<int64_t>(vector.size());
        if (dimension != static_cast<int64_t>(vector.size())) continue;  // cannot share a matrix
        vectors[method] = static_cast<int64_t>(values.size()) / dimension;
        values.insert(values.end(), vector.begin(), vector.end());
      }
      if (!vectors.empty()) image.row["vectors"] = std::move(vectors);
      StrAppend(jsonl, JsonText(image.row), "\n");
    }
    std::vector<storage::BlobWrite> writes;
    for (auto& [method, matrix] : matrices) {
      int64_t dimension = matrix.second;
      std::string npy = NpyFloat32(
          matrix.first, static_cast<int64_t>(matrix.first.size()) / dimension, dimension);
      std::string key = StrCat(stem, ".", method, ".npy");
      record.files[FileName(key)] = Sha256::HexOf(npy);
      writes.push_back({key, std::move(npy)});
    }
    record.files[FileName(stem + ".jsonl")] = Sha256::HexOf(jsonl);
    writes.push_back({stem + ".jsonl", std::move(jsonl)});
    SLUICE_CO_RETURN_IF_ERROR(co_await store.PutBatch(std::move(writes), replace));
    SLUICE_CO_RETURN_IF_ERROR(
        (co_await store.PutBytes(stem + ".json", JsonText(RecordJson(record)), replace)).status());
    records.push_back(record);
    report.images += count;
    next_line += count;
  }
  json::array chunks;
  for (const ChunkRecord& record : records) chunks.push_back(RecordJson(record));
  json::object shard_manifest{{"shard", shard}, {"rows", total}, {"chunks", std::move(chunks)}};
  SLUICE_CO_RETURN_IF_ERROR(
      (co_await store.PutBytes(out + "_MANIFEST.json", JsonText(shard_manifest), replace))
          .status());
  SLUICE_CO_RETURN_IF_ERROR((co_await store.PutBytes(out + "_SUCCESS", "", replace)).status());
  report.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  co_return report;
}

std::string NpyFloat32(const std::vector<float>& values, int64_t rows, int64_t columns) {
  std::string header =
      StrCat("{'descr': '<f4', 'fortran_order': False, 'shape': (", rows, ", ", columns, "), }");
  // Magic (6) + version (2) + header length (2) + header, padded with spaces to a multiple of
  // 64 and ended by a newline.
  size_t unpadded = 10 + header.size() + 1;
  header.append((64 - unpadded % 64) % 64, ' ');
  header.push_back('\n');
  std::string out("\x93NUMPY\x01\x00", 8);
  out.push_back(static_cast<char>(header.size() & 0xff));
  out.push_back(static_cast<char>(header.size() >> 8));
  out += header;
  out.append(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(float));
  return out;
}

Result<NpyMatrix> ParseNpy(std::string_view bytes) {
  auto bad = [](std::string_view why) {
    return absl::InvalidArgumentError(StrCat("not a float32 .npy matrix: ", why));
  };
  if (bytes.size() < 10 || bytes.substr(0, 6) != std::string_view("\x93NUMPY", 6))
    return bad("no NumPy magic");
  if (bytes[6] != 1) return bad("only format version 1.0 is read");
  size_t header_size = static_cast<unsigned char>(bytes[8]) |
                       (static_cast<size_t>(static_cast<unsigned char>(bytes[9])) << 8);
  if (bytes.size() < 10 + header_size) return bad("the header is cut short");
  std::string_view header = bytes.substr(10, header_size);
  if (header.find("'descr': '<f4'") == std::string_view::npos)
    return bad("not little-endian float32");
  if (header.find("'fortran_order': False") == std::string_view::npos) return bad("Fortran order");
  size_t open = header.find("'shape': (");
  size_t close = open == std::string_view::npos ? open : header.find(')', open);
  if (close == std::string_view::npos) return bad("no shape");
  std::vector<int64_t> shape;
  for (std::string_view part : Split(header.substr(open + 10, close - open - 10), ",")) {
    if (Trim(part).empty()) continue;  // "(5,)" ends in a comma
    int64_t extent = 0;
    if (!ParseInt(Trim(part), extent) || extent < 0) return bad("a bad shape");
    shape.push_back(extent);
  }
  if (shape.size() != 2) return bad("not two-dimensional");
  NpyMatrix matrix{.rows = shape[0], .columns = shape[1]};
  std::string_view data = bytes.substr(10 + header_size);
  if (data.size() != static_cast<size_t>(matrix.rows * matrix.columns) * sizeof(float))
    return bad("the data does not match the shape");
  matrix.values.resize(static_cast<size_t>(matrix.rows * matrix.columns));
  std::memcpy(matrix.values.data(), data.data(), data.size());
  return matrix;
}

}  // namespace sluice::pipeline

namespace sluice::pipeline {

namespace {

// One finished shard's chunks, read and checked against their recorded checksums.
struct LoadedChunk {
  std::vector<json::object> rows;
  std::map<std::string, NpyMatrix> matrices;  // by embedding method
};

asio::awaitable<Result<std::vector<LoadedChunk>>> ReadShard(storage::BlobStore& store,
                                                            const std::string& manifest,
                                                            int64_t shard) {
  std::string out = OutFolder(manifest, shard);
  SLUICE_CO_ASSIGN_OR_RETURN(std::string text, co_await store.Get(out + "_MANIFEST.json"));
  SLUICE_CO_ASSIGN_OR_RETURN(json::object doc, ParseObject(text, out + "_MANIFEST.json"));
  std::vector<LoadedChunk> chunks;
  const json::value* records = doc.if_contains("chunks");
  if (!records || !records->is_array()) co_return chunks;
  for (const json::value& entry : records->as_array()) {
    if (!entry.is_object()) continue;
    ChunkRecord record = RecordFromJson(entry.as_object());
    LoadedChunk chunk;
    for (const auto& [name, checksum] : record.files) {
      std::string key = StrCat(out, std::string(name));
      SLUICE_CO_ASSIGN_OR_RETURN(std::string bytes, co_await store.Get(key));
      if (!checksum.is_string() || Sha256::HexOf(bytes) != checksum.as_string())
        co_return Failure(absl::StatusCode::kDataLoss, "bad_checksum",
                          StrCat(key, " differs from the checksum its chunk recorded"));
      std::string_view file(name);
      if (file.ends_with(".jsonl")) {
        for (std::string_view line : Split(bytes, "\n")) {
          if (line.empty()) continue;
          SLUICE_CO_ASSIGN_OR_RETURN(json::object row, ParseObject(std::string(line), key));
          chunk.rows.push_back(std::move(row));
        }
      } else if (file.ends_with(".npy")) {
        // chunk-00003.<method>.npy
        std::string_view method = file.substr(0, file.size() - 4);
        method.remove_prefix(method.find('.') + 1);
        SLUICE_CO_ASSIGN_OR_RETURN(NpyMatrix matrix, ParseNpy(bytes));
        chunk.matrices[std::string(method)] = std::move(matrix);
      }
    }
    chunks.push_back(std::move(chunk));
  }
  co_return chunks;
}

// The database rows of one shard's chunks.
struct ShardRows {
  std::vector<db::ItemRecord> items;
  db::AnalysisCommit commit;
};

ShardRows RowsOf(const std::vector<LoadedChunk>& chunks) {
  ShardRows out;
  for (const LoadedChunk& chunk : chunks) {
    for (const json::object& row : chunk.rows) {
      std::string key = row.contains("key") && row.at("key").is_string()
                            ? std::string(row.at("key").as_string())
                            : "";
      db::ItemRecord item{.url = key, .requests = 0};
      if (const json::value* error = row.if_contains("error"); error && error->is_object()) {
        item.status = db::ItemStatus::kFailed;
        const json::object& e = error->as_object();
        item.failure_cause = e.contains("cause") ? std::string(e.at("cause").as_string()) : "";
        item.failure_details =
            e.contains("details") ? std::string(e.at("details").as_string()) : "";
        out.items.push_back(std::move(item));
        continue;
      }
      item.status = db::ItemStatus::kOk;
      item.final_url = key;
      item.sha256 = std::string(row.at("sha256").as_string());
      item.size = IntOf(row, "size");
      item.mime = row.contains("mime") ? std::string(row.at("mime").as_string()) : "";
      item.kind = "image";
      item.store_key = key;
      out.items.push_back(item);
      const json::object empty;
      const json::object& results = row.contains("results") ? row.at("results").as_object() : empty;
      const json::object& failures =
          row.contains("failures") ? row.at("failures").as_object() : empty;
      const json::object& vectors = row.contains("vectors") ? row.at("vectors").as_object() : empty;
      if (const json::value* steps = row.if_contains("steps"); steps && steps->is_object()) {
        for (const auto& [method_name, done] : steps->as_object()) {
          std::string method(method_name);
          db::StepRow step{.url = key,
                           .method = method,
                           .version = static_cast<int>(done.at(0).to_number<int64_t>()),
                           .step_key = std::string(done.at(1).as_string())};
          if (const json::value* output = results.if_contains(method)) {
            step.ok = true;
            step.output_json = JsonText(*output);
            step.artifacts_json = "{}";
            std::optional<uint64_t> hash = methods::HashOf(*output);
            Result<index::VectorId> id = index::IdFromSha256(item.sha256);
            if (hash && id.ok())
              out.commit.hashes.push_back(
                  {.item_sha256 = item.sha256, .item_id = *id, .method = method, .hash = *hash});
          } else if (const json::value* failure = failures.if_contains(method)) {
            step.failure_cause = std::string(failure->at("cause").as_string());
            step.failure_details = std::string(failure->at("details").as_string());
          }
          out.commit.steps.push_back(std::move(step));
        }
      }
      for (const auto& [method_name, at] : vectors) {
        std::string method(method_name);
        auto matrix = chunk.matrices.find(method);
        const json::value* output = results.if_contains(method);
        Result<index::VectorId> id = index::IdFromSha256(item.sha256);
        if (matrix == chunk.matrices.end() || !output || !id.ok() || !at.is_number()) continue;
        int64_t r = at.to_number<int64_t>();
        if (r < 0 || r >= matrix->second.rows) continue;
        auto begin = matrix->second.values.begin() + r * matrix->second.columns;
        out.commit.embeddings.push_back(
            {.item_sha256 = item.sha256,
             .item_id = *id,
             .method = method,
             .model = std::string(output->at("model").as_string()),
             .vector = std::vector<float>(begin, begin + matrix->second.columns)});
      }
    }
  }
  // One content may be listed twice in a shard: its embedding is stored once.
  std::set<std::pair<std::string, std::string>> seen;
  std::erase_if(out.commit.embeddings, [&](const db::EmbeddingRow& row) {
    return !seen.emplace(row.item_sha256, row.method).second;
  });
  seen.clear();
  std::erase_if(out.commit.hashes, [&](const db::HashRow& row) {
    return !seen.emplace(row.item_sha256, row.method).second;
  });
  return out;
}

}  // namespace

asio::awaitable<Result<BackfillLoadReport>> LoadBackfill(
    runtime::Runtime& runtime, storage::BlobStore& store, db::Catalog& catalog,
    index::IndexFolder& indexes, std::string manifest, std::string set_prefix,
    int64_t memory_budget_bytes) {
  SLUICE_CO_ASSIGN_OR_RETURN(BackfillPlan plan, co_await ReadBackfillPlan(store, manifest));
  BackfillLoadReport report;
  std::vector<int64_t> finished;
  for (int64_t shard = 0; shard < plan.shards; ++shard) {
    bool done = (co_await store.Stat(OutFolder(manifest, shard) + "_SUCCESS")).ok();
    if (done) {
      finished.push_back(shard);
    } else {
      ++report.shards_unfinished;
    }
  }
  // The indexes' kinds, chosen for the whole backfill before any vector goes in.
  std::map<std::string, index::IndexSpec> specs;  // by index name
  bool rebuilt = false;
  int64_t expected = static_cast<int64_t>(finished.size()) * plan.shard_size;
  for (int64_t shard : finished) {
    SLUICE_CO_ASSIGN_OR_RETURN(std::vector<LoadedChunk> chunks,
                               co_await ReadShard(store, manifest, shard));
    ShardRows rows = RowsOf(chunks);
    chunks.clear();
    std::string set = StrCat(set_prefix, "-", Padded(shard));
    auto write = [&]() -> Status {
      SLUICE_RETURN_IF_ERROR(catalog.RecordItems(set, rows.items));
      return catalog.CommitAnalysis(set, rows.commit, std::nullopt).status();
    };
    SLUICE_CO_RETURN_IF_ERROR(co_await runtime::RunOn(runtime.blocking(), write));
    report.rows += static_cast<int64_t>(rows.items.size());
    report.embeddings += static_cast<int64_t>(rows.commit.embeddings.size());

    // This shard's vectors into their indexes. The first shard of an index decides its kind
    // from the backfill's size; a kind that needs training is trained on a sample of what the
    // database holds (this shard included, already committed).
    auto add = [&]() -> Status {
      for (const IndexBatch& batch : GroupByIndex(rows.commit.embeddings)) {
        const index::IndexSpec& spec = batch.spec;
        if (specs.emplace(index::IndexName(spec), spec).second) {
          SLUICE_ASSIGN_OR_RETURN(std::shared_ptr<index::VectorIndex> current, indexes.Open(spec));
          index::IndexKind kind = index::ChooseIndexKind(current->Stats().count + expected,
                                                         spec.dimension, memory_budget_bytes);
          if (kind != current->Stats().kind) {
            constexpr int64_t kTrainingSample = 100'000;
            SLUICE_ASSIGN_OR_RETURN(
                StoredVectors sample,
                ReadStoredVectors(
                    catalog,
                    {.method = spec.method, .model = spec.model, .dimensions = spec.dimension},
                    kTrainingSample));
            Result<std::unique_ptr<index::VectorIndex>> built =
                indexes.Build(spec, kind, sample.ids, sample.vectors);
            if (built.ok()) {
              SLUICE_RETURN_IF_ERROR(indexes.Replace(spec, *std::move(built)));
              rebuilt = true;
            } else if (CauseOf(built.status()) != "needs_training") {
              return built.status();
            }  // too few vectors to train yet: stays as it is
          }
        }
        SLUICE_ASSIGN_OR_RETURN(std::shared_ptr<index::VectorIndex> index, indexes.Open(spec));
        SLUICE_RETURN_IF_ERROR(index->Add(batch.ids, batch.vectors).status());
      }
      return AbsorbHashes(indexes, rows.commit.hashes).status();
    };
    SLUICE_CO_RETURN_IF_ERROR(co_await runtime::RunOn(runtime.cpu(), add));
    ++report.shards_loaded;
  }
  if (rebuilt) {
    // A rebuilt index got a sample of what it held before: the rest, page by page.
    auto repair = [&] { return RepairIndexes(indexes, catalog).status(); };
    SLUICE_CO_RETURN_IF_ERROR(co_await runtime::RunOn(runtime.cpu(), repair));
  }
  for (const auto& named : specs) {
    const auto& spec = named.second;  // clang 14 cannot capture a structured binding
    auto save = [&] { return indexes.Save(spec); };
    SLUICE_CO_RETURN_IF_ERROR(co_await runtime::RunOn(runtime.blocking(), save));
    SLUICE_CO_ASSIGN_OR_RETURN(std::shared_ptr<index::VectorIndex> index, indexes.Open(spec));
    report.indexes.push_back(index->Stats());
  }
  co_return report;
}

}  // namespace sluice::pipeline

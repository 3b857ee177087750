#include "cli/index_commands.h"

#include <cstdio>
#include <iostream>

#include "app/compose.h"
#include "cli/console.h"
#include "common/json_text.h"
#include "common/strings.h"
#include "pipeline/index_copies.h"
#include "pipeline/index_upkeep.h"
#include "pipeline/search.h"

namespace sluice::cli {

namespace {

struct Opened {
  std::unique_ptr<app::Process> process;
  app::DataDir data;
};

// The data directory of an earlier run (no_data: bad input), with its indexes repaired.
Result<Opened> OpenExisting(const DataConfig& where) {
  SLUICE_ASSIGN_OR_RETURN(std::unique_ptr<app::Process> process, app::Process::Create());
  SLUICE_ASSIGN_OR_RETURN(app::DataDir data,
                          app::OpenData(where.data, *process, {where.db, where.store}, where.config,
                                        /*existing=*/true));
  SLUICE_RETURN_IF_ERROR(data.OpenIndexes());
  PrintIndexRepairs(data, stderr);
  return Opened{std::move(process), std::move(data)};
}

int ExitFor(const Status& status) {
  std::string cause = CauseOf(status);
  bool bad_input = cause == "no_data" || cause == "no_embedding" || cause == "no_index" ||
                   absl::IsInvalidArgument(status) || absl::IsNotFound(status);
  return Fail(bad_input ? kExitBadInput : kExitFatal, status);
}

std::string Shorten(std::string text, size_t length) {
  for (char& c : text)
    if (c == '\n') c = ' ';
  if (text.size() > length) text = text.substr(0, length - 1) + "…";
  return text;
}

boost::json::object StatsJson(const index::IndexSpec& spec, const index::IndexStats& stats,
                              int64_t stored) {
  return {{"index", index::IndexName(spec)},
          {"method", spec.method},
          {"model", spec.model},
          {"dimensions", spec.dimension},
          {"kind", index::IndexKindName(stats.kind)},
          {"vectors", stats.count},
          {"stored", stored},
          {"bytes", stats.bytes}};
}

}  // namespace

int SearchItems(SearchConfig config) {
  if (config.like.empty() == config.text.empty())
    return Fail(kExitBadInput, absl::InvalidArgumentError(
                                   "give --like FILE|URL|SHA256 or --text \"WORDS\" (one)"));
  Result<Opened> opened = OpenExisting(config.where);
  if (!opened.ok()) return ExitFor(opened.status());
  Result<std::unique_ptr<app::MethodStack>> stack =
      app::BuildMethods(opened->process.get(), config.where.config);
  if (!stack.ok()) return Fail(kExitBadInput, stack.status());
  runtime::Runtime& rt = opened->process->runtime;
  // A URL is fetched as `sluice run` would (same guards), and its picture embedded.
  std::optional<std::filesystem::path> fetched;
  if (config.like.starts_with("http://") || config.like.starts_with("https://")) {
    config.fetch.scratch_dir = opened->data.scratch;
    Result<std::unique_ptr<http::Fetcher>> fetcher =
        http::Fetcher::Create(*opened->process->http, rt, config.fetch);
    if (!fetcher.ok()) return Fail(kExitFatal, fetcher.status());
    Result<http::FetchedFile> file = rt.Run((*fetcher)->Fetch(config.like));
    if (!file.ok()) return Fail(kExitBadInput, file.status());
    fetched = file->path;
    config.like = file->path.string();
  }
  Result<pipeline::SearchAnswer> answer =
      rt.Run(pipeline::Search(rt, (*stack)->registry, *opened->data.db, *opened->data.indexes,
                              {.like = config.like,
                               .text = config.text,
                               .k = config.k,
                               .set = config.set,
                               .method = config.method}));
  if (fetched) {
    std::error_code ec;
    std::filesystem::remove(*fetched, ec);  // the fetcher's file is ours to delete
  }
  if (!answer.ok()) return ExitFor(answer.status());
  if (config.json) {
    std::cout << JsonText(pipeline::SearchAnswerToJson(*answer)) << std::endl;
    return kExitOk;
  }
  std::printf("%zu nearest to %s in %s\n", answer->hits.size(), answer->query.c_str(),
              index::IndexName(answer->index).c_str());
  for (const pipeline::SearchHit& hit : answer->hits) {
    std::string shown;
    for (const auto& [method, result] : hit.results) {
      if (method == "media.probe" || method == "image.phash") continue;
      StrAppend(shown, shown.empty() ? "" : "  ", method, " ", JsonText(result));
    }
    std::printf("%.4f  %s\n", hit.score, hit.sha256.c_str());
    for (const db::ItemOfContent& item : hit.items)
      std::printf("        %s  %s  (%s)\n", item.set.c_str(), item.item.url.c_str(),
                  item.item.store_key.c_str());
    if (!shown.empty()) std::printf("        %s\n", Shorten(shown, 160).c_str());
  }
  return kExitOk;
}

int IndexCommand(IndexConfig config) {
  std::optional<index::IndexKind> kind;
  if (config.action == "build" && !config.kind.empty()) {
    kind = index::IndexKindNamed(config.kind);
    if (!kind)
      return Fail(kExitBadInput,
                  absl::InvalidArgumentError("--kind must be flat, hnsw, ivfsq or ivfpq"));
  }
  Result<Opened> opened = OpenExisting(config.where);
  if (!opened.ok()) return ExitFor(opened.status());
  db::Database& db = *opened->data.db;
  index::IndexFolder& indexes = *opened->data.indexes;
  Result<std::vector<db::EmbeddingSpace>> spaces = db.EmbeddingSpaces();
  if (!spaces.ok()) return Fail(kExitFatal, spaces.status());
  std::erase_if(*spaces, [&](const db::EmbeddingSpace& space) {
    return !config.method.empty() && space.method != config.method;
  });
  Result<std::vector<db::HashSpace>> hash_spaces = db.HashSpaces();
  if (!hash_spaces.ok()) return Fail(kExitFatal, hash_spaces.status());
  std::erase_if(*hash_spaces, [&](const db::HashSpace& space) {
    return !config.method.empty() && space.method != config.method;
  });
  if (spaces->empty() && hash_spaces->empty()) {
    return Fail(kExitBadInput,
                Failure(absl::StatusCode::kNotFound, "no_index",
                        StrCat("no embeddings or hashes", config.method.empty() ? "" : " by ",
                               config.method, " are stored in ", opened->data.database())));
  }
  int64_t budget = static_cast<int64_t>(config.memory_budget_mb * 1024 * 1024);
  bool failed = false;
  for (const db::EmbeddingSpace& space : *spaces) {
    index::IndexSpec spec = pipeline::IndexSpecOf(space);
    boost::json::object row;
    if (config.action == "build") {
      Result<index::IndexStats> stats = pipeline::RebuildIndex(indexes, db, space, kind, budget);
      if (!stats.ok()) return Fail(kExitFatal, stats.status());
      row = StatsJson(spec, *stats, space.count);
      row["file"] = indexes.FileOf(spec).string();
    } else if (config.action == "verify") {
      Result<pipeline::IndexCheck> check = pipeline::CheckIndex(indexes, db, space, config.sample);
      if (!check.ok()) return Fail(kExitFatal, check.status());
      row = StatsJson(spec, check->stats, space.count);
      row["missing"] = check->missing;
      row["sample"] = check->sample;
      row["recall_at_10"] = std::round(check->recall_at_10 * 1000.0) / 1000.0;
      failed = failed || check->missing > 0;
    } else {
      Result<std::shared_ptr<index::VectorIndex>> index = indexes.Open(spec);
      if (!index.ok()) return Fail(kExitFatal, index.status());
      row = StatsJson(spec, (*index)->Stats(), space.count);
      row["file"] = indexes.FileOf(spec).string();
    }
    if (config.json) {
      std::cout << JsonText(row) << "\n";
      continue;
    }
    std::printf("%s: %s, %lld vectors of %lld stored, %s", row["index"].as_string().c_str(),
                row["kind"].as_string().c_str(), static_cast<long long>(row["vectors"].as_int64()),
                static_cast<long long>(space.count),
                HumanBytes(row["bytes"].to_number<int64_t>()).c_str());
    if (config.action == "verify") {
      std::printf(", %lld missing, recall@10 %.3f against exact search on %lld queries",
                  static_cast<long long>(row["missing"].as_int64()),
                  row["recall_at_10"].to_number<double>(),
                  static_cast<long long>(row["sample"].as_int64()));
    }
    std::printf("\n");
  }
  // The hash indexes are exact (nothing to build or sample): their count against the database.
  for (const db::HashSpace& space :
       config.action == "build" ? std::vector<db::HashSpace>{} : *hash_spaces) {
    Result<std::shared_ptr<index::HashIndex>> index = indexes.OpenHashes(space.method);
    if (!index.ok()) return Fail(kExitFatal, index.status());
    std::error_code ec;
    std::filesystem::path file = indexes.HashesFileOf(space.method);
    auto bytes = static_cast<int64_t>(std::filesystem::file_size(file, ec));
    int64_t missing = std::max<int64_t>(0, space.count - (*index)->size());
    failed = failed || (config.action == "verify" && missing > 0);
    boost::json::object row{{"index", StrCat(space.method, ".hashes")},
                            {"kind", "binary"},
                            {"vectors", (*index)->size()},
                            {"stored", space.count},
                            {"missing", missing},
                            {"bytes", ec ? 0 : bytes},
                            {"file", file.string()}};
    if (config.json) {
      std::cout << JsonText(row) << "\n";
      continue;
    }
    std::printf("%s: binary (perceptual hashes, exact), %lld hashes of %lld stored, %s\n",
                row["index"].as_string().c_str(), static_cast<long long>((*index)->size()),
                static_cast<long long>(space.count), HumanBytes(row["bytes"].as_int64()).c_str());
  }
  std::cout.flush();
  storage::BlobStore* copies = opened->data.index_copies();
  if (config.action == "build" && copies) {
    Status published =
        opened->process->runtime.Run(pipeline::PublishAllIndexFiles(*copies, indexes.folder()));
    if (!published.ok()) return Fail(kExitFatal, published);
    std::fprintf(stderr, "index files copied to %s\n", opened->data.objects().c_str());
  }
  return failed ? kExitFatal : kExitOk;
}

}  // namespace sluice::cli

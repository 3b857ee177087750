#include "cli/backfill_commands.h"

#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "app/compose.h"
#include "cli/console.h"
#include "common/json_text.h"
#include "common/strings.h"
#include "pipeline/backfill.h"
#include "pipeline/index_copies.h"
#include "pipeline/set_runner.h"

namespace sluice::cli {

namespace {

// The store key of `manifest`: itself, or the part after the store's own s3:// address.
Result<std::string> ManifestKey(const std::string& manifest, const app::DataDir& data) {
  if (!manifest.starts_with("s3://")) return manifest;
  std::string store = data.objects().substr(0, data.objects().find(" at "));
  if (!manifest.starts_with(store + "/"))
    return absl::InvalidArgumentError(StrCat("the manifest ", manifest, " is not in the store (",
                                             store, "): pass --store with its bucket"));
  return manifest.substr(store.size() + 1);
}

// The shard from the flag, else from the array job's index.
Result<int64_t> ShardOf(int64_t flag) {
  if (flag >= 0) return flag;
  for (const char* variable : {"JOB_COMPLETION_INDEX", "AWS_BATCH_JOB_ARRAY_INDEX"}) {
    const char* value = std::getenv(variable);
    int64_t shard = 0;
    if (value && *value) {
      if (!ParseInt(value, shard) || shard < 0)
        return absl::InvalidArgumentError(StrCat("$", variable, " is not a shard number: ", value));
      return shard;
    }
  }
  return absl::InvalidArgumentError(
      "name the shard: --shard K, or run as an indexed job ($JOB_COMPLETION_INDEX, "
      "$AWS_BATCH_JOB_ARRAY_INDEX)");
}

// The set prefix from the manifest's file name: its letters, digits, '.', '_' and '-'.
std::string PrefixOf(const std::string& manifest) {
  std::string name = manifest.substr(manifest.rfind('/') + 1);
  name = name.substr(0, name.find('.'));
  std::string out;
  for (char c : name)
    out.push_back(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' ? c : '-');
  return out.empty() ? "backfill" : out.substr(0, 80);
}

int Exit(const Status& status) {
  bool bad_input =
      absl::IsInvalidArgument(status) || absl::IsNotFound(status) || absl::IsOutOfRange(status);
  return Fail(bad_input ? kExitBadInput : kExitFatal, status);
}

}  // namespace

int Backfill(BackfillConfig config) {
  Result<std::unique_ptr<app::Process>> process = app::Process::Create();
  if (!process.ok()) return Fail(kExitFatal, process.status());
  Result<app::DataDir> data = app::OpenData(
      config.where.data, **process, {config.where.db, config.where.store}, config.where.config);
  if (!data.ok()) return Fail(kExitFatal, data.status());
  Result<std::string> manifest = ManifestKey(config.manifest, *data);
  if (!manifest.ok()) return Exit(manifest.status());
  runtime::Runtime& rt = (*process)->runtime;

  if (config.action == "plan") {
    Result<pipeline::BackfillPlan> plan =
        rt.Run(pipeline::PlanBackfill(*data->store, *manifest, config.shard_size));
    if (!plan.ok()) return Exit(plan.status());
    std::printf("%s: %lld images in %lld shards of %lld; shard manifests in %s/\n",
                manifest->c_str(), static_cast<long long>(plan->lines),
                static_cast<long long>(plan->shards), static_cast<long long>(plan->shard_size),
                pipeline::BackfillFolder(*manifest).c_str());
    std::printf("next: sluice backfill run --manifest %s --shard K   (K = 0 … %lld)\n",
                config.manifest.c_str(), static_cast<long long>(plan->shards - 1));
    return kExitOk;
  }

  if (config.action == "run") {
    Result<int64_t> shard = ShardOf(config.shard);
    if (!shard.ok()) return Exit(shard.status());
    Result<std::unique_ptr<app::MethodStack>> stack =
        app::BuildMethods(process->get(), config.where.config);
    if (!stack.ok()) return Fail(kExitBadInput, stack.status());
    Result<pipeline::BackfillShardReport> report =
        rt.Run(pipeline::RunBackfillShard(rt, (*stack)->registry, *data->store, *manifest, *shard,
                                          {.methods = config.methods,
                                           .chunk_size = config.chunk_size,
                                           .in_flight = config.in_flight,
                                           .scratch_dir = data->scratch}));
    if (!report.ok()) return Exit(report.status());
    if (report->already_done) {
      std::printf("shard %lld: finished earlier (its _SUCCESS is there); nothing to do\n",
                  static_cast<long long>(*shard));
      return kExitOk;
    }
    boost::json::object millis;
    for (const auto& [method, total] : report->millis_by_method)
      millis[method] = report->images ? total / static_cast<double>(report->images) : 0;
    boost::json::object summary{
        {"shard", *shard},
        {"images", report->images},
        {"failed", report->failed},
        {"chunks_resumed", report->chunks_resumed},
        {"seconds", report->seconds},
        {"images_per_second", report->seconds > 0 ? report->images / report->seconds : 0},
        {"read_millis_per_image", report->images ? report->read_millis / report->images : 0},
        {"millis_per_image_by_method", millis}};
    if (config.json) {
      std::cout << JsonText(summary) << std::endl;
    } else {
      std::printf("shard %lld: %lld images (%lld could not be read) in %.1f s, %.1f images/s%s\n",
                  static_cast<long long>(*shard), static_cast<long long>(report->images),
                  static_cast<long long>(report->failed), report->seconds,
                  summary["images_per_second"].to_number<double>(),
                  report->chunks_resumed
                      ? StrCat("; resumed after ", report->chunks_resumed, " whole chunks").c_str()
                      : "");
    }
    return kExitOk;
  }

  std::string prefix = config.set_prefix.empty() ? PrefixOf(*manifest) : config.set_prefix;
  if (Status valid = pipeline::ValidateSetName(prefix + "-00000"); !valid.ok())
    return Fail(kExitBadInput, valid);
  if (Status opened = data->OpenIndexes(); !opened.ok()) return Fail(kExitFatal, opened);
  Result<pipeline::BackfillLoadReport> report =
      rt.Run(pipeline::LoadBackfill(rt, *data->store, *data->db, *data->indexes, *manifest, prefix,
                                    static_cast<int64_t>(config.memory_budget_mb * 1024 * 1024)));
  if (!report.ok()) return Exit(report.status());
  if (storage::BlobStore* copies = data->index_copies()) {
    Status published = rt.Run(pipeline::PublishAllIndexFiles(*copies, data->indexes->folder()));
    if (!published.ok()) return Exit(published);
  }
  if (config.json) {
    boost::json::array indexes;
    for (const index::IndexStats& stats : report->indexes)
      indexes.push_back({{"kind", index::IndexKindName(stats.kind)}, {"vectors", stats.count}});
    std::cout << JsonText(boost::json::object{{"shards_loaded", report->shards_loaded},
                                              {"shards_unfinished", report->shards_unfinished},
                                              {"rows", report->rows},
                                              {"embeddings", report->embeddings},
                                              {"indexes", indexes}})
              << std::endl;
    return kExitOk;
  }
  std::printf("loaded %lld shards (%lld rows, %lld embeddings) as sets %s-NNNNN into %s",
              static_cast<long long>(report->shards_loaded), static_cast<long long>(report->rows),
              static_cast<long long>(report->embeddings), prefix.c_str(), data->database().c_str());
  if (report->shards_unfinished)
    std::printf("; %lld shards not finished yet",
                static_cast<long long>(report->shards_unfinished));
  std::printf("\n");
  for (const index::IndexStats& stats : report->indexes)
    std::printf("index: %s, %lld vectors\n", std::string(index::IndexKindName(stats.kind)).c_str(),
                static_cast<long long>(stats.count));
  return kExitOk;
}

}  // namespace sluice::cli

#include "db/catalog.h"

#include "common/strings.h"

namespace sluice::db {

boost::json::object ItemToJson(const ItemRecord& item) {
  boost::json::object out{{"url", item.url}, {"status", ItemStatusName(item.status)}};
  if (item.status == ItemStatus::kOk) {
    out["final_url"] = item.final_url;
    out["sha256"] = item.sha256;
    out["size"] = item.size;
    out["mime"] = item.mime;
    out["kind"] = item.kind;
    out["store_key"] = item.store_key;
  } else {
    out["failure"] = {{"cause", item.failure_cause}, {"details", item.failure_details}};
  }
  return out;
}

Status EmbeddingDimensionMismatch(const EmbeddingRow& row, int64_t stored) {
  return Failure(absl::StatusCode::kInvalidArgument, "embedding_dimension",
                 StrCat("an embedding of ", row.vector.size(), " dimensions for ", row.method, " (",
                        row.model, "), whose stored embeddings have ", stored));
}

Status ForEachStepBatch(const AnalysisCommit& commit, const InsertSteps& insert) {
  SLUICE_RETURN_IF_ERROR(insert(commit.steps, commit.cache));
  if (!commit.more) return absl::OkStatus();
  SLUICE_RETURN_IF_ERROR(commit.more->Rewind());
  std::vector<StepRow> steps;
  std::vector<CachedStep> cache;
  for (;;) {
    SLUICE_ASSIGN_OR_RETURN(bool more, commit.more->Next(steps, cache));
    if (!more) return absl::OkStatus();
    SLUICE_RETURN_IF_ERROR(insert(steps, cache));
  }
}

std::string_view ItemStatusName(ItemStatus status) {
  return status == ItemStatus::kOk ? "ok" : "failed";
}

std::string ContainsPattern(std::string_view text) {
  std::string pattern = "%";
  for (char c : text) {
    if (c == '%' || c == '_' || c == '\\') pattern.push_back('\\');
    pattern.push_back(c);
  }
  pattern.push_back('%');
  return pattern;
}

}  // namespace sluice::db

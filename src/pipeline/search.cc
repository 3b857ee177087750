#include "pipeline/search.h"

#include <absl/strings/str_join.h>

#include <boost/json/parse.hpp>
#include <map>

#include "common/sha256.h"
#include "common/strings.h"
#include "methods/runner.h"
#include "pipeline/index_upkeep.h"
#include "runtime/offload.h"

namespace sluice::pipeline {

namespace asio = boost::asio;
namespace json = boost::json;

namespace {

constexpr int kMaxK = 1000;

// The results a person looks at first, trimmed of bulk (vectors, word boxes).
json::object MainResults(const std::vector<db::CachedStep>& steps) {
  static const std::map<std::string, std::vector<std::string>> kShown = {
      {"image.safety", {"top", "unsafe"}}, {"llm.tags", {"tags"}},
      {"llm.seo_filename", {"filename"}},  {"llm.content_type", {"content_type"}},
      {"llm.describe", {"description"}},   {"ocr.tesseract", {"text"}},
      {"image.phash", {"phash"}},          {"media.probe", {"width", "height", "duration_s"}}};
  std::map<std::string, const db::CachedStep*> newest;
  for (const db::CachedStep& step : steps) {
    if (!kShown.contains(step.method)) continue;
    const db::CachedStep*& kept = newest[step.method];
    if (!kept || step.version > kept->version) kept = &step;
  }
  json::object results;
  for (const auto& [method, step] : newest) {
    boost::system::error_code ec;
    json::value output = json::parse(step->output_json, ec);
    if (ec || !output.is_object()) continue;
    json::object shown;
    for (const std::string& field : kShown.at(method)) {
      if (const json::value* value = output.as_object().if_contains(field)) shown[field] = *value;
    }
    if (!shown.empty()) results[method] = std::move(shown);
  }
  return results;
}

}  // namespace

asio::awaitable<Result<SearchAnswer>> Search(runtime::Runtime& runtime,
                                             const methods::Registry& registry,
                                             db::Catalog& catalog, index::IndexFolder& indexes,
                                             SearchRequest request) {
  if (request.k < 1 || request.k > kMaxK)
    co_return absl::InvalidArgumentError(StrCat("k must be between 1 and ", kMaxK));
  const methods::MethodBase* method = registry.Find(request.method);
  if (!method || method->spec().output != "embedding")
    co_return absl::InvalidArgumentError(
        StrCat(request.method, " is not a method that makes embeddings"));

  if (int(!request.like.empty()) + int(!request.text.empty()) + int(request.vector.has_value()) !=
      1)
    co_return absl::InvalidArgumentError(
        "search for a picture (like), for words (text) or near a vector, one of them");

  SearchAnswer answer;
  std::optional<methods::Embedding> query;
  if (!request.text.empty()) {
    answer.query = StrCat("text:", request.text);
    const auto* text_side = dynamic_cast<const methods::TextQueryEmbedder*>(method);
    if (!text_side)
      co_return Failure(absl::StatusCode::kInvalidArgument, "no_text_model",
                        StrCat(request.method,
                               "'s model sees pictures only, so words cannot be searched in its "
                               "index: use a method whose model also embeds text (embed.image "
                               "with a multimodal model such as CLIP or Titan Multimodal, or "
                               "embed.text)"));
    SLUICE_CO_ASSIGN_OR_RETURN(json::object params, methods::ResolveMethodParams(*method, {}));
    SLUICE_CO_ASSIGN_OR_RETURN(methods::Embedding embedded,
                               co_await text_side->EmbedQueryText(request.text, std::move(params)));
    query = std::move(embedded);
  } else if (request.vector) {
    query = std::move(*request.vector);
    if (query->vector.empty()) co_return absl::InvalidArgumentError("the vector is empty");
    answer.query = StrCat("vector:", query->vector.size(), " dimensions");
    if (query->model.empty()) {
      auto spaces_of = [&] { return catalog.EmbeddingSpaces(); };
      SLUICE_CO_ASSIGN_OR_RETURN(std::vector<db::EmbeddingSpace> spaces,
                                 co_await runtime::RunOn(runtime.blocking(), spaces_of));
      std::vector<std::string> models;
      for (const db::EmbeddingSpace& space : spaces)
        if (space.method == request.method &&
            space.dimensions == static_cast<int>(query->vector.size()))
          models.push_back(space.model);
      if (models.size() > 1)
        co_return absl::InvalidArgumentError(StrCat(request.method, " has several models of ",
                                                    query->vector.size(), " dimensions: name one (",
                                                    absl::StrJoin(models, ", "), ")"));
      if (!models.empty()) query->model = models.front();
    }
  } else if (IsSha256Hex(request.like)) {
    answer.query = StrCat("sha256:", request.like);
    auto stored_of = [&] { return catalog.EmbeddingsOf(request.like); };
    SLUICE_CO_ASSIGN_OR_RETURN(std::vector<db::EmbeddingRow> stored,
                               co_await runtime::RunOn(runtime.blocking(), stored_of));
    for (db::EmbeddingRow& row : stored) {
      if (row.method == request.method) query = methods::Embedding{row.model, row.vector};
    }
    if (!query)
      co_return Failure(absl::StatusCode::kNotFound, "no_embedding",
                        StrCat("no ", request.method, " embedding is stored for ", request.like));
  } else {
    answer.query = StrCat("file:", request.like);
    methods::MethodRunner runner(registry, runtime, nullptr);
    SLUICE_CO_ASSIGN_OR_RETURN(methods::StepResult step,
                               co_await runner.Run(request.method, request.like));
    SLUICE_CO_RETURN_IF_ERROR(step.status);
    query = methods::EmbeddingOf(step.output);
    if (!query) co_return absl::InternalError(StrCat(request.method, " returned no embedding"));
  }

  answer.index =
      IndexSpecOf(db::EmbeddingSpace{.method = request.method,
                                     .model = query->model,
                                     .dimensions = static_cast<int>(query->vector.size())});
  SLUICE_CO_ASSIGN_OR_RETURN(std::shared_ptr<index::VectorIndex> index, indexes.Open(answer.index));
  if (index->Stats().count == 0)
    co_return Failure(absl::StatusCode::kNotFound, "no_index",
                      StrCat("nothing has been embedded by ", request.method, " (", query->model,
                             ") yet: run a set through a pipeline with it"));
  // With a set named, look further: the nearest contents may belong to other sets.
  int depth = request.set.empty() ? request.k : std::min(kMaxK, request.k * 10);
  auto search = [&] { return index->Search(query->vector, depth); };
  SLUICE_CO_ASSIGN_OR_RETURN(std::vector<std::vector<index::Hit>> found,
                             co_await runtime::RunOn(runtime.cpu(), search));
  std::vector<int64_t> ids;
  for (const index::Hit& hit : found.at(0)) ids.push_back(hit.id);
  auto items_of = [&] { return catalog.ItemsWithContentIds(ids); };
  SLUICE_CO_ASSIGN_OR_RETURN(std::vector<db::ItemOfContent> items,
                             co_await runtime::RunOn(runtime.blocking(), items_of));
  std::map<int64_t, std::vector<db::ItemOfContent>> by_id;
  for (db::ItemOfContent& item : items) {
    if (request.set.empty() || item.set == request.set) by_id[item.item_id].push_back(item);
  }
  for (const index::Hit& hit : found.at(0)) {
    auto it = by_id.find(hit.id);
    if (it == by_id.end()) continue;  // another set's, or no longer an ok item
    answer.hits.push_back(SearchHit{.score = hit.score,
                                    .sha256 = it->second.front().item.sha256,
                                    .items = std::move(it->second)});
    if (static_cast<int>(answer.hits.size()) == request.k) break;
  }
  std::vector<std::string> contents;
  for (const SearchHit& hit : answer.hits) contents.push_back(hit.sha256);
  auto cached_of = [&] { return catalog.CachedSteps(contents); };
  SLUICE_CO_ASSIGN_OR_RETURN(std::vector<db::CachedStep> cached,
                             co_await runtime::RunOn(runtime.blocking(), cached_of));
  std::map<std::string, std::vector<db::CachedStep>> steps_of;
  for (db::CachedStep& step : cached) steps_of[step.item_sha256].push_back(std::move(step));
  for (SearchHit& hit : answer.hits) hit.results = MainResults(steps_of[hit.sha256]);
  co_return answer;
}

json::object SearchAnswerToJson(const SearchAnswer& answer) {
  json::array hits;
  for (const SearchHit& hit : answer.hits) {
    json::array items;
    for (const db::ItemOfContent& item : hit.items) {
      items.push_back(json::object{{"set", item.set},
                                   {"url", item.item.url},
                                   {"store_key", item.item.store_key},
                                   {"kind", item.item.kind}});
    }
    hits.push_back(json::object{{"score", std::round(hit.score * 10000.0) / 10000.0},
                                {"sha256", hit.sha256},
                                {"items", std::move(items)},
                                {"results", hit.results}});
  }
  return json::object{{"index", index::IndexName(answer.index)},
                      {"query", answer.query},
                      {"hits", std::move(hits)}};
}

}  // namespace sluice::pipeline

// Similarity search over the stored embeddings (`sluice search`, the HTTP API): "show me
// creatives like this one". The query is the embedding of a file (computed now by the index's
// method), or the stored embedding of a content already analysed (its SHA-256); the answer is
// the nearest contents with every item (set, URL, store key) that holds them and their main
// results.
//
// Event-loop only (Search awaits the method runner and runs the index and catalog on the pools).
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/json/object.hpp>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "db/catalog.h"
#include "index/index_folder.h"
#include "methods/registry.h"
#include "runtime/runtime.h"

namespace sluice::pipeline {

// The query is exactly one of `like`, `text` and `vector`.
struct SearchRequest {
  // A SHA-256 (64 hex digits) of analysed content, or a file to embed now.
  std::string like;
  // Words to embed now with the method's model, which must also embed text (TextQueryEmbedder:
  // a multimodal image model finds pictures, a text model finds descriptions and OCR text).
  std::string text;
  // A vector as it is (a caller's own embedding); its model names the index, or, left empty,
  // the method's one model of the vector's dimension.
  std::optional<methods::Embedding> vector;
  int k = 10;
  // Only items of this set ("" for every set).
  std::string set;
  // The embedding method whose index is searched.
  std::string method = "image.embedding";
};

struct SearchHit {
  double score = 0;  // cosine similarity, 1 for the same picture
  std::string sha256;
  // Every ok item with this content (of `set` when given), by set then URL.
  std::vector<db::ItemOfContent> items;
  // The content's main results by method (safety, tags, SEO file name, OCR text, …).
  boost::json::object results;
};

struct SearchAnswer {
  index::IndexSpec index;       // the index searched
  std::string query;            // "sha256:…", "file:…" or "text:…"
  std::vector<SearchHit> hits;  // best first, at most k
};

// Searches the index of `request.method` for the contents nearest to the query. Errors:
// InvalidArgument for k outside 1..1000 or a method that makes no embeddings; NotFound (cause
// "no_embedding") for a SHA-256 without a stored embedding by the method, or when nothing was
// ever embedded by it ("no_index"); InvalidArgument (cause "no_text_model") for text with a
// method whose model sees pictures only; InvalidArgument for an empty vector, or one whose model
// is not named when the method has several models of its dimension; the method's failure on the
// query file or text (its cause); the catalog's and index's errors.
boost::asio::awaitable<Result<SearchAnswer>> Search(runtime::Runtime& runtime,
                                                    const methods::Registry& registry,
                                                    db::Catalog& catalog,
                                                    index::IndexFolder& indexes,
                                                    SearchRequest request);

// The JSON form of an answer (`sluice search --json`, the HTTP API).
boost::json::object SearchAnswerToJson(const SearchAnswer& answer);

}  // namespace sluice::pipeline

// /v1/sets, /v1/items and /v1/media: what the catalog recorded and the bytes the store holds.
#include <algorithm>
#include <boost/json/object.hpp>
#include <string>

#include "api/route_kit.h"
#include "common/content_type.h"
#include "common/sha256.h"
#include "common/strings.h"
#include "db/set_results.h"
#include "pipeline/analyze.h"
#include "pipeline/set_runner.h"

namespace sluice::api {

namespace asio = boost::asio;
namespace json = boost::json;

namespace {

constexpr int kDefaultPage = 100;
constexpr int kMaxPage = 1000;

// Objects larger than this are served only in ranges; an open range ("bytes=0-") gets at most
// kMaxRange bytes (a video player asks for the next part itself).
constexpr int64_t kMaxWholeMedia = int64_t{64} << 20;
constexpr int64_t kMaxRange = int64_t{8} << 20;

// One range of a Range header ("bytes=START-END", "bytes=START-", "bytes=-SUFFIX") within an
// object of `size` bytes; the whole object when `header` is empty. InvalidArgument for a header
// that does not parse, names several ranges, or lies past the end.
Result<storage::ByteRange> RangeOf(std::string_view header, int64_t size) {
  if (header.empty()) return storage::ByteRange{.offset = 0, .length = size};
  auto refuse = [&] {
    return absl::InvalidArgumentError(
        StrCat("Range '", header, "' is not one satisfiable bytes range of ", size, " bytes"));
  };
  std::string_view spec = header;
  if (!ConsumePrefix(spec, "bytes=") || spec.find(',') != std::string_view::npos) return refuse();
  size_t dash = spec.find('-');
  if (dash == std::string_view::npos) return refuse();
  int64_t start = 0, end = size - 1;
  std::string_view first = spec.substr(0, dash), last = spec.substr(dash + 1);
  if (first.empty()) {  // the last N bytes
    int64_t suffix = 0;
    if (!ParseInt(last, suffix) || suffix <= 0) return refuse();
    start = std::max<int64_t>(0, size - suffix);
  } else {
    if (!ParseInt(first, start) || start < 0) return refuse();
    if (!last.empty() && (!ParseInt(last, end) || end < start)) return refuse();
    if (last.empty()) end = std::min(size - 1, start + kMaxRange - 1);
  }
  if (start >= size) return refuse();
  end = std::min(end, size - 1);
  return storage::ByteRange{.offset = start, .length = end - start + 1};
}

constexpr std::string_view kContentNames =
    "contents are named by the SHA-256 of their bytes: 64 lowercase hex digits";

// Removes the vector of every embedding in `steps` (method → output); the model and dimensions
// stay.
void DropVectors(json::object& steps) {
  for (auto& [method, output] : steps)
    if (output.is_object()) output.as_object().erase("vector");
}

class CatalogRoutes {
 public:
  explicit CatalogRoutes(const ApiParts& parts) : parts_(parts) {}

  asio::awaitable<Response> ListSets(Request) {
    auto list = [&] { return parts_.db->ListSets(); };
    Result<std::vector<db::SetTotals>> sets = co_await Blocking(parts_, list);
    if (!sets.ok()) co_return ProblemFor(sets.status());
    json::array out;
    for (const db::SetTotals& set : *sets) out.push_back(db::SetTotalsToJson(set));
    co_return JsonResponse(200, json::object{{"sets", std::move(out)}});
  }

  // A page of the set's items, by URL, after the cursor (the last URL of the page before), with
  // every method's result; embedding vectors only when asked for (vectors=true): a page of
  // 1280-d vectors is megabytes a gallery does not show.
  asio::awaitable<Response> ListItems(Request request) {
    const std::string& set = request.params.at("set");
    Result<int> limit = IntParam(request, "limit", kDefaultPage, 1, kMaxPage);
    if (!limit.ok()) co_return ProblemFor(limit.status());
    db::ItemPageQuery query{.after_url = QueryParam(request, "cursor"),
                            .limit = *limit + 1,  // one more: whether a next page exists
                            .kind = QueryParam(request, "kind"),
                            .text = QueryParam(request, "q"),
                            .text_skips_methods = EmbeddingMethods()};
    if (std::string status = QueryParam(request, "status"); status == "ok") {
      query.status = db::ItemStatus::kOk;
    } else if (status == "failed") {
      query.status = db::ItemStatus::kFailed;
    } else if (!status.empty()) {
      co_return Problem(400, "Bad request",
                        StrCat("status must be ok or failed, not '", status, "'"));
    }
    if (query.text.size() > 200) co_return Problem(400, "Bad request", "q is over 200 characters");
    bool vectors = QueryParam(request, "vectors") == "true";
    bool first_page = query.after_url.empty();
    auto read = [&]() -> Result<std::pair<std::vector<db::ItemRecord>, db::SetResults>> {
      SLUICE_ASSIGN_OR_RETURN(std::vector<db::ItemRecord> items,
                              parts_.db->ListItemsPage(set, query));
      if (items.empty() && first_page) {  // an unknown set, or nothing matches the filters
        SLUICE_ASSIGN_OR_RETURN(std::vector<db::SetTotals> sets, parts_.db->ListSets());
        if (std::none_of(sets.begin(), sets.end(),
                         [&](const db::SetTotals& known) { return known.set == set; }))
          return absl::NotFoundError(StrCat("there is no set '", set, "'"));
      }
      // The steps of this page's items (not of the one more read to see whether a page
      // follows), and of the set itself on the first page.
      std::vector<std::string> urls;
      for (size_t i = 0; i < items.size() && static_cast<int>(i) < *limit; ++i)
        urls.push_back(items[i].url);
      if (first_page) urls.push_back("");
      SLUICE_ASSIGN_OR_RETURN(std::vector<db::StepRow> steps, parts_.db->ListSteps(set, urls));
      return std::pair{std::move(items), db::GroupSetResults(steps)};
    };
    auto found = co_await Blocking(parts_, read);
    if (!found.ok()) co_return ProblemFor(found.status());
    auto& [items, results] = *found;
    json::array page;
    for (const db::ItemRecord& item : items) {
      if (static_cast<int>(page.size()) == *limit) break;
      page.push_back(ItemJson(item, results, vectors));
    }
    json::object out{{"set", set}, {"items", std::move(page)}};
    if (static_cast<int>(items.size()) > *limit) out["next_cursor"] = items[*limit - 1].url;
    if (auto set_steps = results.steps_by_url.find(""); set_steps != results.steps_by_url.end())
      out["set_results"] = set_steps->second;
    co_return JsonResponse(200, out);
  }

  // One content: its size and type, and every item (set and URL) that holds it, each with every
  // method's result.
  asio::awaitable<Response> GetItem(Request request) {
    const std::string& sha = request.params.at("sha256");
    if (!IsSha256Hex(sha)) co_return Problem(400, "Bad request", kContentNames);
    bool vectors = QueryParam(request, "vectors") == "true";
    auto read = [&]() -> Result<json::object> {
      SLUICE_ASSIGN_OR_RETURN(std::vector<db::ItemOfContent> holders,
                              parts_.db->ItemsOfContent(sha));
      if (holders.empty()) return absl::NotFoundError(StrCat("no item holds content ", sha));
      json::array items;
      for (const db::ItemOfContent& holder : holders) {
        SLUICE_ASSIGN_OR_RETURN(std::vector<db::StepRow> steps,
                                parts_.db->ListSteps(holder.set, {holder.item.url}));
        json::object item = ItemJson(holder.item, db::GroupSetResults(steps), vectors);
        item["set"] = holder.set;
        items.push_back(std::move(item));
      }
      const db::ItemRecord& first = holders.front().item;
      return json::object{
          {"sha256", sha},      {"size", first.size},           {"mime", first.mime},
          {"kind", first.kind}, {"store_key", first.store_key}, {"items", std::move(items)}};
    };
    Result<json::object> item = co_await Blocking(parts_, read);
    if (!item.ok()) co_return ProblemFor(item.status());
    co_return JsonResponse(200, *item);
  }

  // The set's cost ledger (calls, retries, tokens and time per method and provider), as the
  // last analysis of the set wrote it.
  asio::awaitable<Response> GetLedger(Request request) {
    const std::string& set = request.params.at("set");
    if (Status valid = pipeline::ValidateSetName(set); !valid.ok()) co_return ProblemFor(valid);
    Result<std::string> ledger = co_await parts_.store->Get(pipeline::Analyzer::LedgerKey(set));
    if (absl::IsNotFound(ledger.status()))
      co_return Problem(404, "Not found",
                        StrCat("set '", set, "' has no ledger: it has not been analysed"));
    if (!ledger.ok()) co_return ProblemFor(ledger.status());
    co_return Response{.body = std::move(*ledger)};
  }

  // An object of the store by its content SHA-256: media and the files steps made (they are
  // content-addressed); nothing else of the store (result documents, ledgers, indexes).
  asio::awaitable<Response> GetMedia(Request request) {
    const std::string& sha = request.params.at("sha256");
    if (!IsSha256Hex(sha)) co_return Problem(400, "Bad request", kContentNames);
    std::string key = storage::ContentKey(sha);
    Result<storage::BlobInfo> info = co_await parts_.store->Stat(key);
    if (!info.ok()) co_return ProblemFor(info.status());
    std::string etag = StrCat("\"", sha, "\"");
    std::vector<std::pair<std::string, std::string>> headers = {
        {"ETag", etag},
        {"Accept-Ranges", "bytes"},
        {"Cache-Control", "public, max-age=31536000, immutable"}};  // the name is the content
    if (request.Header("if-none-match") == etag)
      co_return Response{.status = 304, .content_type = "", .headers = headers};
    Result<storage::ByteRange> range = RangeOf(request.Header("range"), info->size);
    if (!range.ok()) {
      Response refused = ProblemFor(range.status());
      refused.status = 416;
      refused.headers.emplace_back("Content-Range", StrCat("bytes */", info->size));
      co_return refused;
    }
    bool partial = !request.Header("range").empty();
    if (!partial && info->size > kMaxWholeMedia)
      co_return Problem(413, "Too large for one response",
                        StrCat("objects over ", kMaxWholeMedia >> 20,
                               " MB are served in Range requests (bytes=START-END)"));
    Result<std::string> bytes = co_await parts_.store->Get(key, *range);
    if (!bytes.ok()) co_return ProblemFor(bytes.status());
    std::string head = bytes->substr(0, kSniffBytes);  // the type is in the first bytes
    if (range->offset != 0) {
      storage::ByteRange first{.offset = 0, .length = static_cast<int64_t>(kSniffBytes)};
      Result<std::string> start = co_await parts_.store->Get(key, first);
      head = start.ok() ? *std::move(start) : "";
    }
    Response response{.status = partial ? 206 : 200,
                      .content_type = SniffContentType(head).mime,
                      .body = std::move(*bytes),
                      .headers = std::move(headers)};
    if (partial)
      response.headers.emplace_back(
          "Content-Range",
          StrCat("bytes ", range->offset, "-",
                 range->offset + static_cast<int64_t>(response.body.size()) - 1, "/", info->size));
    co_return response;
  }

 private:
  // The item with its results, without embedding vectors unless `vectors`.
  json::object ItemJson(const db::ItemRecord& item, const db::SetResults& results,
                        bool vectors) const {
    json::object row = db::ItemResultsToJson(item, results);
    if (!vectors) DropVectors(row["steps"].as_object());
    return row;
  }

  // The methods whose outputs are embeddings: a text filter does not look into them.
  std::vector<std::string> EmbeddingMethods() const {
    std::vector<std::string> out;
    if (!parts_.registry) return out;
    for (const methods::MethodBase* method : parts_.registry->All())
      if (method->spec().output == "embedding") out.push_back(method->spec().name);
    return out;
  }

  const ApiParts& parts_;
};

}  // namespace

void AddCatalogRoutes(Router& router, const ApiParts& parts) {
  auto routes = std::make_shared<CatalogRoutes>(parts);
  router.Add("GET", "/v1/sets", BindRoute(routes, &CatalogRoutes::ListSets));
  router.Add("GET", "/v1/sets/{set}/items", BindRoute(routes, &CatalogRoutes::ListItems));
  router.Add("GET", "/v1/sets/{set}/ledger", BindRoute(routes, &CatalogRoutes::GetLedger));
  router.Add("GET", "/v1/items/{sha256}", BindRoute(routes, &CatalogRoutes::GetItem));
  router.Add("GET", "/v1/media/{sha256}", BindRoute(routes, &CatalogRoutes::GetMedia));
}

}  // namespace sluice::api

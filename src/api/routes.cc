#include "api/routes.h"

#include <algorithm>
#include <boost/json/parse.hpp>
#include <string>

#include "common/content_type.h"
#include "common/file_io.h"
#include "common/sha256.h"
#include "common/strings.h"
#include "db/job_status.h"
#include "db/set_results.h"
#include "pipeline/search.h"
#include "pipeline/set_runner.h"
#include "runtime/offload.h"

namespace sluice::api {

namespace asio = boost::asio;
namespace json = boost::json;

namespace {

constexpr int kMaxUrls = 100'000;
constexpr int kDefaultPage = 100;
constexpr int kMaxPage = 1000;

// The request body as a JSON object; InvalidArgument saying why not.
Result<json::object> BodyObject(const Request& request) {
  boost::system::error_code ec;
  json::value body = json::parse(request.body, ec);
  if (ec) return absl::InvalidArgumentError(StrCat("the body is not JSON: ", ec.message()));
  if (!body.is_object()) return absl::InvalidArgumentError("the body must be a JSON object");
  return std::move(body.as_object());
}

// Query parameter `name` as a number within [min, max], `fallback` when absent.
Result<int> IntParam(const Request& request, const std::string& name, int fallback, int min,
                     int max) {
  auto it = request.query.find(name);
  if (it == request.query.end()) return fallback;
  int value = 0;
  if (!ParseInt(it->second, value) || value < min || value > max)
    return absl::InvalidArgumentError(StrCat(name, " must be a whole number from ", min, " to ",
                                             max, ", not '", it->second, "'"));
  return value;
}

// The job spec of a POST /v1/jobs body.
Result<db::JobSpec> JobSpecOf(const json::object& body) {
  db::JobSpec spec;
  for (const auto& [key, value] : body) {
    if (key == "set" && value.is_string()) {
      spec.set = std::string(value.as_string());
    } else if (key == "urls" && value.is_array()) {
      for (const json::value& url : value.as_array()) {
        if (!url.is_string() || url.as_string().empty())
          return absl::InvalidArgumentError("urls must be non-empty strings");
        spec.urls.emplace_back(url.as_string());
      }
    } else if (key == "priority" && value.is_int64()) {
      spec.priority = static_cast<int>(value.as_int64());
    } else if (key == "max_attempts" && value.is_int64() && value.as_int64() >= 1 &&
               value.as_int64() <= 100) {
      spec.max_attempts = static_cast<int>(value.as_int64());
    } else if (key == "pipeline" && value.is_string() && !value.as_string().empty()) {
      spec.pipeline = std::string(value.as_string());
    } else {
      return absl::InvalidArgumentError(
          StrCat("'", std::string_view(key),
                 "' is not a job field of that type (set: string, "
                 "urls: [string], priority: integer, max_attempts: 1-100, pipeline: string)"));
    }
  }
  SLUICE_RETURN_IF_ERROR(pipeline::ValidateSetName(spec.set));
  if (spec.urls.empty()) return absl::InvalidArgumentError("urls must list at least one URL");
  if (spec.urls.size() > kMaxUrls)
    return absl::InvalidArgumentError(
        StrCat("a job takes at most ", kMaxUrls, " URLs; split the list into sets"));
  return spec;
}

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

class Routes {
 public:
  explicit Routes(const ApiParts& parts) : parts_(parts) {}

  // Runs `fn` (a database call) on the blocking pool.
  template <class F>
  auto Blocking(F fn) {
    return runtime::RunOn(parts_.runtime->blocking(), std::move(fn));
  }

  asio::awaitable<Response> SubmitJob(Request request) {
    Result<json::object> body = BodyObject(request);
    if (!body.ok()) co_return ProblemFor(body.status());
    Result<db::JobSpec> spec = JobSpecOf(*body);
    if (!spec.ok()) co_return ProblemFor(spec.status());
    // A client retrying after a lost answer sends the same key and gets the same job.
    if (std::string key = request.Header("idempotency-key"); !key.empty()) {
      if (key.size() > 200) co_return Problem(400, "Bad request", "Idempotency-Key is too long");
      spec->dedupe_key = StrCat("api:", key);
    }
    auto check = [&] { return parts_.check_pipeline(spec->pipeline); };
    if (Status known = co_await Blocking(check); !known.ok()) co_return ProblemFor(known);
    auto submit = [&] { return parts_.db->Submit(*spec); };
    Result<db::Submitted> submitted = co_await Blocking(submit);
    if (!submitted.ok()) co_return ProblemFor(submitted.status());
    Response response = JsonResponse(submitted->created ? 202 : 200, db::JobToJson(submitted->job));
    response.headers.emplace_back("Location", StrCat("/v1/jobs/", submitted->job.token));
    co_return response;
  }

  asio::awaitable<Response> GetJob(Request request) {
    const std::string& token = request.params.at("token");
    auto status_of = [&]() -> Result<json::object> {
      SLUICE_ASSIGN_OR_RETURN(db::Job job, parts_.db->FindJob(token));
      SLUICE_ASSIGN_OR_RETURN(db::JobProgress progress, db::ProgressOf(*parts_.db, job));
      return db::JobStatusJson(job, progress);
    };
    Result<json::object> status = co_await Blocking(status_of);
    if (!status.ok()) co_return ProblemFor(status.status());
    co_return JsonResponse(200, *status);
  }

  asio::awaitable<Response> ListJobs(Request request) {
    std::optional<db::JobState> state;
    if (auto it = request.query.find("state"); it != request.query.end()) {
      state = db::ParseJobState(it->second);
      if (!state)
        co_return Problem(
            400, "Bad request",
            StrCat("state must be queued, running, done or dead, not '", it->second, "'"));
    }
    Result<int> limit = IntParam(request, "limit", kDefaultPage, 1, kMaxPage);
    if (!limit.ok()) co_return ProblemFor(limit.status());
    auto list = [&] { return parts_.db->ListJobs(state, *limit); };
    Result<std::vector<db::Job>> jobs = co_await Blocking(list);
    if (!jobs.ok()) co_return ProblemFor(jobs.status());
    json::array out;
    for (const db::Job& job : *jobs) out.push_back(db::JobToJson(job));
    co_return JsonResponse(200, json::object{{"jobs", std::move(out)}});
  }

  asio::awaitable<Response> RetryJob(Request request) {
    return ChangeJob(std::move(request), &db::JobStore::RetryJob);
  }
  asio::awaitable<Response> CancelJob(Request request) {
    return ChangeJob(std::move(request), &db::JobStore::CancelJob);
  }

  // The job of the request's token, changed by `change` (retry, cancel).
  asio::awaitable<Response> ChangeJob(Request request,
                                      Result<db::Job> (db::JobStore::*change)(int64_t)) {
    const std::string& token = request.params.at("token");
    auto find_and_change = [&]() -> Result<db::Job> {
      SLUICE_ASSIGN_OR_RETURN(db::Job job, parts_.db->FindJob(token));
      return (parts_.db->*change)(job.id);
    };
    Result<db::Job> job = co_await Blocking(find_and_change);
    if (!job.ok()) co_return ProblemFor(job.status());
    co_return JsonResponse(200, db::JobToJson(*job));
  }

  asio::awaitable<Response> ListSets(Request) {
    auto list = [&] { return parts_.db->ListSets(); };
    Result<std::vector<db::SetTotals>> sets = co_await Blocking(list);
    if (!sets.ok()) co_return ProblemFor(sets.status());
    json::array out;
    for (const db::SetTotals& set : *sets) out.push_back(db::SetTotalsToJson(set));
    co_return JsonResponse(200, json::object{{"sets", std::move(out)}});
  }

  // A page of the set's items, by URL, after the cursor (the last URL of the page before).
  asio::awaitable<Response> ListItems(Request request) {
    const std::string& set = request.params.at("set");
    Result<int> limit = IntParam(request, "limit", kDefaultPage, 1, kMaxPage);
    if (!limit.ok()) co_return ProblemFor(limit.status());
    std::string status = request.query.contains("status") ? request.query.at("status") : "";
    if (!status.empty() && status != "ok" && status != "failed")
      co_return Problem(400, "Bad request",
                        StrCat("status must be ok or failed, not '", status, "'"));
    std::string kind = request.query.contains("kind") ? request.query.at("kind") : "";
    std::string cursor = request.query.contains("cursor") ? request.query.at("cursor") : "";
    auto read = [&]() -> Result<std::pair<std::vector<db::ItemRecord>, db::SetResults>> {
      SLUICE_ASSIGN_OR_RETURN(std::vector<db::ItemRecord> items, parts_.db->ListItems(set));
      SLUICE_ASSIGN_OR_RETURN(std::vector<db::StepRow> steps, parts_.db->ListSteps(set));
      return std::pair{std::move(items), db::GroupSetResults(steps)};
    };
    auto found = co_await Blocking(read);
    if (!found.ok()) co_return ProblemFor(found.status());
    auto& [items, results] = *found;
    if (items.empty())
      co_return Problem(404, "Not found", StrCat("set '", set, "' has no items"), "no_set");
    std::sort(items.begin(), items.end(),
              [](const db::ItemRecord& a, const db::ItemRecord& b) { return a.url < b.url; });
    json::array page;
    std::string next;
    for (const db::ItemRecord& item : items) {
      if (!cursor.empty() && item.url <= cursor) continue;
      if (!status.empty() && db::ItemStatusName(item.status) != status) continue;
      if (!kind.empty() && item.kind != kind) continue;
      if (static_cast<int>(page.size()) == *limit) {
        next = page.back().at("url").as_string();
        break;
      }
      page.push_back(db::ItemResultsToJson(item, results));
    }
    json::object out{{"set", set}, {"items", std::move(page)}};
    if (!next.empty()) out["next_cursor"] = next;
    if (cursor.empty()) {
      auto set_steps = results.steps_by_url.find("");
      if (set_steps != results.steps_by_url.end()) out["set_results"] = set_steps->second;
    }
    co_return JsonResponse(200, out);
  }

  // An object of the store by its content SHA-256: media and the files steps made (they are
  // content-addressed); nothing else of the store (result documents, ledgers, indexes).
  asio::awaitable<Response> GetMedia(Request request) {
    const std::string& sha = request.params.at("sha256");
    if (!IsSha256Hex(sha))
      co_return Problem(400, "Bad request",
                        "media are named by the SHA-256 of their bytes: 64 lowercase hex digits");
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

  // Similar contents: by stored content (like=SHA256) or words (text=…) as query parameters, or
  // by a picture sent as the body of a POST.
  asio::awaitable<Response> Search(Request request) {
    if (!parts_.registry || !parts_.indexes)
      co_return Problem(503, "Search unavailable", "this server was started without indexes");
    Result<int> k = IntParam(request, "k", 10, 1, 1000);
    if (!k.ok()) co_return ProblemFor(k.status());
    auto param = [&](const char* name) {
      auto it = request.query.find(name);
      return it == request.query.end() ? std::string() : it->second;
    };
    pipeline::SearchRequest query{.like = param("like"),
                                  .text = param("text"),
                                  .k = *k,
                                  .set = param("set"),
                                  .method = param("method")};
    if (query.method.empty()) query.method = "image.embedding";
    std::filesystem::path upload;
    if (request.method == "POST") {
      if (request.body.empty() || !query.like.empty() || !query.text.empty())
        co_return Problem(400, "Bad request",
                          "POST /v1/search takes a picture as the body and no like or text");
      std::error_code ec;
      std::filesystem::create_directories(parts_.scratch_dir, ec);
      upload = parts_.scratch_dir / StrCat("query-", Sha256::HexOf(request.body));
      auto write = [&] { return WriteFileAtomically(upload.string(), request.body); };
      if (Status written = co_await Blocking(write); !written.ok()) co_return ProblemFor(written);
      query.like = upload.string();
    } else if (query.like.empty() == query.text.empty()) {
      co_return Problem(400, "Bad request",
                        "search like=SHA256 (stored content) or text=WORDS, one of them; or POST "
                        "a picture");
    } else if (!query.like.empty() && !IsSha256Hex(query.like)) {
      co_return Problem(400, "Bad request",
                        "like= names stored content by its SHA-256 (64 lowercase hex digits); "
                        "POST a picture to search by one");
    }
    Result<pipeline::SearchAnswer> answer = co_await pipeline::Search(
        *parts_.runtime, *parts_.registry, *parts_.db, *parts_.indexes, std::move(query));
    if (!upload.empty()) {
      std::error_code ec;
      std::filesystem::remove(upload, ec);
    }
    if (!answer.ok()) co_return ProblemFor(answer.status());
    co_return JsonResponse(200, pipeline::SearchAnswerToJson(*answer));
  }

  asio::awaitable<Response> Metrics(Request) {
    auto read =
        [&]() -> Result<std::pair<std::map<db::JobState, int64_t>, std::vector<db::SetTotals>>> {
      SLUICE_ASSIGN_OR_RETURN(auto jobs, parts_.db->CountJobs());
      SLUICE_ASSIGN_OR_RETURN(auto sets, parts_.db->ListSets());
      return std::pair{std::move(jobs), std::move(sets)};
    };
    auto state = co_await Blocking(read);
    if (!state.ok()) co_return ProblemFor(state.status());
    co_return Response{.content_type = "text/plain; version=0.0.4",
                       .body = parts_.metrics->Render(state->first, state->second)};
  }

  asio::awaitable<Response> Ready(Request) {
    // The database answers a query and the store a lookup (an absent key is an answer).
    auto database = [&] { return parts_.db->ListJobs(std::nullopt, 1).status(); };
    Status db_status = co_await Blocking(database);
    Result<storage::BlobInfo> probe = co_await parts_.store->Stat("readyz-probe");
    Status store_status =
        probe.ok() || absl::IsNotFound(probe.status()) ? absl::OkStatus() : probe.status();
    json::object checks{{"database", db_status.ok() ? "ok" : std::string(db_status.message())},
                        {"store", store_status.ok() ? "ok" : std::string(store_status.message())}};
    bool ready = db_status.ok() && store_status.ok();
    co_return JsonResponse(
        ready ? 200 : 503,
        json::object{{"status", ready ? "ready" : "not ready"}, {"checks", std::move(checks)}});
  }

 private:
  const ApiParts& parts_;
};

}  // namespace

void AddRoutes(Router& router, const ApiParts& parts) {
  auto routes = std::make_shared<Routes>(parts);
  auto bind = [routes](asio::awaitable<Response> (Routes::*member)(Request)) -> Handler {
    return [routes, member](Request request) { return ((*routes).*member)(std::move(request)); };
  };
  router.Add("GET", "/healthz", [](Request) -> asio::awaitable<Response> {
    co_return JsonResponse(200, json::object{{"status", "ok"}});
  });
  router.Add("GET", "/readyz", bind(&Routes::Ready));
  if (parts.metrics) {
    router.Add("GET", "/metrics", bind(&Routes::Metrics));
    ApiMetrics* metrics = parts.metrics;
    router.SetObserver(
        [metrics](std::string_view method, std::string_view pattern, int status, double seconds) {
          metrics->Observe(method, pattern.empty() ? "unmatched" : pattern, status, seconds);
        });
  }
  router.Add("GET", "/v1/openapi.json", [](Request) -> asio::awaitable<Response> {
    co_return Response{.body = std::string(OpenApiDocument())};
  });
  router.Add("POST", "/v1/jobs", bind(&Routes::SubmitJob));
  router.Add("GET", "/v1/jobs", bind(&Routes::ListJobs));
  router.Add("GET", "/v1/jobs/{token}", bind(&Routes::GetJob));
  router.Add("DELETE", "/v1/jobs/{token}", bind(&Routes::CancelJob));
  router.Add("POST", "/v1/jobs/{token}/retry", bind(&Routes::RetryJob));
  router.Add("GET", "/v1/sets", bind(&Routes::ListSets));
  router.Add("GET", "/v1/sets/{set}/items", bind(&Routes::ListItems));
  router.Add("GET", "/v1/media/{sha256}", bind(&Routes::GetMedia));
  router.Add("GET", "/v1/search", bind(&Routes::Search));
  router.Add("POST", "/v1/search", bind(&Routes::Search));
}

}  // namespace sluice::api

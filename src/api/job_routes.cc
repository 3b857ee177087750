// /v1/jobs: submit a set, follow it by token, list, retry and cancel jobs.
#include <boost/json/object.hpp>
#include <string>

#include "api/route_kit.h"
#include "common/strings.h"
#include "db/job_status.h"
#include "pipeline/set_runner.h"

namespace sluice::api {

namespace asio = boost::asio;
namespace json = boost::json;

namespace {

constexpr int kMaxUrls = 100'000;
constexpr int kDefaultPage = 100;
constexpr int kMaxPage = 1000;

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

class JobRoutes {
 public:
  explicit JobRoutes(const ApiParts& parts) : parts_(parts) {}

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
    auto check = [&] { return parts_.pipeline_named(spec->pipeline).status(); };
    if (Status known = co_await Blocking(parts_, check); !known.ok()) co_return ProblemFor(known);
    auto submit = [&] { return parts_.db->Submit(*spec); };
    Result<db::Submitted> submitted = co_await Blocking(parts_, submit);
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
    Result<json::object> status = co_await Blocking(parts_, status_of);
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
    Result<std::vector<db::Job>> jobs = co_await Blocking(parts_, list);
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
    Result<db::Job> job = co_await Blocking(parts_, find_and_change);
    if (!job.ok()) co_return ProblemFor(job.status());
    co_return JsonResponse(200, db::JobToJson(*job));
  }

 private:
  const ApiParts& parts_;
};

}  // namespace

void AddJobRoutes(Router& router, const ApiParts& parts) {
  auto routes = std::make_shared<JobRoutes>(parts);
  router.Add("POST", "/v1/jobs", BindRoute(routes, &JobRoutes::SubmitJob));
  router.Add("GET", "/v1/jobs", BindRoute(routes, &JobRoutes::ListJobs));
  router.Add("GET", "/v1/jobs/{token}", BindRoute(routes, &JobRoutes::GetJob));
  router.Add("DELETE", "/v1/jobs/{token}", BindRoute(routes, &JobRoutes::CancelJob));
  router.Add("POST", "/v1/jobs/{token}/retry", BindRoute(routes, &JobRoutes::RetryJob));
}

}  // namespace sluice::api

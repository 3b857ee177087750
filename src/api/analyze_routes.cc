// POST /v1/analyze: the real-time path — one picture (or video) analysed within a deadline and
// answered with every result, written into the same catalog, store and indexes as the sets.
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <optional>
#include <string>

#include "api/route_kit.h"
#include "common/strings.h"
#include "db/set_results.h"
#include "pipeline/realtime.h"

namespace sluice::api {

namespace asio = boost::asio;
namespace json = boost::json;

namespace {

// One analysis the handler waits for: the timer fires at the deadline, or is cancelled when
// the answer is in. Shared, so an analysis that outlives its request still has somewhere to
// land. Both coroutines run on the event loop (one thread), so the answer and the timer are
// never touched at once.
struct Pending {
  explicit Pending(asio::any_io_executor executor) : timer(std::move(executor)) {}
  asio::steady_timer timer;
  std::optional<Result<pipeline::AnalyzeNowAnswer>> answer;
};

asio::awaitable<void> RunAnalysis(std::shared_ptr<Pending> pending, pipeline::SetParts parts,
                                  pipeline::AnalyzeNowRequest request) {
  pending->answer = co_await pipeline::AnalyzeNow(parts, std::move(request));
  pending->timer.cancel();
}

class AnalyzeRoutes {
 public:
  explicit AnalyzeRoutes(const ApiParts& parts) : parts_(parts) {}

  // A JSON body {"url", "set", "pipeline"} analyses a URL; any other body is the picture itself
  // (set and pipeline as query parameters).
  asio::awaitable<Response> Analyze(Request request) {
    if (!parts_.set_parts || !parts_.pipeline_named)
      co_return Problem(503, "Analysis unavailable", "this server analyses nothing");
    Result<int> timeout = IntParam(request, "timeout", 60, 1, 600);
    if (!timeout.ok()) co_return ProblemFor(timeout.status());
    pipeline::AnalyzeNowRequest now{.fetch = parts_.fetch};
    std::string pipeline_name = parts_.default_pipeline;
    if (request.Header("content-type").starts_with("application/json")) {
      Result<json::object> body = BodyObject(request);
      if (!body.ok()) co_return ProblemFor(body.status());
      for (const auto& [key, value] : *body) {
        if (!value.is_string() || value.as_string().empty())
          co_return Problem(400, "Bad request",
                            StrCat("'", std::string_view(key), "' must be a non-empty string"));
        std::string text(value.as_string());
        if (key == "url") {
          now.url = std::move(text);
        } else if (key == "set") {
          now.set = std::move(text);
        } else if (key == "pipeline") {
          pipeline_name = std::move(text);
        } else {
          co_return Problem(400, "Bad request",
                            StrCat("'", std::string_view(key),
                                   "' is not a field of an analysis (url, set, pipeline)"));
        }
      }
      if (now.url.empty())
        co_return Problem(400, "Bad request",
                          "send {\"url\": …} as JSON, or the picture itself as the body");
    } else {
      if (request.body.empty())
        co_return Problem(400, "Bad request",
                          "send the picture as the body, or {\"url\": …} as JSON");
      now.upload = std::move(request.body);
      if (std::string set = QueryParam(request, "set"); !set.empty()) now.set = set;
      if (std::string name = QueryParam(request, "pipeline"); !name.empty()) pipeline_name = name;
    }
    auto resolve = [&] { return parts_.pipeline_named(pipeline_name); };
    Result<pipeline::PipelineDef> definition = co_await Blocking(parts_, resolve);
    if (!definition.ok()) co_return ProblemFor(definition.status());
    now.pipeline = std::move(*definition);
    std::string set = now.set;

    auto pending = std::make_shared<Pending>(parts_.runtime->loop_executor());
    pending->timer.expires_after(std::chrono::seconds(*timeout));
    asio::co_spawn(parts_.runtime->loop_executor(),
                   RunAnalysis(pending, *parts_.set_parts, std::move(now)), asio::detached);
    // co_spawn may run the analysis inline up to its first wait, or to its end when it fails at
    // once (a refused upload): then the timer was cancelled before anyone waited on it.
    if (!pending->answer) {
      boost::system::error_code ec;
      co_await pending->timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
    if (!pending->answer)
      co_return Problem(
          504, "Analysis still running",
          StrCat("not finished within ", *timeout, " s; it goes on, and its results land in set '",
                 set, "' (GET /v1/sets/", set, "/items)"),
          "deadline");
    Result<pipeline::AnalyzeNowAnswer>& answer = *pending->answer;
    if (!answer.ok()) co_return ProblemFor(answer.status());
    json::object out = db::ItemResultsToJson(answer->item, db::GroupSetResults(answer->steps));
    const pipeline::AnalysisReport& analysis = answer->report.analysis;
    out["set"] = set;
    out["seconds"] = analysis.seconds;
    out["steps_run"] = analysis.steps_run;
    out["steps_cached"] = analysis.steps_cached;
    out["steps_failed"] = analysis.steps_failed;
    json::object millis;
    for (const auto& [method, spent] : analysis.millis_by_method) millis[method] = spent;
    out["millis_by_method"] = std::move(millis);
    co_return JsonResponse(200, out);
  }

 private:
  const ApiParts& parts_;
};

}  // namespace

void AddAnalyzeRoutes(Router& router, const ApiParts& parts) {
  auto routes = std::make_shared<AnalyzeRoutes>(parts);
  router.Add("POST", "/v1/analyze", BindRoute(routes, &AnalyzeRoutes::Analyze));
}

}  // namespace sluice::api

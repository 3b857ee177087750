#include "api/routes.h"

#include <boost/json/parse.hpp>
#include <string>

#include "api/route_kit.h"
#include "common/redact.h"
#include "common/strings.h"
#include "pipeline/readiness.h"

namespace sluice::api {

namespace asio = boost::asio;
namespace json = boost::json;

namespace {

// /healthz, /readyz, /metrics.
class ServiceRoutes {
 public:
  explicit ServiceRoutes(const ApiParts& parts) : parts_(parts) {}

  asio::awaitable<Response> Metrics(Request) {
    auto read =
        [&]() -> Result<std::pair<std::map<db::JobState, int64_t>, std::vector<db::SetTotals>>> {
      SLUICE_ASSIGN_OR_RETURN(auto jobs, parts_.db->CountJobs());
      SLUICE_ASSIGN_OR_RETURN(auto sets, parts_.db->ListSets());
      return std::pair{std::move(jobs), std::move(sets)};
    };
    auto state = co_await Blocking(parts_, read);
    if (!state.ok()) co_return ProblemFor(state.status());
    std::string text = parts_.metrics->Render(state->first, state->second);
    if (parts_.process_metrics) text += parts_.process_metrics();
    co_return Response{.content_type = "text/plain; version=0.0.4", .body = std::move(text)};
  }

  asio::awaitable<Response> Ready(Request) {
    Status db_status = co_await pipeline::DatabaseAnswers(*parts_.db, parts_.runtime->blocking());
    Status store_status = co_await pipeline::StoreAnswers(*parts_.store);
    std::vector<std::pair<std::string, Status>> results = {{"database", db_status},
                                                           {"store", store_status}};
    if (parts_.readiness_checks)
      for (auto& check : parts_.readiness_checks()) results.push_back(std::move(check));
    json::object checks;
    bool ready = true;
    for (const auto& [name, status] : results) {
      checks[name] = status.ok() ? "ok" : RedactSecrets(std::string(status.message()));
      ready = ready && status.ok();
    }
    co_return JsonResponse(
        ready ? 200 : 503,
        json::object{{"status", ready ? "ready" : "not ready"}, {"checks", std::move(checks)}});
  }

 private:
  const ApiParts& parts_;
};

}  // namespace

void AddRoutes(Router& router, const ApiParts& parts) {
  auto routes = std::make_shared<ServiceRoutes>(parts);
  router.Add("GET", "/healthz", [](Request) -> asio::awaitable<Response> {
    co_return JsonResponse(200, json::object{{"status", "ok"}});
  });
  router.Add("GET", "/readyz", BindRoute(routes, &ServiceRoutes::Ready));
  if (parts.metrics) {
    router.Add("GET", "/metrics", BindRoute(routes, &ServiceRoutes::Metrics));
    ApiMetrics* metrics = parts.metrics;
    router.SetObserver(
        [metrics](std::string_view method, std::string_view pattern, int status, double seconds) {
          metrics->Observe(method, pattern.empty() ? "unmatched" : pattern, status, seconds);
        });
  }
  router.Add("GET", "/v1/openapi.json", [](Request) -> asio::awaitable<Response> {
    co_return Response{.body = std::string(OpenApiDocument())};
  });
  AddJobRoutes(router, parts);
  AddCatalogRoutes(router, parts);
  AddSearchRoutes(router, parts);
  AddAnalyzeRoutes(router, parts);
  AddUiRoutes(router);
}

}  // namespace sluice::api

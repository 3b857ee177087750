#include "api/metrics.h"

#include "common/strings.h"

namespace sluice::api {

void ApiMetrics::Observe(std::string_view method, std::string_view route, int status,
                         double seconds) {
  ++requests_[{std::string(method), std::string(route), status}];
  latency_[{std::string(method), std::string(route)}].Observe(seconds);
}

std::string ApiMetrics::Render(const std::map<db::JobState, int64_t>& jobs,
                               const std::vector<db::SetTotals>& sets) const {
  std::string out;
  prometheus::AppendHeader(out, "sluice_http_requests_total", "counter",
                           "API requests answered, by route and status.");
  for (const auto& [key, count] : requests_) {
    const auto& [method, route, status] = key;
    StrAppend(out, "sluice_http_requests_total{method=\"", method, "\",route=\"", route,
              "\",status=\"", status, "\"} ", count, "\n");
  }
  prometheus::AppendHeader(out, "sluice_http_request_seconds", "histogram",
                           "Time from the request's header to its answer.");
  for (const auto& [key, latency] : latency_)
    latency.AppendTo(out, "sluice_http_request_seconds",
                     StrCat("method=\"", key.first, "\",route=\"", key.second, "\""));
  prometheus::AppendHeader(out, "sluice_jobs", "gauge", "Jobs in the queue by state.");
  for (db::JobState state :
       {db::JobState::kQueued, db::JobState::kRunning, db::JobState::kDone, db::JobState::kDead}) {
    auto it = jobs.find(state);
    StrAppend(out, "sluice_jobs{state=\"", db::JobStateName(state), "\"} ",
              it == jobs.end() ? 0 : it->second, "\n");
  }
  int64_t ok = 0, failed = 0, bytes = 0;
  for (const db::SetTotals& set : sets) {
    ok += set.ok;
    failed += set.failed;
    bytes += set.bytes;
  }
  prometheus::AppendByLabel(out, "sluice_items", "gauge", "Items recorded in every set, by status.",
                            "status", {{"ok", ok}, {"failed", failed}});
  prometheus::AppendMetric(out, "sluice_stored_bytes", "gauge",
                           "Bytes of the ok items of every set.", static_cast<double>(bytes));
  prometheus::AppendMetric(out, "sluice_sets", "gauge", "Sets recorded.",
                           static_cast<double>(sets.size()));
  return out;
}

}  // namespace sluice::api

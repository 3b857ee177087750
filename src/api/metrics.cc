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
  StrAppend(out, "# HELP sluice_http_requests_total API requests answered, by route and status.\n",
            "# TYPE sluice_http_requests_total counter\n");
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
  StrAppend(out, "# HELP sluice_jobs Jobs in the queue by state.\n", "# TYPE sluice_jobs gauge\n");
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
  StrAppend(out, "# HELP sluice_items Items recorded in every set, by status.\n",
            "# TYPE sluice_items gauge\n", "sluice_items{status=\"ok\"} ", ok, "\n",
            "sluice_items{status=\"failed\"} ", failed, "\n",
            "# HELP sluice_stored_bytes Bytes of the ok items of every set.\n",
            "# TYPE sluice_stored_bytes gauge\n", "sluice_stored_bytes ", bytes, "\n",
            "# HELP sluice_sets Sets recorded.\n", "# TYPE sluice_sets gauge\n", "sluice_sets ",
            static_cast<int64_t>(sets.size()), "\n");
  return out;
}

}  // namespace sluice::api

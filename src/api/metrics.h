// ApiMetrics: what `GET /metrics` shows, in Prometheus's text format (0.0.4): the API's requests
// by route and status and their latency, and at each scrape what the database says — jobs by
// state, items by status.
//
// Event-loop only.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "common/prometheus.h"
#include "db/catalog.h"

namespace sluice::api {

class ApiMetrics {
 public:
  // One answered request: `route` is the pattern it matched ("/v1/jobs/{token}"), not the path,
  // so a scrape stays small however many tokens there are.
  void Observe(std::string_view method, std::string_view route, int status, double seconds);

  // The scrape's text.
  std::string Render(const std::map<db::JobState, int64_t>& jobs,
                     const std::vector<db::SetTotals>& sets) const;

 private:
  std::map<std::tuple<std::string, std::string, int>, int64_t> requests_;
  std::map<std::pair<std::string, std::string>, prometheus::Histogram> latency_;
};

}  // namespace sluice::api

// RunMetrics: what this process's set runs did since it started, for `GET /metrics` of
// `sluice serve` (whose workers and real-time path run here): items fetched and failed by
// cause, bytes fetched, each method's step latency and failures, sets in flight. Counters only
// grow; sets in flight goes up and down.
//
// Thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>

#include "common/prometheus.h"
#include "db/catalog.h"

namespace sluice::pipeline {

class RunMetrics {
 public:
  // An item recorded by acquisition (or an upload): ok, its bytes stored, or failed with its
  // cause.
  void ItemRecorded(const db::ItemRecord& item);
  // A step that ran (not one taken from the cache or the journal).
  void StepRan(std::string_view method, double seconds, bool ok);
  void SetStarted();
  void SetFinished();

  // The Prometheus text of all of the above.
  std::string Render() const;

 private:
  mutable std::mutex mu_;
  int64_t items_ok_ = 0;
  int64_t bytes_ = 0;
  std::map<std::string, int64_t> failed_by_cause_;
  std::map<std::string, prometheus::Histogram> step_seconds_;
  std::map<std::string, int64_t> step_failures_;
  int64_t sets_in_flight_ = 0;
  int64_t sets_finished_ = 0;
};

}  // namespace sluice::pipeline

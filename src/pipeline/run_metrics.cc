#include "pipeline/run_metrics.h"

#include "common/strings.h"

namespace sluice::pipeline {

void RunMetrics::ItemRecorded(const db::ItemRecord& item) {
  std::lock_guard lock(mu_);
  if (item.status == db::ItemStatus::kOk) {
    ++items_ok_;
    bytes_ += item.size;
  } else {
    ++failed_by_cause_[item.failure_cause];
  }
}

void RunMetrics::StepRan(std::string_view method, double seconds, bool ok) {
  std::lock_guard lock(mu_);
  step_seconds_[std::string(method)].Observe(seconds);
  if (!ok) ++step_failures_[std::string(method)];
}

void RunMetrics::SetStarted() {
  std::lock_guard lock(mu_);
  ++sets_in_flight_;
}

void RunMetrics::SetFinished() {
  std::lock_guard lock(mu_);
  --sets_in_flight_;
  ++sets_finished_;
}

std::string RunMetrics::Render() const {
  std::lock_guard lock(mu_);
  std::string out;
  prometheus::AppendMetric(out, "sluice_items_fetched_total", "counter",
                           "Items this process fetched (or was sent) and stored.",
                           static_cast<double>(items_ok_));
  prometheus::AppendMetric(out, "sluice_fetched_bytes_total", "counter",
                           "Bytes of the items this process fetched (or was sent).",
                           static_cast<double>(bytes_));
  prometheus::AppendByLabel(out, "sluice_items_failed_total", "counter",
                            "Items this process could not fetch or store, by cause.", "cause",
                            failed_by_cause_);
  prometheus::AppendHeader(out, "sluice_step_seconds", "histogram",
                           "Time of each step this process ran, by method.");
  for (const auto& [method, latency] : step_seconds_)
    latency.AppendTo(out, "sluice_step_seconds",
                     StrCat("method=\"", prometheus::LabelValue(method), "\""));
  prometheus::AppendByLabel(out, "sluice_step_failures_total", "counter",
                            "Steps this process ran that failed, by method.", "method",
                            step_failures_);
  prometheus::AppendMetric(out, "sluice_sets_in_flight", "gauge",
                           "Sets this process is running now (workers and real-time requests).",
                           static_cast<double>(sets_in_flight_));
  prometheus::AppendMetric(out, "sluice_sets_finished_total", "counter",
                           "Set runs this process finished, committed or not.",
                           static_cast<double>(sets_finished_));
  return out;
}

}  // namespace sluice::pipeline

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
  prometheus::AppendHeader(out, "sluice_items_fetched_total", "counter",
                           "Items this process fetched (or was sent) and stored.");
  StrAppend(out, "sluice_items_fetched_total ", items_ok_, "\n");
  prometheus::AppendHeader(out, "sluice_fetched_bytes_total", "counter",
                           "Bytes of the items this process fetched (or was sent).");
  StrAppend(out, "sluice_fetched_bytes_total ", bytes_, "\n");
  prometheus::AppendHeader(out, "sluice_items_failed_total", "counter",
                           "Items this process could not fetch or store, by cause.");
  for (const auto& [cause, count] : failed_by_cause_)
    StrAppend(out, "sluice_items_failed_total{cause=\"", prometheus::LabelValue(cause), "\"} ",
              count, "\n");
  prometheus::AppendHeader(out, "sluice_step_seconds", "histogram",
                           "Time of each step this process ran, by method.");
  for (const auto& [method, latency] : step_seconds_)
    latency.AppendTo(out, "sluice_step_seconds",
                     StrCat("method=\"", prometheus::LabelValue(method), "\""));
  prometheus::AppendHeader(out, "sluice_step_failures_total", "counter",
                           "Steps this process ran that failed, by method.");
  for (const auto& [method, count] : step_failures_)
    StrAppend(out, "sluice_step_failures_total{method=\"", prometheus::LabelValue(method), "\"} ",
              count, "\n");
  prometheus::AppendHeader(out, "sluice_sets_in_flight", "gauge",
                           "Sets this process is running now (workers and real-time requests).");
  StrAppend(out, "sluice_sets_in_flight ", sets_in_flight_, "\n");
  prometheus::AppendHeader(out, "sluice_sets_finished_total", "counter",
                           "Set runs this process finished, committed or not.");
  StrAppend(out, "sluice_sets_finished_total ", sets_finished_, "\n");
  return out;
}

}  // namespace sluice::pipeline

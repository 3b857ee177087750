#include "db/job_status.h"

#include <set>

namespace sluice::db {

boost::json::object JobToJson(const Job& job) {
  boost::json::object out{{"id", job.id},
                          {"token", job.token},
                          {"set", job.set},
                          {"pipeline", job.pipeline},
                          {"state", JobStateName(job.state)},
                          {"priority", job.priority},
                          {"attempts", job.attempts},
                          {"max_attempts", job.max_attempts},
                          {"epoch", job.epoch},
                          {"worker", job.worker},
                          {"created_ms", job.created_ms},
                          {"started_ms", job.started_ms},
                          {"finished_ms", job.finished_ms}};
  if (!job.failure_cause.empty())
    out["failure"] = {{"cause", job.failure_cause}, {"details", job.failure_details}};
  return out;
}

Result<JobProgress> ProgressOf(Catalog& catalog, const Job& job) {
  SLUICE_ASSIGN_OR_RETURN(std::vector<ItemRecord> items, catalog.ListItems(job.set));
  std::set<std::string> wanted(job.urls.begin(), job.urls.end());
  JobProgress progress{.urls = static_cast<int64_t>(job.urls.size())};
  for (const ItemRecord& item : items) {
    if (!wanted.contains(item.url)) continue;
    if (item.status == ItemStatus::kOk) {
      ++progress.ok;
    } else {
      ++progress.failed;
      ++progress.failures_by_cause[item.failure_cause];
    }
  }
  return progress;
}

boost::json::object JobStatusJson(const Job& job, const JobProgress& progress) {
  boost::json::object out = JobToJson(job);
  out["urls"] = progress.urls;
  out["items_ok"] = progress.ok;
  out["items_failed"] = progress.failed;
  boost::json::object by_cause;
  for (const auto& [cause, count] : progress.failures_by_cause) by_cause[cause] = count;
  out["failures_by_cause"] = std::move(by_cause);
  return out;
}

}  // namespace sluice::db

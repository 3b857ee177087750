#include "db/job_status.h"

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
  SLUICE_ASSIGN_OR_RETURN(Outcomes outcomes, catalog.CountOutcomes(job.set, job.urls));
  return JobProgress{.urls = static_cast<int64_t>(job.urls.size()),
                     .ok = outcomes.ok,
                     .failed = outcomes.failed,
                     .failures_by_cause = std::move(outcomes.failed_by_cause)};
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

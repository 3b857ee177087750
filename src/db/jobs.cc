#include <algorithm>
#include <random>
#include <tuple>

#include "common/strings.h"
#include "db/catalog.h"
#include "db/job_rows.h"

namespace sluice::db {

std::string_view JobStateName(JobState state) {
  switch (state) {
    case JobState::kQueued:
      return "queued";
    case JobState::kRunning:
      return "running";
    case JobState::kDone:
      return "done";
    case JobState::kDead:
      return "dead";
  }
  return "queued";
}

std::optional<JobState> ParseJobState(std::string_view name) {
  for (JobState state : {JobState::kQueued, JobState::kRunning, JobState::kDone, JobState::kDead})
    if (JobStateName(state) == name) return state;
  return std::nullopt;
}

Result<Claimed> JobStore::CompleteAndClaim(const std::vector<Lease>& finished,
                                           std::string_view worker, int max_jobs,
                                           std::chrono::milliseconds lease,
                                           const std::vector<std::string>& pipelines) {
  Claimed out;
  if (!finished.empty()) {
    SLUICE_ASSIGN_OR_RETURN(out.completed, Complete(finished));
  }
  SLUICE_ASSIGN_OR_RETURN(out.jobs, Claim(worker, max_jobs, lease, pipelines));
  return out;
}

Status LeaseLost(const Lease& lease) {
  return Failure(absl::StatusCode::kFailedPrecondition, "lease_lost",
                 StrCat("job ", lease.job_id, ": the lease of epoch ", lease.epoch,
                        " was taken over by another worker; this worker's writes are refused"));
}

std::string PipelineFilter(const std::vector<std::string>& pipelines) {
  std::string filter;
  for (const std::string& name : pipelines) StrAppend(filter, filter.empty() ? "" : ",", name);
  return filter;
}

Job JobFromRow(const std::function<std::string(int)>& text,
               const std::function<int64_t(int)>& number, bool with_urls) {
  Job job;
  job.id = number(0);
  job.token = text(1);
  job.set = text(2);
  job.state = ParseJobState(text(3)).value_or(JobState::kQueued);
  job.priority = static_cast<int>(number(4));
  job.attempts = static_cast<int>(number(5));
  job.max_attempts = static_cast<int>(number(6));
  job.epoch = number(7);
  job.worker = text(8);
  job.dedupe_key = text(9);
  job.created_ms = number(10);
  job.started_ms = number(11);
  job.finished_ms = number(12);
  job.lease_until_ms = number(13);
  job.failure_cause = text(14);
  job.failure_details = text(15);
  job.pipeline = text(16);
  if (with_urls) {
    std::string urls = text(kJobUrlsColumn);
    for (std::string_view url : Split(urls, "\n"))
      if (!url.empty()) job.urls.emplace_back(url);
  }
  return job;
}

void SortInClaimOrder(std::vector<Job>& jobs) {
  std::sort(jobs.begin(), jobs.end(), [](const Job& a, const Job& b) {
    return std::tie(b.priority, a.id) < std::tie(a.priority, b.id);
  });
}

std::string JoinUrls(const std::vector<std::string>& urls) {
  std::string out;
  for (const std::string& url : urls) StrAppend(out, url, "\n");
  return out;
}

std::string NewJobToken() {
  thread_local std::mt19937_64 random(std::random_device{}());
  static constexpr char kHex[] = "0123456789abcdef";
  std::string token;
  for (int i = 0; i < 20; ++i) token.push_back(kHex[random() % 16]);
  return token;
}

Status ValidateJobSpec(const JobSpec& spec) {
  if (spec.set.empty()) return absl::InvalidArgumentError("a job needs a set name");
  if (spec.urls.empty())
    return absl::InvalidArgumentError(StrCat("job for set '", spec.set, "' has no URLs"));
  for (const std::string& url : spec.urls) {
    if (url.find('\n') != std::string::npos)
      return absl::InvalidArgumentError("a URL contains a newline");
  }
  if (spec.max_attempts < 1) return absl::InvalidArgumentError("max_attempts must be at least 1");
  if (spec.pipeline.empty() || spec.pipeline.find_first_of(",\n") != std::string::npos) {
    return absl::InvalidArgumentError(
        StrCat("the pipeline must be a name or a file without commas, not '", spec.pipeline, "'"));
  }
  return absl::OkStatus();
}

}  // namespace sluice::db

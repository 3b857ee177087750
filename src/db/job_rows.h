// Internal to db/: what the SQLite and Postgres job queues share — the columns a Job is read
// from, in order, and how a row becomes a Job.
#pragma once

#include <functional>
#include <string>

#include "db/jobs.h"

namespace sluice::db {

// SELECT list (and RETURNING list) of a job, matching JobFromRow's column numbers. Without the
// URLs (kJobColumnsWithUrls adds them as the last column).
inline constexpr const char* kJobColumns =
    "id, token, set_name, state, priority, attempts, max_attempts, epoch, coalesce(worker, ''), "
    "coalesce(dedupe_key, ''), created_at, coalesce(started_at, 0), coalesce(finished_at, 0), "
    "coalesce(lease_until, 0), coalesce(failure_cause, ''), coalesce(failure_details, ''), "
    "pipeline";
inline constexpr int kJobUrlsColumn = 17;

// `pipelines` as Claim's filter parameter: comma-separated, "" for any (the SQL tests
// membership in it).
std::string PipelineFilter(const std::vector<std::string>& pipelines);

// Builds a Job from a row read through `text(column)` and `number(column)`; the URLs only when
// `with_urls` (column kJobUrlsColumn: newline-separated).
Job JobFromRow(const std::function<std::string(int)>& text,
               const std::function<int64_t(int)>& number, bool with_urls);

// Puts claimed jobs in the order claims take them: higher priority first, then oldest (the
// backends' RETURNING gives rows in no promised order).
void SortInClaimOrder(std::vector<Job>& jobs);

// URLs as stored: one per line (URLs never contain a newline; the list parser rejects them).
std::string JoinUrls(const std::vector<std::string>& urls);
// 20 random hex characters: unguessable enough that a token is a handle, not an enumeration.
std::string NewJobToken();
// InvalidArgument when the spec cannot become a job.
Status ValidateJobSpec(const JobSpec& spec);

}  // namespace sluice::db

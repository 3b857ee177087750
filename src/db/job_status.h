// What a job looks like to the people following it (`sluice status`, `GET /v1/jobs/{token}`):
// the job row as JSON, and how far its set has got with the job's URLs.
#pragma once

#include <boost/json/object.hpp>
#include <cstdint>
#include <map>
#include <string>

#include "db/catalog.h"
#include "db/jobs.h"

namespace sluice::db {

// The job's row (URLs left out: a list may be long): id, token, set, pipeline, state, priority,
// attempts, max_attempts, epoch, worker, times in ms, and "failure" {cause, details} if any.
boost::json::object JobToJson(const Job& job);

struct JobProgress {
  int64_t urls = 0;    // the job's URLs
  int64_t ok = 0;      // recorded ok in its set
  int64_t failed = 0;  // recorded failed
  std::map<std::string, int64_t> failures_by_cause;
};

// The job's URLs as its set records them now. Errors: the catalog's.
Result<JobProgress> ProgressOf(Catalog& catalog, const Job& job);

// JobToJson with the progress: "urls", "items_ok", "items_failed", "failures_by_cause".
boost::json::object JobStatusJson(const Job& job, const JobProgress& progress);

}  // namespace sluice::db

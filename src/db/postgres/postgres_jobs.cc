// PostgresCatalog's job queue (db/jobs.h) for fleets: claims with FOR UPDATE SKIP LOCKED so
// concurrent workers never wait on each other's rows, time from the server's clock (one clock
// for every worker's leases), and NOTIFY sluice_jobs whenever work becomes ready.
#include <algorithm>
#include <thread>
#include <tuple>

#include "common/strings.h"
#include "db/job_rows.h"
#include "db/postgres/postgres_catalog.h"

namespace sluice::db {
namespace {

std::vector<Job> ReadJobs(const pg::Rows& rows, bool with_urls) {
  std::vector<Job> jobs;
  jobs.reserve(static_cast<size_t>(rows.size()));
  for (int i = 0; i < rows.size(); ++i) {
    jobs.push_back(JobFromRow([&](int column) { return rows.Text(i, column); },
                              [&](int column) { return rows.Int(i, column); }, with_urls));
  }
  return jobs;
}

std::string LeaseArray(const std::vector<Lease>& leases, int64_t Lease::*field) {
  std::string out = "{";
  for (size_t i = 0; i < leases.size(); ++i) StrAppend(out, i ? "," : "", leases[i].*field);
  out.push_back('}');
  return out;
}

constexpr const char* kNotify = "SELECT pg_notify('sluice_jobs', '')";

}  // namespace

Status CompleteFenced(pg::Connection& c, const Lease& lease) {
  SLUICE_ASSIGN_OR_RETURN(pg::Rows done, c.Exec(R"sql(
    UPDATE jobs SET state = 'done', finished_at = sluice_now_ms(), lease_until = NULL
    WHERE id = $1 AND epoch = $2 AND state IN ('running', 'done'))sql",
                                                pg::Params().Add(lease.job_id).Add(lease.epoch)));
  if (done.affected() == 0) return LeaseLost(lease);
  return absl::OkStatus();
}

Result<Submitted> PostgresCatalog::Submit(const JobSpec& spec) {
  SLUICE_RETURN_IF_ERROR(ValidateJobSpec(spec));
  std::string urls = JoinUrls(spec.urls);
  std::string select_by_key =
      StrCat("SELECT ", kJobColumns, ", urls FROM jobs WHERE dedupe_key = $1");
  return pool_->Get<Submitted>([&](pg::Connection& c) -> Result<Submitted> {
    std::optional<Submitted> out;
    SLUICE_RETURN_IF_ERROR(c.Transaction([&]() -> Status {
      SLUICE_ASSIGN_OR_RETURN(pg::Rows inserted, c.Exec(StrCat(R"sql(
            INSERT INTO jobs(token, set_name, state, priority, fair_rank, max_attempts, urls,
                             dedupe_key, run_at, created_at, pipeline)
            VALUES ($1, $2, 'queued', $3,
                    greatest(coalesce((SELECT max(fair_rank) + 1 FROM jobs
                                       WHERE set_name = $2 AND state IN ('queued', 'running')), 0),
                             coalesce((SELECT min(fair_rank) FROM jobs WHERE state = 'queued'), 0)),
                    $4, $5, $6, sluice_now_ms(), sluice_now_ms(), $7)
            ON CONFLICT (dedupe_key) DO NOTHING
            RETURNING )sql",
                                                               kJobColumns, ", urls"),
                                                        pg::Params()
                                                            .Add(NewJobToken())
                                                            .Add(spec.set)
                                                            .Add(int64_t{spec.priority})
                                                            .Add(int64_t{spec.max_attempts})
                                                            .Add(urls)
                                                            .AddOrNull(spec.dedupe_key)
                                                            .Add(spec.pipeline)));
      if (!inserted.empty()) {
        out = Submitted{ReadJobs(inserted, true)[0], true};
        return c.Exec(kNotify).status();
      }
      SLUICE_ASSIGN_OR_RETURN(pg::Rows existing,
                              c.Exec(select_by_key, pg::Params().Add(spec.dedupe_key)));
      if (existing.empty()) return absl::InternalError("dedupe conflict without a job");
      out = Submitted{ReadJobs(existing, true)[0], false};
      return absl::OkStatus();
    }));
    return *out;
  });
}

Result<std::vector<Job>> PostgresCatalog::Claim(std::string_view worker, int max_jobs,
                                                std::chrono::milliseconds lease,
                                                const std::vector<std::string>& pipelines) {
  SLUICE_ASSIGN_OR_RETURN(Claimed claimed,
                          CompleteAndClaim({}, worker, max_jobs, lease, pipelines));
  return std::move(claimed.jobs);
}

Result<Claimed> PostgresCatalog::CompleteAndClaim(const std::vector<Lease>& finished,
                                                  std::string_view worker, int max_jobs,
                                                  std::chrono::milliseconds lease,
                                                  const std::vector<std::string>& pipelines) {
  // One statement: the finished jobs done, the next ones picked and leased, and the count of
  // the finished ones done as the last column. The one-row join keeps that count when nothing
  // is claimed (the job columns are then NULL). The two updates touch disjoint rows (running
  // or done ones; queued ones). `picked` waits for `done` (its count is a condition): a claimer
  // that picked first and then waited on a finished row locked by another claimer's stale scan
  // deadlocked at 256 connections. Planned once per connection (pg::Plan::kGeneric): custom
  // plans were a fifth of the server's CPU; ANY(ARRAY(...)) keeps the generic plan on the
  // primary key. Built once: the text is also its prepared-statement key.
  static const std::string sql = [] {
    return StrCat(R"sql(
    WITH done AS (
      UPDATE jobs SET state = 'done', finished_at = sluice_now_ms(), lease_until = NULL
      FROM unnest($5::bigint[], $6::bigint[]) AS held(id, epoch)
      WHERE jobs.id = held.id AND jobs.epoch = held.epoch AND jobs.state IN ('running', 'done')
      RETURNING jobs.id),
    picked AS (
      SELECT id FROM jobs WHERE state = 'queued' AND run_at <= sluice_now_ms()
        AND ($4 = '' OR pipeline = ANY(string_to_array($4, ',')))
        AND (SELECT count(*) FROM done) >= 0
      ORDER BY priority DESC, fair_rank, id
      LIMIT $2 FOR UPDATE SKIP LOCKED),
    claimed AS (
      UPDATE jobs SET state = 'running', epoch = epoch + 1, attempts = attempts + 1, worker = $1,
                      started_at = sluice_now_ms(), lease_until = sluice_now_ms() + $3,
                      heartbeat_at = sluice_now_ms()
      WHERE jobs.id = ANY(ARRAY(SELECT id FROM picked))
      RETURNING )sql",
                  kJobColumns, R"sql(, urls)
    SELECT claimed.*, (SELECT count(*) FROM done) FROM (VALUES (1)) AS one(x)
    LEFT JOIN claimed ON true)sql");
  }();
  Claimed out;
  int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                    std::chrono::steady_clock::now().time_since_epoch())
                    .count();
  int64_t due = next_reap_ms_.load();
  bool reap = max_jobs > 0 && now >= due &&
              next_reap_ms_.compare_exchange_strong(due, now + reap_interval_.count());
  SLUICE_RETURN_IF_ERROR(pool_->Run([&](pg::Connection& c) -> Status {
    // Expired leases go back to the queue (or to dead letter) first, in a statement of their
    // own so that the claim below sees them. SKIP LOCKED: a lease being renewed or committed
    // right now is not expired for us.
    if (reap)
      SLUICE_RETURN_IF_ERROR(c.Exec(R"sql(
      UPDATE jobs SET
        state = CASE WHEN attempts >= max_attempts THEN 'dead' ELSE 'queued' END,
        finished_at = CASE WHEN attempts >= max_attempts THEN sluice_now_ms() END,
        run_at = sluice_now_ms(), lease_until = NULL, failure_cause = 'lease_expired',
        failure_details = 'worker ' || coalesce(worker, '?') ||
                          ' stopped renewing its lease (attempt ' || attempts || ' of ' ||
                          max_attempts || ')'
      WHERE id IN (SELECT id FROM jobs WHERE state = 'running' AND lease_until < sluice_now_ms()
                   FOR UPDATE SKIP LOCKED))sql")
                                 .status());
    SLUICE_ASSIGN_OR_RETURN(pg::Rows rows, c.Exec(sql,
                                                  pg::Params()
                                                      .Add(worker)
                                                      .Add(int64_t{max_jobs})
                                                      .Add(static_cast<int64_t>(lease.count()))
                                                      .Add(PipelineFilter(pipelines))
                                                      .Add(LeaseArray(finished, &Lease::job_id))
                                                      .Add(LeaseArray(finished, &Lease::epoch)),
                                                  pg::Plan::kGeneric));
    if (rows.empty()) return absl::InternalError("the claim statement returned no row");
    out.completed = static_cast<int>(rows.Int(0, kJobUrlsColumn + 1));
    if (!rows.IsNull(0, 0)) out.jobs = ReadJobs(rows, true);
    return absl::OkStatus();
  }));
  SortInClaimOrder(out.jobs);
  return out;
}

Result<std::vector<int64_t>> PostgresCatalog::Heartbeat(const std::vector<Lease>& leases,
                                                        std::chrono::milliseconds lease) {
  if (leases.empty()) return std::vector<int64_t>{};
  return pool_->Get<std::vector<int64_t>>([&](pg::Connection& c) -> Result<std::vector<int64_t>> {
    SLUICE_ASSIGN_OR_RETURN(pg::Rows lost, c.Exec(R"sql(
      WITH held AS (SELECT * FROM unnest($1::bigint[], $2::bigint[]) AS h(id, epoch)),
           renewed AS (
             UPDATE jobs SET lease_until = sluice_now_ms() + $3, heartbeat_at = sluice_now_ms()
             FROM held WHERE jobs.id = held.id AND jobs.epoch = held.epoch
                         AND jobs.state = 'running'
             RETURNING jobs.id)
      SELECT id FROM held WHERE id NOT IN (SELECT id FROM renewed))sql",
                                                  pg::Params()
                                                      .Add(LeaseArray(leases, &Lease::job_id))
                                                      .Add(LeaseArray(leases, &Lease::epoch))
                                                      .Add(static_cast<int64_t>(lease.count()))));
    std::vector<int64_t> ids;
    for (int i = 0; i < lost.size(); ++i) ids.push_back(lost.Int(i, 0));
    return ids;
  });
}

Status PostgresCatalog::Fail(const Lease& lease, const Status& cause, bool retryable,
                             std::chrono::milliseconds backoff) {
  return pool_->Run([&](pg::Connection& c) -> Status {
    return c.Transaction([&]() -> Status {
      SLUICE_ASSIGN_OR_RETURN(pg::Rows rows, c.Exec(R"sql(
        UPDATE jobs SET
          state = CASE WHEN $3 AND attempts < max_attempts THEN 'queued' ELSE 'dead' END,
          finished_at = CASE WHEN $3 AND attempts < max_attempts THEN NULL
                             ELSE sluice_now_ms() END,
          run_at = sluice_now_ms() + $4, lease_until = NULL, failure_cause = $5,
          failure_details = $6
        WHERE id = $1 AND epoch = $2 AND state = 'running'
        RETURNING state)sql",
                                                    pg::Params()
                                                        .Add(lease.job_id)
                                                        .Add(lease.epoch)
                                                        .Add(retryable ? "true" : "false")
                                                        .Add(static_cast<int64_t>(backoff.count()))
                                                        .Add(CauseOf(cause))
                                                        .Add(std::string(cause.message()))));
      if (rows.empty()) return LeaseLost(lease);
      if (rows.Text(0, 0) == "queued") return c.Exec(kNotify).status();
      return absl::OkStatus();
    });
  });
}

Result<int> PostgresCatalog::Complete(const std::vector<Lease>& leases) {
  if (leases.empty()) return 0;
  SLUICE_ASSIGN_OR_RETURN(Claimed none, CompleteAndClaim(leases, "", 0, {}, {}));
  return none.completed;
}

Result<Job> PostgresCatalog::FindJob(std::string_view token_or_id) {
  int64_t id = 0;
  bool numeric = ParseInt(token_or_id, id);
  return pool_->Get<Job>([&](pg::Connection& c) -> Result<Job> {
    SLUICE_ASSIGN_OR_RETURN(
        pg::Rows rows,
        c.Exec(StrCat("SELECT ", kJobColumns, ", urls FROM jobs WHERE token = $1 OR id = $2"),
               pg::Params().Add(token_or_id).Add(numeric ? id : int64_t{-1})));
    if (rows.empty()) return absl::NotFoundError(StrCat("no job '", token_or_id, "'"));
    return ReadJobs(rows, true)[0];
  });
}

Result<std::vector<Job>> PostgresCatalog::ListJobs(std::optional<JobState> state, int limit) {
  return pool_->Get<std::vector<Job>>([&](pg::Connection& c) -> Result<std::vector<Job>> {
    pg::Params params;
    params.AddOrNull(state ? JobStateName(*state) : "").Add(int64_t{limit});
    SLUICE_ASSIGN_OR_RETURN(
        pg::Rows rows,
        c.Exec(StrCat("SELECT ", kJobColumns,
                      " FROM jobs WHERE $1::text IS NULL OR state = $1 ORDER BY id DESC LIMIT $2"),
               params));
    return ReadJobs(rows, false);
  });
}

Result<std::map<JobState, int64_t>> PostgresCatalog::CountJobs() {
  return pool_->Get<std::map<JobState, int64_t>>(
      [&](pg::Connection& c) -> Result<std::map<JobState, int64_t>> {
        SLUICE_ASSIGN_OR_RETURN(pg::Rows rows,
                                c.Exec("SELECT state, COUNT(*) FROM jobs GROUP BY state"));
        std::map<JobState, int64_t> counts;
        for (int i = 0; i < rows.size(); ++i) {
          if (std::optional<JobState> state = ParseJobState(rows.Text(i, 0)))
            counts[*state] = rows.Int(i, 1);
        }
        return counts;
      });
}

Result<Job> PostgresCatalog::RetryJob(int64_t id) {
  return pool_->Get<Job>([&](pg::Connection& c) -> Result<Job> {
    std::optional<Job> job;
    SLUICE_RETURN_IF_ERROR(c.Transaction([&]() -> Status {
      SLUICE_ASSIGN_OR_RETURN(
          pg::Rows rows,
          c.Exec(StrCat("UPDATE jobs SET state = 'queued', attempts = 0, run_at = sluice_now_ms(), "
                        "finished_at = NULL WHERE id = $1 AND state = 'dead' RETURNING ",
                        kJobColumns),
                 pg::Params().Add(id)));
      if (!rows.empty()) {
        job = ReadJobs(rows, false)[0];
        return c.Exec(kNotify).status();
      }
      SLUICE_ASSIGN_OR_RETURN(pg::Rows state,
                              c.Exec("SELECT state FROM jobs WHERE id = $1", pg::Params().Add(id)));
      if (state.empty()) return absl::NotFoundError(StrCat("no job ", id));
      return absl::FailedPreconditionError(
          StrCat("job ", id, " is ", state.Text(0, 0), "; only dead jobs are retried"));
    }));
    return *job;
  });
}

Result<Job> PostgresCatalog::CancelJob(int64_t id) {
  return pool_->Get<Job>([&](pg::Connection& c) -> Result<Job> {
    SLUICE_ASSIGN_OR_RETURN(
        pg::Rows rows,
        c.Exec(StrCat("UPDATE jobs SET state = 'dead', epoch = epoch + 1, "
                      "finished_at = sluice_now_ms(), lease_until = NULL, "
                      "failure_cause = 'cancelled', failure_details = 'cancelled on request' "
                      "WHERE id = $1 AND state IN ('queued', 'running') RETURNING ",
                      kJobColumns),
               pg::Params().Add(id)));
    if (!rows.empty()) return ReadJobs(rows, false)[0];
    SLUICE_ASSIGN_OR_RETURN(pg::Rows state,
                            c.Exec("SELECT state FROM jobs WHERE id = $1", pg::Params().Add(id)));
    if (state.empty()) return absl::NotFoundError(StrCat("no job ", id));
    return absl::FailedPreconditionError(StrCat("job ", id, " is ", state.Text(0, 0),
                                                "; only queued or running jobs are cancelled"));
  });
}

Result<bool> PostgresCatalog::WaitForJobs(std::chrono::milliseconds timeout) {
  std::lock_guard lock(listen_mu_);
  if (!listener_ || !listener_->healthy()) {
    listener_.reset();
    Result<std::unique_ptr<pg::Connection>> connection = pg::Connection::Open(pool_->conninfo());
    if (!connection.ok()) {
      // Polling is the fallback: wait out the interval and let the caller try a claim.
      std::this_thread::sleep_for(timeout);
      return false;
    }
    SLUICE_RETURN_IF_ERROR((*connection)->ExecScript("LISTEN sluice_jobs"));
    listener_ = std::move(*connection);
  }
  Result<bool> notified = listener_->WaitForNotify(timeout);
  if (!notified.ok()) {
    listener_.reset();
    return false;
  }
  return *notified;
}

}  // namespace sluice::db

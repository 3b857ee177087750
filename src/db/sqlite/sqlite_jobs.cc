// SqliteCatalog's job queue (db/jobs.h) for the embedded default: one process, or a few on one
// machine, sharing the file. Claims are serialised by BEGIN IMMEDIATE.
#include <thread>

#include "common/strings.h"
#include "db/job_rows.h"
#include "db/sqlite/sqlite_catalog.h"
#include "db/sqlite/statement.h"

namespace sluice::db {
namespace {

Job ReadJob(Statement& row, bool with_urls) {
  return JobFromRow([&](int column) { return row.Text(column); },
                    [&](int column) { return row.Int(column); }, with_urls);
}

std::string SelectJob(std::string_view where, bool with_urls) {
  return StrCat("SELECT ", kJobColumns, with_urls ? ", urls" : "", " FROM jobs ", where);
}

}  // namespace

Result<Submitted> SqliteCatalog::Submit(const JobSpec& spec) {
  SLUICE_RETURN_IF_ERROR(ValidateJobSpec(spec));
  std::lock_guard lock(mu_);
  Submitted out;
  SLUICE_RETURN_IF_ERROR(InTransaction([&]() -> Status {
    if (!spec.dedupe_key.empty()) {
      Statement existing(statements_, SelectJob("WHERE dedupe_key = ?1", true).c_str());
      existing.Bind(1, spec.dedupe_key);
      if (sqlite3_step(existing.get()) == SQLITE_ROW) {
        out = {ReadJob(existing, true), false};
        return absl::OkStatus();
      }
    }
    int64_t now = NowMillis();
    Statement insert(statements_, R"sql(
      INSERT INTO jobs(token, set_name, state, priority, fair_rank, max_attempts, urls, dedupe_key,
                       run_at, created_at, pipeline)
      VALUES (?1, ?2, 'queued', ?3,
              max(coalesce((SELECT max(fair_rank) + 1 FROM jobs
                            WHERE set_name = ?2 AND state IN ('queued', 'running')), 0),
                  coalesce((SELECT min(fair_rank) FROM jobs WHERE state = 'queued'), 0)),
              ?4, ?5, ?6, ?7, ?7, ?8)
      RETURNING id)sql");
    if (!insert.ok()) return Error("preparing job insert");
    insert.Bind(1, NewJobToken());
    insert.Bind(2, spec.set);
    insert.Bind(3, int64_t{spec.priority});
    insert.Bind(4, int64_t{spec.max_attempts});
    insert.Bind(5, JoinUrls(spec.urls));
    insert.BindOrNull(6, spec.dedupe_key);
    insert.Bind(7, now);
    insert.Bind(8, spec.pipeline);
    if (sqlite3_step(insert.get()) != SQLITE_ROW) return Error("queueing the job");
    int64_t id = insert.Int(0);
    sqlite3_reset(insert.get());
    Statement select(statements_, SelectJob("WHERE id = ?1", true).c_str());
    select.Bind(1, id);
    if (sqlite3_step(select.get()) != SQLITE_ROW) return Error("reading the queued job");
    out = {ReadJob(select, true), true};
    return absl::OkStatus();
  }));
  return out;
}

Status SqliteCatalog::ReapExpiredLeases(int64_t now) {
  Statement reap(statements_, R"sql(
    UPDATE jobs SET
      state = CASE WHEN attempts >= max_attempts THEN 'dead' ELSE 'queued' END,
      finished_at = CASE WHEN attempts >= max_attempts THEN ?1 ELSE NULL END,
      run_at = ?1, lease_until = NULL, failure_cause = 'lease_expired',
      failure_details = 'worker ' || coalesce(worker, '?') || ' stopped renewing its lease (attempt '
                        || attempts || ' of ' || max_attempts || ')'
    WHERE state = 'running' AND lease_until < ?1)sql");
  if (!reap.ok()) return Error("preparing lease reaping");
  reap.Bind(1, now);
  if (sqlite3_step(reap.get()) != SQLITE_DONE) return Error("reaping expired leases");
  return absl::OkStatus();
}

Result<std::vector<Job>> SqliteCatalog::Claim(std::string_view worker, int max_jobs,
                                              std::chrono::milliseconds lease,
                                              const std::vector<std::string>& pipelines) {
  std::lock_guard lock(mu_);
  std::vector<Job> claimed;
  SLUICE_RETURN_IF_ERROR(InTransaction([&]() -> Status {
    int64_t now = NowMillis();
    SLUICE_RETURN_IF_ERROR(ReapExpiredLeases(now));
    Statement claim(statements_, StrCat(R"sql(
      UPDATE jobs SET state = 'running', epoch = epoch + 1, attempts = attempts + 1, worker = ?1,
                      started_at = ?2, lease_until = ?2 + ?3, heartbeat_at = ?2
      WHERE id IN (SELECT id FROM jobs WHERE state = 'queued' AND run_at <= ?2
                   AND (?5 = '' OR instr(',' || ?5 || ',', ',' || pipeline || ',') > 0)
                   ORDER BY priority DESC, fair_rank, id LIMIT ?4)
      RETURNING )sql",
                                        kJobColumns, ", urls")
                                     .c_str());
    if (!claim.ok()) return Error("preparing claim");
    claim.Bind(1, worker);
    claim.Bind(2, now);
    claim.Bind(3, static_cast<int64_t>(lease.count()));
    claim.Bind(4, int64_t{max_jobs});
    claim.Bind(5, PipelineFilter(pipelines));
    int rc;
    while ((rc = sqlite3_step(claim.get())) == SQLITE_ROW) claimed.push_back(ReadJob(claim, true));
    if (rc != SQLITE_DONE) return Error("claiming jobs");
    return absl::OkStatus();
  }));
  SortInClaimOrder(claimed);
  return claimed;
}

Result<std::vector<int64_t>> SqliteCatalog::Heartbeat(const std::vector<Lease>& leases,
                                                      std::chrono::milliseconds lease) {
  std::lock_guard lock(mu_);
  std::vector<int64_t> lost;
  SLUICE_RETURN_IF_ERROR(InTransaction([&]() -> Status {
    int64_t now = NowMillis();
    Statement renew(statements_, R"sql(
      UPDATE jobs SET lease_until = ?3 + ?4, heartbeat_at = ?3
      WHERE id = ?1 AND epoch = ?2 AND state = 'running')sql");
    if (!renew.ok()) return Error("preparing heartbeat");
    for (const Lease& held : leases) {
      sqlite3_reset(renew.get());
      renew.Bind(1, held.job_id);
      renew.Bind(2, held.epoch);
      renew.Bind(3, now);
      renew.Bind(4, static_cast<int64_t>(lease.count()));
      if (sqlite3_step(renew.get()) != SQLITE_DONE) return Error("renewing a lease");
      if (sqlite3_changes(db_) == 0) lost.push_back(held.job_id);
    }
    return absl::OkStatus();
  }));
  return lost;
}

Status SqliteCatalog::Fail(const Lease& lease, const Status& cause, bool retryable,
                           std::chrono::milliseconds backoff) {
  std::lock_guard lock(mu_);
  return InTransaction([&]() -> Status {
    int64_t now = NowMillis();
    Statement fail(statements_, R"sql(
      UPDATE jobs SET
        state = CASE WHEN ?3 AND attempts < max_attempts THEN 'queued' ELSE 'dead' END,
        finished_at = CASE WHEN ?3 AND attempts < max_attempts THEN NULL ELSE ?4 END,
        run_at = ?4 + ?5, lease_until = NULL, failure_cause = ?6, failure_details = ?7
      WHERE id = ?1 AND epoch = ?2 AND state = 'running')sql");
    if (!fail.ok()) return Error("preparing job failure");
    fail.Bind(1, lease.job_id);
    fail.Bind(2, lease.epoch);
    fail.Bind(3, int64_t{retryable});
    fail.Bind(4, now);
    fail.Bind(5, static_cast<int64_t>(backoff.count()));
    fail.Bind(6, CauseOf(cause));
    fail.Bind(7, std::string(cause.message()));
    if (sqlite3_step(fail.get()) != SQLITE_DONE) return Error("recording the job's failure");
    if (sqlite3_changes(db_) == 0) return LeaseLost(lease);
    return absl::OkStatus();
  });
}

Status SqliteCatalog::CompleteLocked(const Lease& lease) {
  Statement complete(statements_, R"sql(
    UPDATE jobs SET state = 'done', finished_at = ?3, lease_until = NULL
    WHERE id = ?1 AND epoch = ?2 AND state IN ('running', 'done'))sql");
  if (!complete.ok()) return Error("preparing job completion");
  complete.Bind(1, lease.job_id);
  complete.Bind(2, lease.epoch);
  complete.Bind(3, NowMillis());
  if (sqlite3_step(complete.get()) != SQLITE_DONE) return Error("completing the job");
  if (sqlite3_changes(db_) == 0) return LeaseLost(lease);
  return absl::OkStatus();
}

Result<int> SqliteCatalog::Complete(const std::vector<Lease>& leases) {
  std::lock_guard lock(mu_);
  int completed = 0;
  SLUICE_RETURN_IF_ERROR(InTransaction([&]() -> Status {
    for (const Lease& lease : leases) {
      Status status = CompleteLocked(lease);
      if (status.ok()) {
        ++completed;
      } else if (CauseOf(status) != "lease_lost") {
        return status;
      }
    }
    return absl::OkStatus();
  }));
  return completed;
}

Result<Job> SqliteCatalog::FindJob(std::string_view token_or_id) {
  std::lock_guard lock(mu_);
  int64_t id = 0;
  // Ids are short numbers; tokens are 20 hex digits, even when they are all decimal ones.
  bool numeric = token_or_id.size() < 20 && ParseInt(token_or_id, id);
  // Two statements, not one with OR: each uses its index.
  Statement select(statements_,
                   SelectJob(numeric ? "WHERE id = ?1" : "WHERE token = ?1", true).c_str());
  if (!select.ok()) return Error("preparing job lookup");
  if (numeric) {
    select.Bind(1, id);
  } else {
    select.Bind(1, token_or_id);
  }
  if (sqlite3_step(select.get()) != SQLITE_ROW)
    return absl::NotFoundError(StrCat("no job '", token_or_id, "'"));
  return ReadJob(select, true);
}

Result<std::vector<Job>> SqliteCatalog::ListJobs(std::optional<JobState> state, int limit) {
  std::lock_guard lock(mu_);
  Statement select(
      statements_,
      SelectJob("WHERE ?1 IS NULL OR state = ?1 ORDER BY id DESC LIMIT ?2", false).c_str());
  if (!select.ok()) return Error("preparing job list");
  if (state) select.Bind(1, JobStateName(*state));
  select.Bind(2, int64_t{limit});
  std::vector<Job> jobs;
  while (select.Next()) jobs.push_back(ReadJob(select, false));
  if (!select.finished()) return Error("reading rows");
  return jobs;
}

Result<std::map<JobState, int64_t>> SqliteCatalog::CountJobs() {
  std::lock_guard lock(mu_);
  Statement select(statements_, "SELECT state, COUNT(*) FROM jobs GROUP BY state");
  if (!select.ok()) return Error("preparing CountJobs");
  std::map<JobState, int64_t> counts;
  while (select.Next()) {
    if (std::optional<JobState> state = ParseJobState(select.Text(0)))
      counts[*state] = select.Int(1);
  }
  if (!select.finished()) return Error("reading rows");
  return counts;
}

Result<Job> SqliteCatalog::ChangeJobState(int64_t id, std::string_view set_clause,
                                          std::string_view from_states, std::string_view only) {
  std::lock_guard lock(mu_);
  Job job;
  SLUICE_RETURN_IF_ERROR(InTransaction([&]() -> Status {
    Statement update(statements_,
                     StrCat("UPDATE jobs SET ", set_clause, " WHERE id = ?1 AND state IN (",
                            from_states, ") RETURNING ", kJobColumns)
                         .c_str());
    if (!update.ok()) return Error("preparing a job state change");
    update.Bind(1, id);
    update.Bind(2, NowMillis());
    if (sqlite3_step(update.get()) == SQLITE_ROW) {
      job = ReadJob(update, false);
      return absl::OkStatus();
    }
    Statement state(statements_, "SELECT state FROM jobs WHERE id = ?1");
    state.Bind(1, id);
    if (sqlite3_step(state.get()) != SQLITE_ROW) return absl::NotFoundError(StrCat("no job ", id));
    return absl::FailedPreconditionError(StrCat("job ", id, " is ", state.Text(0), "; ", only));
  }));
  return job;
}

Result<Job> SqliteCatalog::RetryJob(int64_t id) {
  return ChangeJobState(id, "state = 'queued', attempts = 0, run_at = ?2, finished_at = NULL",
                        "'dead'", "only dead jobs are retried");
}

Result<Job> SqliteCatalog::CancelJob(int64_t id) {
  return ChangeJobState(id,
                        "state = 'dead', epoch = epoch + 1, finished_at = ?2, lease_until = NULL, "
                        "failure_cause = 'cancelled', failure_details = 'cancelled on request'",
                        "'queued', 'running'", "only queued or running jobs are cancelled");
}

Result<bool> SqliteCatalog::WaitForJobs(std::chrono::milliseconds timeout) {
  // No notifications in SQLite: the caller's poll interval is the wait.
  std::this_thread::sleep_for(timeout);
  return false;
}

}  // namespace sluice::db

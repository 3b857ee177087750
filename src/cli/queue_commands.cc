#include "cli/queue_commands.h"

#include <signal.h>
#include <unistd.h>

#include <boost/asio/signal_set.hpp>
#include <boost/json.hpp>
#include <cstdio>
#include <iostream>
#include <map>
#include <optional>
#include <set>

#include "app/compose.h"
#include "cli/test_hooks.h"
#include "common/json_text.h"
#include "common/redact.h"
#include "common/strings.h"
#include "db/job_status.h"
#include "pipeline/set_runner.h"
#include "queue/intake/url_list.h"
#include "worker/worker.h"

namespace sluice::cli {
namespace {

namespace asio = boost::asio;

Result<app::DataDir> OpenQueueData(const QueueConfig& config, app::Process& process) {
  return app::OpenData(config.data, process, {config.db, config.store}, config.config);
}

// The queue's database, with the process it lives in (whose HTTP client an S3 store uses):
// what submit, status and jobs open before anything else.
struct OpenedQueue {
  std::unique_ptr<app::Process> process;
  app::DataDir data;
  db::Database& db() { return *data.db; }
};

Result<OpenedQueue> OpenQueue(const QueueConfig& config) {
  SLUICE_ASSIGN_OR_RETURN(std::unique_ptr<app::Process> process, app::Process::Create());
  SLUICE_ASSIGN_OR_RETURN(app::DataDir data, OpenQueueData(config, *process));
  return OpenedQueue{std::move(process), std::move(data)};
}

std::string JobLine(const db::Job& job) {
  return StrCat(
      job.id, "  ", job.token, "  ", db::JobStateName(job.state), "  set ", job.set, "  attempts ",
      job.attempts, "/", job.max_attempts,
      job.priority ? StrCat("  priority ", job.priority) : std::string(),
      job.failure_cause.empty() ? std::string() : StrCat("  last failure ", job.failure_cause));
}

}  // namespace

int SubmitJob(SubmitConfig config) {
  Result<intake::UrlList> list = ReadSetList(config.list, config.set);
  if (!list.ok()) return Fail(kExitBadInput, list.status());
  Result<OpenedQueue> queue = OpenQueue(config.queue);
  if (!queue.ok()) return Fail(kExitFatal, queue.status());
  Result<db::Submitted> submitted = queue->db().Submit({.set = config.set,
                                                        .urls = list->urls,
                                                        .priority = config.priority,
                                                        .max_attempts = config.max_attempts,
                                                        .pipeline = config.pipeline});
  if (!submitted.ok()) {
    bool refused = submitted.status().code() == absl::StatusCode::kInvalidArgument;
    return Fail(refused ? kExitBadInput : kExitFatal, submitted.status());
  }
  if (config.json) {
    std::cout << JsonText(db::JobToJson(submitted->job)) << std::endl;
  } else {
    std::printf("%s\n", submitted->job.token.c_str());
    std::fprintf(stderr,
                 "sluice: job %lld queued: set %s, %zu URLs; follow it with `sluice status %s`\n",
                 static_cast<long long>(submitted->job.id), config.set.c_str(), list->urls.size(),
                 submitted->job.token.c_str());
  }
  return kExitOk;
}

int ShowJobStatus(StatusConfig config) {
  Result<OpenedQueue> queue = OpenQueue(config.queue);
  if (!queue.ok()) return Fail(kExitFatal, queue.status());
  Result<db::Job> job = queue->db().FindJob(config.token);
  if (!job.ok()) return Fail(kExitBadInput, job.status());
  // Progress: how many of the job's URLs the set has recorded so far.
  Result<db::JobProgress> progress = db::ProgressOf(queue->db(), *job);
  if (!progress.ok()) return Fail(kExitFatal, progress.status());
  if (config.json) {
    std::cout << JsonText(db::JobStatusJson(*job, *progress)) << std::endl;
    return kExitOk;
  }
  int64_t ok = progress->ok, failed = progress->failed;
  const std::map<std::string, int64_t>& causes = progress->failures_by_cause;
  std::printf("job %lld (%s): %s\n", static_cast<long long>(job->id), job->token.c_str(),
              std::string(db::JobStateName(job->state)).c_str());
  std::printf("set:      %s, %zu URLs: %lld recorded ok, %lld failed, %lld to go\n",
              job->set.c_str(), job->urls.size(), static_cast<long long>(ok),
              static_cast<long long>(failed),
              static_cast<long long>(job->urls.size()) - ok - failed);
  std::printf("attempts: %d of %d%s\n", job->attempts, job->max_attempts,
              job->worker.empty() ? "" : StrCat(", last by ", job->worker).c_str());
  for (const auto& [cause, count] : causes)
    std::printf("items failed with %s: %lld\n", cause.c_str(), static_cast<long long>(count));
  if (!job->failure_cause.empty()) {
    std::printf("last failure: %s: %s\n", job->failure_cause.c_str(),
                RedactSecrets(job->failure_details).c_str());
  }
  if (job->state == db::JobState::kDead)
    std::printf("re-drive it with: sluice jobs retry %lld\n", static_cast<long long>(job->id));
  return kExitOk;
}

int ListJobs(JobsConfig config) {
  Result<OpenedQueue> queue = OpenQueue(config.queue);
  if (!queue.ok()) return Fail(kExitFatal, queue.status());
  if (config.retry_id > 0 || config.cancel_id > 0) {
    Result<db::Job> job = config.retry_id > 0 ? queue->db().RetryJob(config.retry_id)
                                              : queue->db().CancelJob(config.cancel_id);
    if (!job.ok()) return Fail(kExitBadInput, job.status());
    std::printf("%s\n", JobLine(*job).c_str());
    return kExitOk;
  }
  std::optional<db::JobState> state;
  if (!config.state.empty()) {
    state = db::ParseJobState(config.state);
    if (!state) {
      return Fail(kExitBadInput,
                  absl::InvalidArgumentError(
                      StrCat("unknown state '", config.state, "' (queued, running, done, dead)")));
    }
  }
  Result<std::vector<db::Job>> jobs = queue->db().ListJobs(state, config.limit);
  if (!jobs.ok()) return Fail(kExitFatal, jobs.status());
  for (const db::Job& job : *jobs) {
    if (config.json) {
      std::cout << JsonText(db::JobToJson(job)) << "\n";
    } else {
      std::printf("%s\n", JobLine(job).c_str());
    }
  }
  if (!config.json && jobs->empty()) std::fprintf(stderr, "sluice: no jobs\n");
  return kExitOk;
}

worker::WorkerOptions WorkerOptionsFor(const WorkerConfig& config, std::string name,
                                       const methods::Registry& registry) {
  auto millis = [](double seconds) {
    return std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000));
  };
  worker::WorkerOptions options{.name = std::move(name),
                                .jobs = config.jobs,
                                .lease = millis(config.lease_seconds),
                                .poll = millis(config.poll_seconds),
                                .exit_when_idle = config.exit_when_idle,
                                .run = {.concurrency = config.concurrency,
                                        .per_host = config.per_host,
                                        .fetch = config.fetch},
                                .pipelines = config.pipelines};
  // Each job runs the pipeline it names, unless --pipeline gives every job this worker's.
  if (config.pipeline.empty()) {
    const methods::Registry* known = &registry;
    options.resolve_pipeline = [known](const std::string& named) {
      return app::PipelineFor(named, *known);
    };
  }
  ApplyTestHooks(options.run);
  return options;
}

std::string WorkerName() {
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  return StrCat(host, ":", getpid());
}

void WorkerLog::OnJobStarted(const db::Job& job) {
  std::fprintf(stderr, "sluice worker: job %lld (%s): set %s, %zu URLs, attempt %d of %d\n",
               static_cast<long long>(job.id), job.token.c_str(), job.set.c_str(), job.urls.size(),
               job.attempts, job.max_attempts);
}
void WorkerLog::OnJobCommitted(const db::Job& job, const pipeline::SetReport& report) {
  const db::SetTotals& totals = report.totals();
  std::fprintf(
      stderr, "sluice worker: job %lld committed: set %s, %lld items, %lld ok, %lld failed\n",
      static_cast<long long>(job.id), totals.set.c_str(), static_cast<long long>(totals.items),
      static_cast<long long>(totals.ok), static_cast<long long>(totals.failed));
}
void WorkerLog::OnLeaseLost(const db::Job& job) {
  std::fprintf(stderr,
               "sluice worker: job %lld: lease lost (taken over by another worker, or cancelled)\n",
               static_cast<long long>(job.id));
}
void WorkerLog::OnJobFailed(const db::Job& job, const Status& status, bool requeued,
                            bool recorded) {
  if (CauseOf(status) == "lease_lost") {
    std::fprintf(stderr, "sluice worker: %s\n",
                 RedactSecrets(std::string(status.message())).c_str());
    return;
  }
  std::fprintf(stderr, "sluice worker: job %lld failed (%s): %s%s\n",
               static_cast<long long>(job.id), CauseOf(status).c_str(),
               RedactSecrets(std::string(status.message())).c_str(),
               !recorded  ? " (the failure was not recorded)"
               : requeued ? "; queued again"
                          : "; dead-lettered");
}
void WorkerLog::OnClaimFailed(const Status& status) {
  std::fprintf(stderr, "sluice worker: cannot claim: %s\n",
               RedactSecrets(std::string(status.message())).c_str());
}

namespace {

// Runs the worker until it stops; SIGINT/SIGTERM stop it (running jobs go back to the queue).
asio::awaitable<worker::WorkerCounts> RunWorkerOnLoop(app::Process& process, worker::Worker& worker,
                                                      std::string name) {
  asio::signal_set signals(process.runtime.loop(), SIGINT, SIGTERM);
  auto on_signal = [&](boost::system::error_code ec, int) {
    if (ec) return;
    std::fprintf(stderr, "sluice worker %s: stopping; running jobs go back to the queue\n",
                 name.c_str());
    worker.Stop();
  };
  signals.async_wait(on_signal);
  worker::WorkerCounts counts = co_await worker.Run();
  boost::system::error_code ignored;
  signals.cancel(ignored);
  co_return counts;
}

}  // namespace

int RunWorker(WorkerConfig config) {
  Result<std::unique_ptr<app::Process>> process = app::Process::Create();
  if (!process.ok()) return Fail(kExitFatal, process.status());
  Result<std::unique_ptr<app::MethodStack>> stack =
      app::BuildMethods(process->get(), config.queue.config);
  if (!stack.ok()) return Fail(kExitBadInput, stack.status());
  Result<pipeline::PipelineDef> definition = app::PipelineFor(config.pipeline, (*stack)->registry);
  if (!definition.ok()) return Fail(kExitBadInput, definition.status());
  // The pipelines this worker serves must exist here before it claims any.
  for (const std::string& served : config.pipelines) {
    Result<pipeline::PipelineDef> known = app::PipelineFor(served, (*stack)->registry);
    if (!known.ok()) return Fail(kExitBadInput, known.status());
  }
  Result<app::DataDir> data = OpenQueueData(config.queue, **process);
  if (!data.ok()) return Fail(kExitFatal, data.status());
  if (Status opened = data->OpenIndexes(); !opened.ok()) return Fail(kExitFatal, opened);
  PrintIndexRepairs(*data, stderr);
  std::string name = config.name.empty() ? WorkerName() : config.name;
  std::fprintf(stderr, "sluice worker %s: database %s, objects %s%s\n", name.c_str(),
               data->database().c_str(), data->objects().c_str(),
               config.sqs.empty() ? "" : StrCat(", intake ", config.sqs).c_str());
  std::unique_ptr<intake::Intake> sqs;
  if (!config.sqs.empty()) {
    Result<std::unique_ptr<intake::Intake>> made =
        app::MakeSqsIntake(**process, *data,
                           {.queue_url = config.sqs,
                            .wait_seconds = config.sqs_wait_seconds,
                            .visibility_seconds = config.sqs_visibility_seconds,
                            .max_attempts = config.max_attempts});
    if (!made.ok()) return Fail(kExitFatal, made.status());
    sqs = std::move(*made);
  }
  worker::WorkerOptions options = WorkerOptionsFor(config, name, (*stack)->registry);
  ReportProviderOutages(**stack);
  WorkerLog log;
  worker::Worker worker(app::SetPartsOf(**process, *data, **stack), std::move(*definition),
                        std::move(options), sqs.get(), &log);
  worker::WorkerCounts counts = (*process)->runtime.Run(RunWorkerOnLoop(**process, worker, name));
  std::fprintf(stderr, "sluice worker %s: %s; %lld job(s) committed, %lld failed\n", name.c_str(),
               counts.stopped ? "stopped" : "queue idle", static_cast<long long>(counts.committed),
               static_cast<long long>(counts.failed));
  if (sqs) {
    const intake::IntakeCounts& in = sqs->counts();
    std::fprintf(stderr,
                 "sluice worker %s: intake: %lld messages, %lld jobs created, %lld already "
                 "queued, %lld left for the redrive policy\n",
                 name.c_str(), static_cast<long long>(in.received),
                 static_cast<long long>(in.jobs_created), static_cast<long long>(in.duplicates),
                 static_cast<long long>(in.rejected));
  }
  return counts.stopped ? kExitInterrupted : kExitOk;
}

}  // namespace sluice::cli

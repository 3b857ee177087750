// sluice: the command line. Parses arguments into the command families' configs; nothing else
// lives here.
#include <CLI/CLI.hpp>
#include <cstdio>

#include "cli/backfill_commands.h"
#include "cli/doctor_commands.h"
#include "cli/eval_commands.h"
#include "cli/index_commands.h"
#include "cli/queue_commands.h"
#include "cli/serve_commands.h"
#include "cli/set_commands.h"
#include "cli/verify_commands.h"
#include "common/strings.h"
#include "http/address_guard.h"

namespace {

using sluice::cli::ProgressStyle;

ProgressStyle ParseProgress(const std::string& value) {
  if (value == "bar") return ProgressStyle::kBar;
  if (value == "lines") return ProgressStyle::kLines;
  if (value == "none") return ProgressStyle::kNone;
  return ProgressStyle::kAuto;
}

// The fetch limits and guards shared by `run` and `worker`.
struct FetchFlags {
  double connect_timeout = 10, stall_timeout = 30, total_timeout = 1800;
  int retries = 3;
  std::string max_size = "2GiB";

  void Add(CLI::App* cmd, sluice::http::FetchOptions& fetch) {
    cmd->add_flag(
        "--allow-private", fetch.addresses.allow_private,
        "Allow loopback, private and link-local addresses (refused by default: SSRF guard)");
    cmd->add_option("--allow-address", fetch.addresses.allowed_endpoints,
                    "Allow one non-public ADDR or ADDR:PORT (repeatable)")
        ->check([](const std::string& v) {
          sluice::Status s = sluice::http::ValidateEndpoint(v);
          return s.ok() ? std::string() : std::string(s.message());
        });
    cmd->add_flag("--allow-files", fetch.allow_files, "Accept local paths and file:// URLs");
    cmd->add_option("--resolve", fetch.resolve,
                    "Pin HOST:PORT:ADDRESS like curl --resolve (repeatable)");
    cmd->add_option("--max-size", max_size, "Largest body accepted (e.g. 500MB, 2GiB)")
        ->capture_default_str()
        ->check([](const std::string& v) {
          int64_t bytes = 0;
          return sluice::ParseByteSize(v, bytes) && bytes > 0
                     ? std::string()
                     : "not a size like 500MB or 2GiB: " + v;
        });
    cmd->add_option("--connect-timeout", connect_timeout, "Seconds to connect")
        ->capture_default_str();
    cmd->add_option("--stall-timeout", stall_timeout,
                    "Seconds without a byte before an attempt fails")
        ->capture_default_str();
    cmd->add_option("--timeout", total_timeout, "Seconds for one item, retries included")
        ->capture_default_str();
    cmd->add_option("--retries", retries, "Retries of retryable failures (429, 5xx, drops, stalls)")
        ->capture_default_str()
        ->check(CLI::Range(0, 100));
  }

  void Apply(sluice::http::FetchOptions& fetch) const {
    auto seconds = [](double s) {
      return std::chrono::milliseconds(static_cast<int64_t>(s * 1000));
    };
    fetch.connect_timeout = seconds(connect_timeout);
    fetch.stall_timeout = seconds(stall_timeout);
    fetch.total_timeout = seconds(total_timeout);
    fetch.retry.max_attempts = retries + 1;
    sluice::ParseByteSize(max_size, fetch.max_bytes);  // validated by the option's check
  }
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"sluice: acquire media from URL lists, store each file once, record every item"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "sluice 0.1.0");

  // sluice run
  sluice::cli::RunConfig run;
  std::string run_progress = "auto";
  FetchFlags fetch_flags;
  CLI::App* run_cmd = app.add_subcommand("run", "Fetch and store every URL of a list as one set");
  run_cmd
      ->add_option("URLFILE", run.list,
                   "URL list: one per line, CSV or JSONL with a url column; - for stdin")
      ->required();
  run_cmd->add_option("--set", run.set, "Set name (default: the list's file name)");
  run_cmd->add_option("--data", run.data, "Data directory")->capture_default_str();
  run_cmd->add_option("--concurrency", run.concurrency, "Items in flight")
      ->capture_default_str()
      ->check(CLI::Range(1, 100000));
  run_cmd->add_option("--per-host", run.per_host, "Items in flight per host")
      ->capture_default_str()
      ->check(CLI::Range(1, 100000));
  fetch_flags.Add(run_cmd, run.fetch);
  run_cmd->add_flag("--json", run.json, "Print one JSON summary object on stdout");
  run_cmd->add_option("--pipeline", run.pipeline,
                      "Pipeline file (TOML), or a built-in one: default (local methods), video "
                      "(plus content type, description and clips of videos by a provider), "
                      "defects");
  run_cmd->add_option("--store", run.store,
                      "Object store: s3://bucket/prefix (default: $SLUICE_STORE, else the data "
                      "directory)");
  run_cmd->add_option("--db", run.db,
                      "Database: sqlite://PATH or postgres://… (default: $SLUICE_DB, else the "
                      "config file's [backends], else DATA/sluice.db)");
  run_cmd->add_option("--config", run.config,
                      "Config file with [providers] (default: $SLUICE_CONFIG, else built-in "
                      "openai and bedrock providers from the environment)");
  run_cmd->add_flag("--fetch-only", run.fetch_only, "Fetch and store only; analyse in a later run");
  run_cmd->add_option("--progress", run_progress, "auto, bar, lines or none")
      ->check(CLI::IsMember({"auto", "bar", "lines", "none"}));

  // sluice demo
  sluice::cli::DemoConfig demo;
  std::string demo_progress = "auto";
  CLI::App* demo_cmd =
      app.add_subcommand("demo", "Serve the bundled sample media on loopback and run the main job");
  demo_cmd->add_option("--data", demo.data, "Data directory")->capture_default_str();
  demo_cmd->add_option(
      "--samples", demo.samples,
      "Sample media directory (default: the bundled samples, written to DATA/samples)");
  demo_cmd->add_option("--progress", demo_progress, "auto, bar, lines or none")
      ->check(CLI::IsMember({"auto", "bar", "lines", "none"}));

  // sluice eval
  sluice::cli::EvalConfig eval;
  std::string eval_progress = "auto";
  CLI::App* eval_cmd = app.add_subcommand(
      "eval", "Score the methods' results on a quality corpus (bench/quality/make_corpus.py)");
  eval_cmd->add_option("CORPUS", eval.corpus, "Corpus folder holding truth.json")->required();
  eval_cmd->add_option("--pipeline", eval.pipeline,
                       "Pipeline file (TOML) or built-in name (default: default)");
  eval_cmd->add_option("--json", eval.json, "Also write the scores as JSON to FILE (- for stdout)");
  eval_cmd->add_option("--floors", eval.floors,
                       "Fail (exit 3) when a score is below its floor in FILE "
                       "(bench/quality/floors.json)");
  eval_cmd->add_option("--progress", eval_progress, "auto, bar, lines or none")
      ->check(CLI::IsMember({"auto", "bar", "lines", "none"}));

  // sluice results
  sluice::cli::ResultsConfig results;
  CLI::App* results_cmd = app.add_subcommand("results", "Show recorded sets, or one set's items");
  results_cmd->add_option("--data", results.data, "Data directory")->capture_default_str();
  results_cmd->add_option("--set", results.set, "The set to show (default: list the sets)");
  results_cmd->add_option("--store", results.store, "Object store, as for run");
  results_cmd->add_option("--db", results.db, "Database, as for run");
  results_cmd->add_option("--config", results.config, "Config file with [backends]");
  results_cmd->add_option("--format", results.format, "table or jsonl")
      ->capture_default_str()
      ->check(CLI::IsMember({"table", "jsonl"}));

  // sluice try
  sluice::cli::TryConfig try_config;
  CLI::App* try_cmd =
      app.add_subcommand("try", "Run one method alone on one file and print its result as JSON");
  try_cmd->add_option("METHOD", try_config.method, "Method name (see: sluice methods)")->required();
  try_cmd->add_option("FILE", try_config.file, "Media file")->required();
  try_cmd->add_option("--params", try_config.params,
                      "Parameters as a JSON object, e.g. '{\"colors\": 3}'");
  try_cmd->add_option("--config", try_config.config, "Config file with [providers]");
  try_cmd->add_option("--record", try_config.record,
                      "Save the provider exchanges as cassettes in this directory");
  try_cmd->add_option("--replay", try_config.replay,
                      "Answer provider calls from the cassettes in this directory (no network)");
  try_cmd
      ->add_option("--data", try_config.data,
                   "Data directory (artifacts such as thumbnails go here)")
      ->capture_default_str();

  // sluice search / sluice index
  auto add_data_options = [](CLI::App* cmd, sluice::cli::DataConfig& where) {
    cmd->add_option("--data", where.data, "Data directory")->capture_default_str();
    cmd->add_option("--db", where.db,
                    "Database: sqlite://PATH or postgres://… (default: $SLUICE_DB, else the "
                    "config file's [backends], else DATA/sluice.db)");
    cmd->add_option("--store", where.store, "Object store, as for run");
    cmd->add_option("--config", where.config, "Config file ([providers], [backends])");
  };
  sluice::cli::SearchConfig search;
  CLI::App* search_cmd = app.add_subcommand(
      "search",
      "Find the analysed items that look most like a picture, or that match words (similarity "
      "search)");
  CLI::Option* search_like = search_cmd->add_option(
      "--like", search.like,
      "A picture file or URL (embedded now), or the SHA-256 of analysed content");
  search_cmd
      ->add_option("--text", search.text,
                   "Words to search for, embedded now by the method's model (it must embed text "
                   "too: embed.image with a multimodal model, or embed.text)")
      ->excludes(search_like);
  search_cmd->add_option("--k", search.k, "How many contents to return")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000));
  search_cmd->add_option("--set", search.set, "Only items of this set");
  search_cmd->add_option("--method", search.method, "The embedding method whose index is searched")
      ->capture_default_str();
  search_cmd->add_flag("--json", search.json, "Print one JSON object");
  add_data_options(search_cmd, search.where);
  FetchFlags search_fetch;
  search_fetch.Add(search_cmd, search.fetch);

  sluice::cli::IndexConfig index_config;
  CLI::App* index_cmd =
      app.add_subcommand("index", "Show, rebuild or check the vector indexes of the embeddings");
  index_cmd->add_option("--method", index_config.method, "Only this embedding method's indexes");
  index_cmd->add_flag("--json", index_config.json, "One JSON object per index");
  add_data_options(index_cmd, index_config.where);
  CLI::App* index_stats_cmd =
      index_cmd->add_subcommand("stats", "Each index: kind, vectors held and stored, size");
  CLI::App* index_build_cmd =
      index_cmd->add_subcommand("build", "Rebuild each index from the database's embeddings");
  index_build_cmd
      ->add_option("--kind", index_config.kind,
                   "flat (exact), hnsw, ivfsq or ivfpq (default: chosen from the count and "
                   "budget)")
      ->check(CLI::IsMember({"flat", "hnsw", "ivfsq", "ivfpq"}));
  index_build_cmd
      ->add_option("--memory-budget", index_config.memory_budget_mb,
                   "MiB an index may take in memory when its kind is chosen")
      ->capture_default_str()
      ->check(CLI::Range(1.0, 1e9));
  CLI::App* index_verify_cmd = index_cmd->add_subcommand(
      "verify", "Each index against the database: vectors missing, recall@10 against exact");
  index_verify_cmd->add_option("--sample", index_config.sample, "Queries compared")
      ->capture_default_str()
      ->check(CLI::Range(1, 100000));
  for (CLI::App* sub : {index_stats_cmd, index_build_cmd, index_verify_cmd}) sub->fallthrough();
  index_cmd->require_subcommand(1);

  // sluice backfill plan|run|load
  sluice::cli::BackfillConfig backfill;
  CLI::App* backfill_cmd = app.add_subcommand(
      "backfill", "Analyse images already staged in the store, in shards, then load them");
  backfill_cmd
      ->add_option("--manifest", backfill.manifest,
                   "The manifest: one object key per line (a key of the store, or "
                   "s3://BUCKET/PREFIX/KEY under it)")
      ->required();
  backfill_cmd->add_flag("--json", backfill.json, "Print one JSON object");
  add_data_options(backfill_cmd, backfill.where);
  CLI::App* backfill_plan_cmd =
      backfill_cmd->add_subcommand("plan", "Cut the manifest into shard manifests beside it");
  backfill_plan_cmd->add_option("--shard-size", backfill.shard_size, "Images per shard")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{100'000'000}));
  CLI::App* backfill_run_cmd = backfill_cmd->add_subcommand(
      "run", "Analyse one shard into chunked JSONL and .npy outputs in the store");
  backfill_run_cmd->add_option(
      "--shard", backfill.shard,
      "The shard (default: $JOB_COMPLETION_INDEX or $AWS_BATCH_JOB_ARRAY_INDEX)");
  backfill_run_cmd->add_option("--methods", backfill.methods, "Item methods, in order")
      ->delimiter(',')
      ->capture_default_str();
  backfill_run_cmd->add_option("--chunk-size", backfill.chunk_size, "Images per output chunk")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{1'000'000}));
  backfill_run_cmd->add_option("--in-flight", backfill.in_flight,
                               "Images read and analysed at once (default: 2 per core)");
  CLI::App* backfill_load_cmd = backfill_cmd->add_subcommand(
      "load", "Load every finished shard into the database and the vector indexes");
  backfill_load_cmd->add_option("--set-prefix", backfill.set_prefix,
                                "Sets are named PREFIX-NNNNN (default: the manifest's name)");
  backfill_load_cmd
      ->add_option("--memory-budget", backfill.memory_budget_mb,
                   "MiB the vector index may take in memory (decides its kind)")
      ->capture_default_str();
  for (CLI::App* sub : {backfill_plan_cmd, backfill_run_cmd, backfill_load_cmd}) sub->fallthrough();
  backfill_cmd->require_subcommand(1);

  // sluice pipeline check
  std::filesystem::path pipeline_file;
  CLI::App* pipeline_cmd = app.add_subcommand("pipeline", "Work with pipeline files");
  CLI::App* check_cmd =
      pipeline_cmd->add_subcommand("check", "Validate a pipeline file against the method specs");
  check_cmd->add_option("FILE", pipeline_file, "Pipeline file (TOML)")->required();
  std::filesystem::path check_config;
  check_cmd->add_option("--config", check_config, "Config file with [providers]");
  pipeline_cmd->require_subcommand(1);

  // sluice methods
  bool methods_json = false;
  CLI::App* methods_cmd = app.add_subcommand("methods", "List every method with its spec");
  methods_cmd->add_flag("--json", methods_json, "One JSON object per method");
  std::filesystem::path methods_config;
  methods_cmd->add_option("--config", methods_config, "Config file with [providers]");

  // The queue: sluice submit / status / jobs / worker.
  sluice::cli::SubmitConfig submit;
  CLI::App* submit_cmd = app.add_subcommand(
      "submit", "Queue a URL list as one job for `sluice worker`; prints its token");
  submit_cmd->add_option("URLFILE", submit.list, "URL list, as for run; - for stdin")->required();
  submit_cmd->add_option("--set", submit.set, "Set name (default: the list's file name)");
  submit_cmd->add_option("--priority", submit.priority, "Higher runs first")->capture_default_str();
  submit_cmd
      ->add_option("--max-attempts", submit.max_attempts,
                   "Attempts (crashes included) before the job is dead-lettered")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000));
  submit_cmd
      ->add_option("--pipeline", submit.pipeline,
                   "Pipeline the job runs: built-in (default, video, defects) or a file "
                   "the workers can read")
      ->capture_default_str();
  submit_cmd->add_flag("--json", submit.json, "Print the job as JSON");
  add_data_options(submit_cmd, submit.queue);

  sluice::cli::StatusConfig status;
  CLI::App* status_cmd = app.add_subcommand("status", "Show a job's state, progress and failures");
  status_cmd->add_option("TOKEN", status.token, "Job token (or id)")->required();
  status_cmd->add_flag("--json", status.json, "Print one JSON object");
  add_data_options(status_cmd, status.queue);

  sluice::cli::JobsConfig jobs;
  CLI::App* jobs_cmd = app.add_subcommand("jobs", "List jobs, newest first");
  jobs_cmd->add_option("--state", jobs.state, "queued, running, done or dead")
      ->check(CLI::IsMember({"queued", "running", "done", "dead"}));
  jobs_cmd->add_option("--limit", jobs.limit, "At most this many")->capture_default_str();
  jobs_cmd->add_flag("--json", jobs.json, "One JSON object per line");
  add_data_options(jobs_cmd, jobs.queue);
  CLI::App* jobs_retry_cmd = jobs_cmd->add_subcommand("retry", "Re-drive a dead-lettered job");
  jobs_retry_cmd->add_option("ID", jobs.retry_id, "Job id")->required()->check(CLI::PositiveNumber);
  jobs_retry_cmd->fallthrough();  // `sluice jobs retry 7 --db …` takes the jobs options too
  CLI::App* jobs_cancel_cmd = jobs_cmd->add_subcommand(
      "cancel", "Cancel a queued or running job (a worker running it stops at its next lease)");
  jobs_cancel_cmd->add_option("ID", jobs.cancel_id, "Job id")
      ->required()
      ->check(CLI::PositiveNumber);
  jobs_cancel_cmd->fallthrough();

  sluice::cli::WorkerConfig worker;
  CLI::App* worker_cmd =
      app.add_subcommand("worker", "Claim queued jobs and run them (acquire, analyse, commit)");
  worker_cmd->add_option("--concurrency", worker.concurrency, "Items in flight")
      ->capture_default_str()
      ->check(CLI::Range(1, 100000));
  worker_cmd->add_option("--per-host", worker.per_host, "Items in flight per host")
      ->capture_default_str()
      ->check(CLI::Range(1, 100000));
  worker_cmd->add_option("--jobs", worker.jobs, "Jobs (sets) run at once, claimed in batches")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000));
  worker_cmd->add_option("--pipeline", worker.pipeline,
                         "Run every job with this pipeline (file or built-in name) instead of "
                         "the one it names");
  worker_cmd
      ->add_option("--pipelines", worker.pipelines,
                   "Claim only jobs naming these pipelines (NAME,NAME...): a pool of machines "
                   "for some methods")
      ->delimiter(',');
  worker_cmd->add_option("--lease", worker.lease_seconds, "Seconds a claim lasts unrenewed")
      ->capture_default_str()
      ->check(CLI::Range(0.1, 3600.0));
  worker_cmd->add_option("--poll", worker.poll_seconds, "Seconds between claims when idle")
      ->capture_default_str()
      ->check(CLI::Range(0.01, 600.0));
  worker_cmd->add_flag("--exit-when-idle", worker.exit_when_idle,
                       "Exit when no job is ready instead of waiting for more");
  worker_cmd->add_option("--name", worker.name, "Worker name in job rows (default: HOST:PID)");
  worker_cmd->add_option("--sqs", worker.sqs,
                         "Also take jobs from this SQS queue URL: each message "
                         "{\"set\": …, \"urls\": […]} or {\"set\": …, \"manifest\": \"s3://…\"} "
                         "becomes a job (AWS credentials as AWS SDKs find them)");
  worker_cmd->add_option("--sqs-wait", worker.sqs_wait_seconds, "Long-poll seconds (0-20)")
      ->capture_default_str()
      ->check(CLI::Range(0, 20));
  worker_cmd
      ->add_option("--sqs-visibility", worker.sqs_visibility_seconds,
                   "Seconds a received message stays hidden while its job is created")
      ->capture_default_str()
      ->check(CLI::Range(2, 43200));
  worker_cmd
      ->add_option("--max-attempts", worker.max_attempts,
                   "Attempts of jobs made from SQS messages before dead letter")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000));
  FetchFlags worker_fetch;
  worker_fetch.Add(worker_cmd, worker.fetch);
  add_data_options(worker_cmd, worker.queue);

  sluice::cli::ServeConfig serve;
  CLI::App* serve_cmd = app.add_subcommand(
      "serve", "Serve the HTTP API (submit, follow jobs, read results), with in-process workers");
  serve_cmd->add_option("--listen", serve.listen, "HOST:PORT to listen on (port 0: any free one)")
      ->capture_default_str();
  serve_cmd
      ->add_option("--workers", serve.workers,
                   "Workers run in this process, one job each (0: the API only; `sluice worker` "
                   "processes can share the queue)")
      ->capture_default_str()
      ->check(CLI::Range(0, 64));
  serve_cmd->add_flag("--no-auth", serve.no_auth,
                      "Serve without API keys (loopback addresses only)");
  serve_cmd->add_option("--concurrency", serve.worker.concurrency, "Items in flight per worker")
      ->capture_default_str()
      ->check(CLI::Range(1, 100000));
  serve_cmd->add_option("--pipeline", serve.worker.pipeline,
                        "Run every job with this pipeline instead of the one it names");
  serve_cmd->add_option("--lease", serve.worker.lease_seconds, "Seconds a claim lasts unrenewed")
      ->capture_default_str()
      ->check(CLI::Range(0.1, 3600.0));
  serve_cmd->add_option("--poll", serve.worker.poll_seconds, "Seconds between claims when idle")
      ->capture_default_str()
      ->check(CLI::Range(0.01, 600.0));
  FetchFlags serve_fetch;
  serve_fetch.Add(serve_cmd, serve.worker.fetch);
  add_data_options(serve_cmd, serve.worker.queue);

  sluice::cli::KeysConfig keys;
  CLI::App* keys_cmd = app.add_subcommand("keys", "Make, list and revoke the API's keys");
  keys_cmd->require_subcommand(1);
  CLI::App* keys_create_cmd = keys_cmd->add_subcommand("create", "Make a key (printed once)");
  keys_create_cmd->add_option("--name", keys.name, "The key's name (unique)")->required();
  keys_create_cmd->add_option("--rate", keys.requests_per_minute, "Requests a minute (0: no limit)")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1e9));
  CLI::App* keys_list_cmd = keys_cmd->add_subcommand("list", "Every key, by name");
  keys_list_cmd->add_flag("--json", keys.json, "One JSON object per line");
  CLI::App* keys_revoke_cmd = keys_cmd->add_subcommand("revoke", "Revoke a key for good");
  keys_revoke_cmd->add_option("NAME", keys.name, "The key's name")->required();
  for (CLI::App* cmd : {keys_create_cmd, keys_list_cmd, keys_revoke_cmd})
    add_data_options(cmd, keys.where);

  sluice::cli::VerifyConfig verify;
  CLI::App* verify_cmd = app.add_subcommand(
      "verify", "Read every stored object back and check it holds the bytes its key names");
  verify_cmd->add_option("--set", verify.set, "Only this set's objects");
  verify_cmd->add_flag("--repair", verify.repair,
                       "Fetch a missing or damaged object's URL again and store it when the "
                       "bytes match");
  verify_cmd->add_flag("--json", verify.json, "Print one JSON object");
  FetchFlags verify_fetch;
  verify_fetch.Add(verify_cmd, verify.fetch);
  add_data_options(verify_cmd, verify.where);

  sluice::cli::DoctorConfig doctor;
  CLI::App* doctor_cmd = app.add_subcommand(
      "doctor", "Check the AWS credentials, database, object store and AI providers answer");
  doctor_cmd->add_option("--provider", doctor.providers,
                         "Probe this provider (repeatable; default: every OpenAI-compatible one "
                         "with a key or its own URL, and Bedrock when it is the default)");
  add_data_options(doctor_cmd, doctor.where);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? 0 : sluice::cli::kExitBadInput;
  }

  if (*run_cmd) {
    run.progress = ParseProgress(run_progress);
    fetch_flags.Apply(run.fetch);
    return sluice::cli::RunSet(std::move(run));
  }
  if (*demo_cmd) {
    demo.progress = ParseProgress(demo_progress);
    return sluice::cli::RunDemo(std::move(demo));
  }
  if (*eval_cmd) {
    eval.progress = ParseProgress(eval_progress);
    return sluice::cli::RunEval(std::move(eval));
  }
  if (*doctor_cmd) return sluice::cli::RunDoctor(std::move(doctor));
  if (*verify_cmd) {
    verify_fetch.Apply(verify.fetch);
    return sluice::cli::VerifyStore(std::move(verify));
  }
  if (*results_cmd) return sluice::cli::ShowResults(std::move(results));
  if (*try_cmd) return sluice::cli::TryMethod(std::move(try_config));
  if (*methods_cmd) return sluice::cli::ListMethods(methods_json, methods_config);
  if (*submit_cmd) return sluice::cli::SubmitJob(std::move(submit));
  if (*status_cmd) return sluice::cli::ShowJobStatus(std::move(status));
  if (*jobs_cmd) return sluice::cli::ListJobs(std::move(jobs));
  if (*worker_cmd) {
    worker_fetch.Apply(worker.fetch);
    return sluice::cli::RunWorker(std::move(worker));
  }
  if (*keys_cmd) {
    keys.action = *keys_create_cmd ? "create" : *keys_revoke_cmd ? "revoke" : "list";
    return sluice::cli::KeysCommand(std::move(keys));
  }
  if (*serve_cmd) {
    serve_fetch.Apply(serve.worker.fetch);
    return sluice::cli::Serve(std::move(serve));
  }
  if (*check_cmd) return sluice::cli::CheckPipeline(pipeline_file, check_config);
  if (*search_cmd) {
    search_fetch.Apply(search.fetch);
    return sluice::cli::SearchItems(std::move(search));
  }
  if (*backfill_cmd) {
    backfill.action = *backfill_plan_cmd ? "plan" : *backfill_run_cmd ? "run" : "load";
    return sluice::cli::Backfill(std::move(backfill));
  }
  if (*index_cmd) {
    index_config.action = *index_build_cmd ? "build" : *index_verify_cmd ? "verify" : "stats";
    return sluice::cli::IndexCommand(std::move(index_config));
  }
  return sluice::cli::kExitBadInput;
}

#include "app/commands.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>
#include <boost/json/parse.hpp>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <map>
#include <optional>
#include <set>
#include <thread>

#include "app/data_dir.h"
#include "common/strings.h"
#include "http/curl_client.h"
#include "http/loopback_server.h"
#include "methods/registry.h"
#include "methods/remote/cassette.h"
#include "methods/remote/config.h"
#include "methods/runner.h"
#include "pipeline/acquire.h"
#include "pipeline/analyze.h"
#include "pipeline/definition.h"
#include "queue/intake/sqs_intake.h"
#include "queue/intake/url_list.h"
#include "runtime/offload.h"
#include "runtime/task_group.h"

namespace sluice::app {
namespace {

int Fail(int code, const Status& status) {
  std::fprintf(stderr, "sluice: error: %s\n", std::string(status.message()).c_str());
  return code;
}

struct AcquireOutcome {
  pipeline::AcquireReport report;
  std::string failure_summary;
  pipeline::AnalysisReport analysis;
};

// Set names become object-store keys and file names: keep them to a safe alphabet.
Status ValidateSetName(std::string_view set) {
  bool ok =
      !set.empty() && set.size() <= 100 && set != "." && set != ".." &&
      std::all_of(set.begin(), set.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-';
      });
  if (ok) return absl::OkStatus();
  return absl::InvalidArgumentError(
      StrCat("set name '", set, "' may only use letters, digits, '.', '_' and '-' (at most 100)"));
}

// The test hook of AnalyzeOptions::crash_after_steps, from SLUICE_TEST_CRASH_AFTER_STEPS.
int64_t CrashHookFromEnvironment() {
  const char* value =
      std::getenv("SLUICE_TEST_CRASH_AFTER_STEPS");  // NOLINT(concurrency-mt-unsafe): main thread
  int64_t steps = 0;
  return value && ParseInt(value, steps) ? steps : 0;
}

// The test hook of AnalyzeOptions::executed_steps_log, from SLUICE_TEST_STEP_LOG.
std::filesystem::path StepLogFromEnvironment() {
  const char* value = std::getenv("SLUICE_TEST_STEP_LOG");  // NOLINT(concurrency-mt-unsafe)
  return value ? std::filesystem::path(value) : std::filesystem::path();
}

bool HasRemoteSteps(const pipeline::PipelineDef& definition, const methods::Registry& registry) {
  for (const pipeline::CycleDef& cycle : definition.cycles) {
    for (const auto* steps : {&cycle.item_steps, &cycle.set_steps}) {
      for (const pipeline::StepDef& step : *steps) {
        const methods::MethodBase* method = registry.Find(step.method);
        if (method && method->spec().placement == methods::Placement::kEventLoop) return true;
      }
    }
  }
  return false;
}

// Runs the pipeline over everything recorded for `set` and commits it in one transaction.
asio::awaitable<Result<pipeline::AnalysisReport>> AnalyzeSet(runtime::Runtime& rt, DataDir& data,
                                                             const methods::Registry& registry,
                                                             pipeline::PipelineDef definition,
                                                             std::string set,
                                                             size_t remote_concurrency = 0,
                                                             std::optional<db::Lease> lease = {}) {
  // A worker's checkpoints go to the database, where whichever worker takes the set over next
  // finds them; a local run keeps them in a file under the data directory.
  auto open_journal = [&]() -> Result<std::unique_ptr<pipeline::Journal>> {
    if (lease) return pipeline::Journal::OpenInDatabase(*data.db, set);
    return pipeline::Journal::OpenFile(pipeline::JournalPath(data.root, set));
  };
  SLUICE_CO_ASSIGN_OR_RETURN(std::unique_ptr<pipeline::Journal> journal,
                             co_await runtime::RunOn(rt.blocking(), open_journal));
  // Items waiting on providers hold no CPU: a pipeline with remote steps keeps as many items in
  // flight as the run's --concurrency; a local one, one per core (each holds decoded pixels).
  bool remote = HasRemoteSteps(definition, registry);
  pipeline::Analyzer analyzer(rt, registry, *data.store, *data.db,
                              {.concurrency = remote ? remote_concurrency : 0,
                               .scratch_dir = data.scratch,
                               .crash_after_steps = CrashHookFromEnvironment(),
                               .executed_steps_log = StepLogFromEnvironment(),
                               .lease = lease});
  co_return co_await analyzer.Run(std::move(set), std::move(definition), *journal);
}

Result<pipeline::PipelineDef> PipelineFor(const std::filesystem::path& file,
                                          const methods::Registry& registry) {
  if (file.empty()) return pipeline::DefaultPipeline(registry);
  return pipeline::LoadPipelineFile(file, registry);
}

// The methods and what remote ones need: the provider config, an HTTP client, the transport
// (network, or a cassette) and the live providers. Without a runtime the remote methods can be
// listed and validated but not run.
struct MethodStack {
  methods::remote::ProvidersConfig config;
  std::unique_ptr<http::HttpClient> client;
  std::unique_ptr<methods::remote::Transport> network;
  std::unique_ptr<methods::remote::Transport> cassette;
  std::unique_ptr<methods::remote::Providers> providers;
  methods::Registry registry;
};

std::filesystem::path ConfigFile(const std::filesystem::path& given) {
  if (!given.empty()) return given;
  const char* from_env =
      std::getenv("SLUICE_CONFIG");  // NOLINT(concurrency-mt-unsafe): main thread
  return from_env ? std::filesystem::path(from_env) : std::filesystem::path();
}

// The data directory with the backends named by flags, environment or config file.
Result<DataDir> OpenData(const std::filesystem::path& root, runtime::Runtime& rt, Backends flags,
                         const std::filesystem::path& config_file, bool existing = false) {
  SLUICE_ASSIGN_OR_RETURN(Backends uris,
                          ResolveBackends(std::move(flags), ConfigFile(config_file)));
  return existing ? DataDir::OpenExisting(root, rt, uris) : DataDir::Open(root, rt, uris);
}

struct Cassettes {
  std::filesystem::path record;
  std::filesystem::path replay;
};

Result<std::unique_ptr<MethodStack>> BuildMethods(runtime::Runtime* rt,
                                                  const std::filesystem::path& config_file,
                                                  Cassettes cassettes = {}) {
  auto stack = std::make_unique<MethodStack>();
  SLUICE_ASSIGN_OR_RETURN(stack->config,
                          methods::remote::LoadProvidersConfig(ConfigFile(config_file)));
  methods::remote::RemoteEnv env{.config = &stack->config};
  if (rt) {
    SLUICE_ASSIGN_OR_RETURN(stack->client, http::HttpClient::Create(rt->loop_executor(), {}));
    stack->network = std::make_unique<methods::remote::NetworkTransport>(*stack->client);
    methods::remote::Transport* transport = stack->network.get();
    if (!cassettes.replay.empty()) {
      stack->cassette = std::make_unique<methods::remote::ReplayTransport>(cassettes.replay);
      transport = stack->cassette.get();
    } else if (!cassettes.record.empty()) {
      stack->cassette =
          std::make_unique<methods::remote::RecordingTransport>(*transport, cassettes.record);
      transport = stack->cassette.get();
    }
    stack->providers = std::make_unique<methods::remote::Providers>(
        stack->config, rt->loop_executor(), *transport);
    env.providers = stack->providers.get();
    env.runtime = rt;
  }
  SLUICE_RETURN_IF_ERROR(methods::RegisterBuiltinMethods(stack->registry, env));
  return stack;
}

// Applies the limits the config file now gives to the live providers of the same names.
void ReloadProviderLimits(MethodStack& stack, const std::filesystem::path& config_file) {
  Result<methods::remote::ProvidersConfig> fresh =
      methods::remote::LoadProvidersConfig(ConfigFile(config_file));
  if (!fresh.ok()) {
    std::fprintf(stderr, "sluice: provider limits not reloaded: %s\n",
                 std::string(fresh.status().message()).c_str());
    return;
  }
  if (!stack.providers) return;
  for (methods::remote::Provider* provider : stack.providers->All()) {
    if (const auto* given = fresh->Find(provider->config().name)) {
      provider->gate().SetLimits(given->limits);
      std::fprintf(stderr,
                   "sluice: provider %s: limits reloaded (%zu in flight, %.0f requests/min, %.0f "
                   "tokens/min)\n",
                   provider->config().name.c_str(), given->limits.max_concurrency,
                   given->limits.requests_per_minute, given->limits.tokens_per_minute);
    }
  }
}

// AnalyzeSet, with SIGHUP re-reading the config file and applying its provider limits to the
// calls in progress.
asio::awaitable<Result<pipeline::AnalysisReport>> AnalyzeWithReload(
    runtime::Runtime& rt, DataDir& data, MethodStack& stack, pipeline::PipelineDef definition,
    std::string set, size_t concurrency, std::filesystem::path config_file) {
  asio::signal_set reload(rt.loop(), SIGHUP);
  std::function<void(boost::system::error_code, int)> on_reload = [&](boost::system::error_code ec,
                                                                      int) {
    if (ec) return;
    ReloadProviderLimits(stack, config_file);
    reload.async_wait(on_reload);
  };
  reload.async_wait(on_reload);
  Result<pipeline::AnalysisReport> analysis = co_await AnalyzeSet(
      rt, data, stack.registry, std::move(definition), std::move(set), concurrency);
  boost::system::error_code ignored;
  reload.cancel(ignored);  // the loop then runs dry and Runtime::Run returns
  co_return analysis;
}

// One line per provider that was called: the provider side of the cost ledger.
void PrintProviderLedger(const MethodStack& stack) {
  if (!stack.providers) return;
  for (methods::remote::Provider* provider : stack.providers->All()) {
    const methods::remote::ProviderStats& s = provider->gate().stats();
    if (s.calls == 0) continue;
    std::printf(
        "provider %s: %lld calls, %lld retries, %lld throttled (429), %lld failed, %lld in / "
        "%lld out tokens, peak %zu in flight, circuit opened %lld time(s)\n",
        provider->config().name.c_str(), static_cast<long long>(s.calls),
        static_cast<long long>(s.retries), static_cast<long long>(s.throttled),
        static_cast<long long>(s.failures), static_cast<long long>(s.input_tokens),
        static_cast<long long>(s.output_tokens), s.peak_in_flight,
        static_cast<long long>(s.breaker_opened));
  }
}

// Runs the acquisition of `urls` into `set` with progress on the console; Ctrl-C stops it
// gracefully (what finished is recorded), a second Ctrl-C quits at once.
asio::awaitable<Result<AcquireOutcome>> AcquireWithConsole(runtime::Runtime& rt, DataDir& data,
                                                           http::FetchOptions fetch,
                                                           size_t concurrency, size_t per_host,
                                                           ProgressStyle style, std::string set,
                                                           std::vector<std::string> urls) {
  SLUICE_CO_ASSIGN_OR_RETURN(
      std::unique_ptr<http::HttpClient> client,
      http::HttpClient::Create(rt.loop_executor(), {.connection_cache_size = static_cast<long>(
                                                        std::max<size_t>(concurrency, 16))}));
  fetch.scratch_dir = data.scratch;
  SLUICE_CO_ASSIGN_OR_RETURN(std::unique_ptr<http::Fetcher> fetcher,
                             http::Fetcher::Create(*client, rt.loop_executor(), fetch));
  pipeline::Acquirer acquirer(rt, *fetcher, *data.store, *data.db,
                              {.concurrency = concurrency, .per_host = per_host});
  ProgressReporter reporter(rt.loop_executor(), acquirer.progress(), style);
  acquirer.OnItem([&reporter](const db::ItemRecord& item) { reporter.OnItem(item); });

  asio::signal_set signals(rt.loop(), SIGINT, SIGTERM);
  auto on_second_signal = [](boost::system::error_code ec, int) {
    if (!ec) std::_Exit(kExitInterrupted);
  };
  auto on_signal = [&](boost::system::error_code ec, int) {
    if (ec) return;
    std::fprintf(
        stderr, "\nsluice: interrupted; recording finished items (Ctrl-C again to quit at once)\n");
    acquirer.Stop();
    client->AbortAll();  // in-flight items stay unrecorded; the next run fetches them
    signals.async_wait(on_second_signal);
  };
  signals.async_wait(on_signal);

  runtime::TaskGroup side(rt.loop_executor());
  side.Spawn(reporter.Run());
  Result<pipeline::AcquireReport> report = co_await acquirer.Run(std::move(set), std::move(urls));
  reporter.Stop();
  boost::system::error_code ignored;
  signals.cancel(ignored);
  co_await side.Wait();
  SLUICE_CO_RETURN_IF_ERROR(report.status());
  co_return AcquireOutcome{std::move(*report), reporter.FailureSummary()};
}

std::string DefaultSetName(const std::string& list) {
  if (list == "-") return "stdin";
  std::string stem = std::filesystem::path(list).stem().string();
  for (char& c : stem) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != '-') c = '-';
  }
  return stem.empty() || stem.size() > 100 ? "default" : stem;
}

void PrintSummary(const AcquireOutcome& outcome, const DataDir& data) {
  const pipeline::AcquireReport& r = outcome.report;
  std::printf("set %s: %lld items, %lld ok, %lld failed, %s stored\n", r.totals.set.c_str(),
              static_cast<long long>(r.totals.items), static_cast<long long>(r.totals.ok),
              static_cast<long long>(r.totals.failed), HumanBytes(r.totals.bytes).c_str());
  std::printf("this run: %zu fetched ok, %zu failed, %zu already done, %s received in %.2f s\n",
              r.run.ok, r.run.failed, r.run.skipped, HumanBytes(r.run.bytes_received).c_str(),
              r.seconds);
  if (!outcome.failure_summary.empty()) std::printf("%s\n", outcome.failure_summary.c_str());
  const pipeline::AnalysisReport& a = outcome.analysis;
  std::printf(
      "analysis: %lld steps run, %lld from the journal, %lld from the cache, %lld failed, %lld not "
      "applicable, %d cycle(s), %.2f s\n",
      static_cast<long long>(a.steps_run), static_cast<long long>(a.steps_replayed),
      static_cast<long long>(a.steps_cached), static_cast<long long>(a.steps_failed),
      static_cast<long long>(a.steps_skipped), a.cycles, a.seconds);
  if (!a.millis_by_method.empty()) {
    std::string by_method;
    for (const auto& [method, millis] : a.millis_by_method) {
      StrAppend(by_method, by_method.empty() ? "" : ", ", method, " ", static_cast<int64_t>(millis),
                " ms");
    }
    std::printf("step time by method (summed over items): %s\n", by_method.c_str());
  }
  for (const auto& [method, cost] : a.cost_by_method) {
    std::printf(
        "cost %s: %lld calls, %lld retries, %lld in / %lld out tokens, %.1f s on providers\n",
        method.c_str(), static_cast<long long>(cost.calls), static_cast<long long>(cost.retries),
        static_cast<long long>(cost.input_tokens), static_cast<long long>(cost.output_tokens),
        cost.provider_millis / 1000);
  }
  std::printf("objects:  %s\n", data.objects().c_str());
  std::printf("results:  %s/results/%s/ (one JSON document per item)\n", data.root.c_str(),
              r.totals.set.c_str());
  std::printf("database: %s\n", data.database().c_str());
  std::printf("details:  sluice results --data %s --set %s\n", data.root.c_str(),
              r.totals.set.c_str());
}

boost::json::object SummaryJson(const AcquireOutcome& outcome, const DataDir& data) {
  const pipeline::AcquireReport& r = outcome.report;
  const pipeline::AnalysisReport& a = outcome.analysis;
  boost::json::object analysis{{"steps_run", a.steps_run},
                               {"steps_replayed", a.steps_replayed},
                               {"steps_cached", a.steps_cached},
                               {"steps_failed", a.steps_failed},
                               {"steps_skipped", a.steps_skipped},
                               {"cycles", a.cycles},
                               {"seconds", a.seconds}};
  boost::json::object by_method;
  for (const auto& [method, millis] : a.millis_by_method) by_method[method] = millis;
  analysis["millis_by_method"] = std::move(by_method);
  analysis["ledger"] = pipeline::LedgerJson(r.totals.set, a);
  return boost::json::object{
      {"analysis", analysis},
      {"set", r.totals.set},
      {"items", r.totals.items},
      {"ok", r.totals.ok},
      {"failed", r.totals.failed},
      {"bytes", r.totals.bytes},
      {"seconds", r.seconds},
      {"fetched", r.run.ok},
      {"failed_this_run", r.run.failed},
      {"skipped", r.run.skipped},
      {"bytes_received", r.run.bytes_received},
      {"interrupted", r.interrupted},
      {"data", data.root.string()},
  };
}

// A few facts a person would look for first in the demo's results.
void PrintDemoHighlights(const pipeline::AnalysisReport& analysis, const DataDir& data) {
  Result<std::vector<db::StepRow>> steps = data.db->ListSteps("demo");
  if (!steps.ok()) return;
  for (const db::StepRow& step : *steps) {
    if (step.method != "ocr.tesseract" || !step.ok) continue;
    boost::system::error_code ec;
    boost::json::value output = boost::json::parse(step.output_json, ec);
    if (ec) continue;
    std::string text(output.at("text").as_string());
    std::replace(text.begin(), text.end(), '\n', ' ');
    if (!text.empty()) std::printf("  text in %s: \"%s\"\n", step.url.c_str(), text.c_str());
  }
  if (const boost::json::value* dups = analysis.set_results.if_contains("set.near_duplicates")) {
    for (const boost::json::value& group : dups->at("groups").as_array()) {
      std::string members;
      for (const boost::json::value& member : group.as_array()) {
        std::string url(member.at("url").as_string());
        StrAppend(members, members.empty() ? "" : ", ", url.substr(url.rfind('/') + 1));
      }
      std::printf("  near-duplicates: %s\n", members.c_str());
    }
  }
  if (const boost::json::value* summary = analysis.set_results.if_contains("set.summary")) {
    std::printf("  set summary: %s\n", boost::json::serialize(*summary).c_str());
  }
}

}  // namespace

int CheckPipeline(const std::filesystem::path& file, const std::filesystem::path& config) {
  Result<std::unique_ptr<MethodStack>> stack = BuildMethods(nullptr, config);
  if (!stack.ok()) return Fail(kExitBadInput, stack.status());
  Result<pipeline::PipelineDef> definition = pipeline::LoadPipelineFile(file, (*stack)->registry);
  if (!definition.ok()) return Fail(kExitBadInput, definition.status());
  size_t item_steps = 0, set_steps = 0;
  for (const auto& cycle : definition->cycles) {
    item_steps += cycle.item_steps.size();
    set_steps += cycle.set_steps.size();
  }
  std::printf("%s: ok — pipeline '%s', %zu cycle(s), %zu item step(s), %zu set step(s)\n",
              file.c_str(), definition->name.c_str(), definition->cycles.size(), item_steps,
              set_steps);
  return kExitOk;
}

int RunAcquire(RunConfig config) {
  Result<intake::UrlList> list = intake::ReadUrlListFile(config.list);
  if (!list.ok()) return Fail(kExitBadInput, list.status());
  if (config.set.empty()) config.set = DefaultSetName(config.list);
  if (Status valid = ValidateSetName(config.set); !valid.ok()) return Fail(kExitBadInput, valid);
  runtime::Runtime rt;
  Result<std::unique_ptr<MethodStack>> stack = BuildMethods(&rt, config.config);
  if (!stack.ok()) return Fail(kExitBadInput, stack.status());
  const methods::Registry& registry = (*stack)->registry;
  // The pipeline is checked before anything is fetched.
  Result<pipeline::PipelineDef> definition = PipelineFor(config.pipeline, registry);
  if (!definition.ok()) return Fail(kExitBadInput, definition.status());
  Result<DataDir> data = OpenData(config.data, rt, {config.db, config.store}, config.config);
  if (!data.ok()) return Fail(kExitFatal, data.status());
  if (!config.json) {
    std::fprintf(
        stderr, "sluice: set %s: %zu URLs%s\n", config.set.c_str(), list->urls.size(),
        list->duplicates ? StrCat(" (", list->duplicates, " duplicates dropped)").c_str() : "");
  }
  Result<AcquireOutcome> outcome = rt.Run(AcquireWithConsole(
      rt, *data, config.fetch, config.concurrency, config.per_host,
      config.json ? ProgressStyle::kNone : config.progress, config.set, list->urls));
  if (!outcome.ok()) return Fail(kExitFatal, outcome.status());
  if (!outcome->report.interrupted && !config.fetch_only) {
    if (!config.json) std::fprintf(stderr, "sluice: analysing set %s\n", config.set.c_str());
    Result<pipeline::AnalysisReport> analysis = rt.Run(AnalyzeWithReload(
        rt, *data, **stack, *definition, config.set, config.concurrency, config.config));
    if (!analysis.ok()) return Fail(kExitFatal, analysis.status());
    outcome->analysis = std::move(*analysis);
    outcome->report.totals = outcome->analysis.totals;
  }
  if (config.json) {
    std::cout << boost::json::serialize(SummaryJson(*outcome, *data)) << std::endl;
  } else {
    PrintSummary(*outcome, *data);
    PrintProviderLedger(**stack);
  }
  if (outcome->report.interrupted) {
    std::fprintf(stderr, "sluice: interrupted; run the same command again to continue\n");
    return kExitInterrupted;
  }
  return kExitOk;
}

int RunDemo(DemoConfig config) {
  if (config.samples.empty()) config.samples = config.data / "samples";
  std::vector<std::filesystem::path> files;
  std::error_code ec;
  for (auto it = std::filesystem::directory_iterator(config.samples, ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    if (it->is_regular_file()) files.push_back(it->path().filename());
  }
  if (files.empty()) {
    return Fail(kExitBadInput,
                absl::NotFoundError(StrCat("no sample media in ", config.samples.string(),
                                           " (make them with scripts/make-samples.sh ",
                                           config.samples.string(), ")")));
  }
  std::sort(files.begin(), files.end());
  std::filesystem::path samples = std::filesystem::absolute(config.samples);
  auto serve = [samples](const http::HttpRequest& request) {
    return http::ServeDirectory(request, samples);
  };
  Result<std::unique_ptr<http::LoopbackServer>> server = http::LoopbackServer::Start(serve);
  if (!server.ok()) return Fail(kExitFatal, server.status());
  std::vector<std::string> urls;
  for (const auto& file : files) urls.push_back((*server)->base_url() + "/" + file.string());
  urls.push_back((*server)->base_url() + "/missing.jpg");  // shows how a failed item is recorded
  std::fprintf(stderr, "sluice demo: serving %zu sample files from %s on %s\n", files.size(),
               samples.c_str(), (*server)->base_url().c_str());

  runtime::Runtime rt;
  // The demo is the embedded default, whatever the environment names for the fleet.
  Result<DataDir> data = DataDir::Open(config.data, rt);
  if (!data.ok()) return Fail(kExitFatal, data.status());
  http::FetchOptions fetch;
  // Exactly the demo's own loopback server, not every private address.
  fetch.addresses.allowed_endpoints = {StrCat("127.0.0.1:", (*server)->port())};
  Result<std::unique_ptr<MethodStack>> stack = BuildMethods(nullptr, {});
  if (!stack.ok()) return Fail(kExitFatal, stack.status());
  const methods::Registry& registry = (*stack)->registry;
  Result<AcquireOutcome> outcome =
      rt.Run(AcquireWithConsole(rt, *data, fetch, 16, 16, config.progress, "demo", urls));
  if (!outcome.ok()) return Fail(kExitFatal, outcome.status());
  if (!outcome->report.interrupted) {
    std::fprintf(stderr, "sluice demo: analysing (default pipeline)\n");
    Result<pipeline::AnalysisReport> analysis =
        rt.Run(AnalyzeSet(rt, *data, registry, pipeline::DefaultPipeline(registry), "demo"));
    if (!analysis.ok()) return Fail(kExitFatal, analysis.status());
    outcome->analysis = std::move(*analysis);
  }
  PrintSummary(*outcome, *data);
  PrintDemoHighlights(outcome->analysis, *data);

  Result<std::vector<db::ItemRecord>> items = data->db->ListItems("demo");
  if (items.ok()) {
    std::set<std::string> objects;
    std::map<std::string, int> kinds;
    for (const auto& item : *items) {
      if (item.status != db::ItemStatus::kOk) continue;
      objects.insert(item.store_key);
      ++kinds[item.kind];
    }
    std::string kind_text;
    for (const auto& [kind, count] : kinds)
      StrAppend(kind_text, kind_text.empty() ? "" : ", ", count, " ", kind);
    std::printf(
        "highlights: %zu URLs -> %zu stored objects (identical bytes are stored once); %s\n",
        items->size(), objects.size(), kind_text.c_str());
  }
  return outcome->report.interrupted ? kExitInterrupted : kExitOk;
}

int ShowResults(ResultsConfig config) {
  if (config.format != "table" && config.format != "jsonl") {
    return Fail(kExitBadInput, absl::InvalidArgumentError("--format must be table or jsonl"));
  }
  runtime::Runtime rt;
  Result<DataDir> data =
      OpenData(config.data, rt, {config.db, config.store}, config.config, /*existing=*/true);
  if (!data.ok())
    return Fail(CauseOf(data.status()) == "no_data" ? kExitBadInput : kExitFatal, data.status());
  if (config.set.empty()) {
    Result<std::vector<db::SetTotals>> sets = data->db->ListSets();
    if (!sets.ok()) return Fail(kExitFatal, sets.status());
    for (const auto& s : *sets) {
      if (config.format == "jsonl") {
        std::cout << boost::json::serialize(boost::json::object{{"set", s.set},
                                                                {"items", s.items},
                                                                {"ok", s.ok},
                                                                {"failed", s.failed},
                                                                {"bytes", s.bytes}})
                  << "\n";
      } else {
        std::printf("%-24s %8lld items %8lld ok %6lld failed %12s\n", s.set.c_str(),
                    static_cast<long long>(s.items), static_cast<long long>(s.ok),
                    static_cast<long long>(s.failed), HumanBytes(s.bytes).c_str());
      }
    }
    return kExitOk;
  }
  Result<std::vector<db::ItemRecord>> items = data->db->ListItems(config.set);
  if (!items.ok()) return Fail(kExitFatal, items.status());
  if (items->empty()) {
    return Fail(kExitBadInput, absl::NotFoundError(StrCat("set '", config.set, "' has no items in ",
                                                          data->root.string())));
  }
  Result<std::vector<db::StepRow>> steps = data->db->ListSteps(config.set);
  if (!steps.ok()) return Fail(kExitFatal, steps.status());
  // Each method's result (or failure) by url; set steps have url "".
  std::map<std::string, boost::json::object> by_url;
  for (const db::StepRow& step : *steps) {
    boost::system::error_code ec;
    boost::json::value value =
        step.ok
            ? boost::json::parse(step.output_json, ec)
            : boost::json::value(boost::json::object{
                  {"failure", {{"cause", step.failure_cause}, {"details", step.failure_details}}}});
    by_url[step.url][step.method] = ec ? boost::json::value(step.output_json) : value;
  }
  for (const auto& item : *items) {
    const boost::json::object& methods = by_url[item.url];
    if (config.format == "jsonl") {
      boost::json::object row = db::ItemToJson(item);
      row["steps"] = methods;
      std::cout << boost::json::serialize(row) << "\n";
      continue;
    }
    if (item.status == db::ItemStatus::kOk) {
      std::printf("ok      %.12s  %10s  %-12s %s\n", item.sha256.c_str(),
                  HumanBytes(item.size).c_str(), item.mime.c_str(), item.url.c_str());
    } else {
      std::printf("failed  %-34s %s  (%s)\n", item.failure_cause.c_str(), item.url.c_str(),
                  item.failure_details.c_str());
    }
    for (const auto& [method, value] : methods) {
      std::string text = boost::json::serialize(value);
      if (text.size() > 110) text = text.substr(0, 107) + "...";
      std::printf("        %-18s %s\n", std::string(method).c_str(), text.c_str());
    }
  }
  if (config.format == "table") {
    for (const auto& [method, value] : by_url[""]) {
      std::printf("set     %-18s %s\n", std::string(method).c_str(),
                  boost::json::serialize(value).c_str());
    }
  }
  return kExitOk;
}

int TryMethod(TryConfig config) {
  if (!config.record.empty() && !config.replay.empty()) {
    return Fail(kExitBadInput,
                absl::InvalidArgumentError("--record and --replay exclude each other"));
  }
  std::error_code exists;
  if (!config.replay.empty() && !std::filesystem::is_directory(config.replay, exists)) {
    return Fail(kExitBadInput,
                absl::NotFoundError(StrCat("no cassette directory ", config.replay.string())));
  }
  boost::json::object params;
  if (!config.params.empty()) {
    boost::system::error_code ec;
    boost::json::value parsed = boost::json::parse(config.params, ec);
    if (ec || !parsed.is_object()) {
      return Fail(kExitBadInput, absl::InvalidArgumentError(StrCat(
                                     "--params must be a JSON object, got: ", config.params)));
    }
    params = parsed.as_object();
  }
  runtime::Runtime rt;
  Result<std::unique_ptr<MethodStack>> stack =
      BuildMethods(&rt, config.config, {.record = config.record, .replay = config.replay});
  if (!stack.ok()) return Fail(kExitBadInput, stack.status());
  Result<DataDir> data = OpenData(config.data, rt, {}, config.config);
  if (!data.ok()) return Fail(kExitFatal, data.status());
  methods::MethodRunner runner((*stack)->registry, rt, data->store);
  Result<methods::StepResult> step =
      rt.Run(runner.Run(config.method, config.file, std::move(params)));
  if (!step.ok()) return Fail(kExitBadInput, step.status());
  std::cout << boost::json::serialize(methods::StepResultToJson(*step)) << std::endl;
  if (auto* recorder = dynamic_cast<methods::remote::RecordingTransport*>((*stack)->cassette.get()))
    std::fprintf(stderr, "sluice: %lld exchange(s) recorded in %s\n",
                 static_cast<long long>(recorder->recorded()), config.record.c_str());
  return step->status.ok() ? kExitOk : kExitFatal;
}

int ListMethods(bool json, const std::filesystem::path& config) {
  Result<std::unique_ptr<MethodStack>> stack = BuildMethods(nullptr, config);
  if (!stack.ok()) return Fail(kExitBadInput, stack.status());
  for (const methods::MethodBase* method : (*stack)->registry.All()) {
    const methods::MethodSpec& spec = method->spec();
    if (json) {
      std::cout << boost::json::serialize(methods::SpecToJson(spec)) << "\n";
    } else {
      std::printf("%-20s v%-3d %-10s %s\n", spec.name.c_str(), spec.version,
                  spec.provider.empty() ? "local" : spec.provider.c_str(),
                  spec.description.c_str());
    }
  }
  return kExitOk;
}

namespace {

Result<DataDir> OpenQueue(const QueueConfig& config, runtime::Runtime& rt) {
  return OpenData(config.data, rt, {config.db, config.store}, config.config);
}

std::string JobLine(const db::Job& job) {
  return StrCat(
      job.id, "  ", job.token, "  ", db::JobStateName(job.state), "  set ", job.set, "  attempts ",
      job.attempts, "/", job.max_attempts,
      job.priority ? StrCat("  priority ", job.priority) : std::string(),
      job.failure_cause.empty() ? std::string() : StrCat("  last failure ", job.failure_cause));
}

boost::json::object JobJson(const db::Job& job) {
  boost::json::object out{{"id", job.id},
                          {"token", job.token},
                          {"set", job.set},
                          {"state", db::JobStateName(job.state)},
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

// A worker's name in job rows: host and process, so an operator can find it.
std::string WorkerName() {
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  return StrCat(host, ":", getpid());
}

// Renews the lease every third of its length until `stop` is cancelled; sets `lost` when the
// job was taken over (the commit will then be refused; the work is abandoned at that point).
asio::awaitable<void> KeepLease(runtime::Runtime& rt, db::JobStore& jobs, db::Lease lease,
                                std::chrono::milliseconds length, asio::steady_timer& stop,
                                const bool& finished, bool& lost) {
  while (!finished) {
    stop.expires_after(length / 3);
    boost::system::error_code ec;
    co_await stop.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return;  // cancelled: the job is over
    auto renew = [&] { return jobs.Heartbeat({lease}, length); };
    Result<std::vector<int64_t>> result = co_await runtime::RunOn(rt.blocking(), renew);
    if (result.ok() && !result->empty() && !finished) {
      lost = true;
      std::fprintf(stderr, "sluice worker: job %lld: lease lost to another worker\n",
                   static_cast<long long>(lease.job_id));
      co_return;
    }
  }
}

// One claimed job: acquire its URLs into its set, analyse, commit fenced by the lease.
asio::awaitable<Result<AcquireOutcome>> ProcessJob(runtime::Runtime& rt, DataDir& data,
                                                   const MethodStack& stack,
                                                   pipeline::PipelineDef definition, db::Job job,
                                                   const WorkerConfig& config) {
  db::Lease lease{job.id, job.epoch};
  std::chrono::milliseconds length(static_cast<int64_t>(config.lease_seconds * 1000));
  asio::steady_timer stop(rt.loop_executor());
  bool lost = false;
  bool finished = false;
  runtime::TaskGroup side(rt.loop_executor());
  side.Spawn(KeepLease(rt, *data.db, lease, length, stop, finished, lost));
  Result<AcquireOutcome> outcome =
      co_await AcquireWithConsole(rt, data, config.fetch, config.concurrency, config.per_host,
                                  ProgressStyle::kNone, job.set, job.urls);
  if (outcome.ok() && outcome->report.interrupted) {
    outcome = Failure(absl::StatusCode::kUnavailable, "worker_stopped",
                      "the worker was stopped before the set was acquired");
  }
  if (outcome.ok()) {
    Result<pipeline::AnalysisReport> analysis = co_await AnalyzeSet(
        rt, data, stack.registry, std::move(definition), job.set, config.concurrency, lease);
    if (analysis.ok()) {
      outcome->analysis = std::move(*analysis);
      outcome->report.totals = outcome->analysis.totals;
    } else {
      outcome = analysis.status();
    }
  }
  finished = true;
  stop.cancel();
  co_await side.Wait();
  if (!outcome.ok() && lost) co_return db::LeaseLost(lease);
  co_return outcome;
}

}  // namespace

int SubmitJob(SubmitConfig config) {
  Result<intake::UrlList> list = intake::ReadUrlListFile(config.list);
  if (!list.ok()) return Fail(kExitBadInput, list.status());
  if (config.set.empty()) config.set = DefaultSetName(config.list);
  if (Status valid = ValidateSetName(config.set); !valid.ok()) return Fail(kExitBadInput, valid);
  runtime::Runtime rt;
  Result<DataDir> data = OpenQueue(config.queue, rt);
  if (!data.ok()) return Fail(kExitFatal, data.status());
  Result<db::Submitted> submitted = data->db->Submit({.set = config.set,
                                                      .urls = list->urls,
                                                      .priority = config.priority,
                                                      .max_attempts = config.max_attempts});
  if (!submitted.ok()) return Fail(kExitFatal, submitted.status());
  if (config.json) {
    std::cout << boost::json::serialize(JobJson(submitted->job)) << std::endl;
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
  runtime::Runtime rt;
  Result<DataDir> data = OpenQueue(config.queue, rt);
  if (!data.ok()) return Fail(kExitFatal, data.status());
  Result<db::Job> job = data->db->FindJob(config.token);
  if (!job.ok()) return Fail(kExitBadInput, job.status());
  // Progress: how many of the job's URLs the set has recorded so far.
  Result<std::vector<db::ItemRecord>> items = data->db->ListItems(job->set);
  if (!items.ok()) return Fail(kExitFatal, items.status());
  std::set<std::string> wanted(job->urls.begin(), job->urls.end());
  int64_t ok = 0, failed = 0;
  std::map<std::string, int64_t> causes;
  for (const db::ItemRecord& item : *items) {
    if (!wanted.contains(item.url)) continue;
    if (item.status == db::ItemStatus::kOk) {
      ++ok;
    } else {
      ++failed;
      ++causes[item.failure_cause];
    }
  }
  if (config.json) {
    boost::json::object out = JobJson(*job);
    out["urls"] = job->urls.size();
    out["items_ok"] = ok;
    out["items_failed"] = failed;
    boost::json::object by_cause;
    for (const auto& [cause, count] : causes) by_cause[cause] = count;
    out["failures_by_cause"] = std::move(by_cause);
    std::cout << boost::json::serialize(out) << std::endl;
    return kExitOk;
  }
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
    std::printf("last failure: %s: %s\n", job->failure_cause.c_str(), job->failure_details.c_str());
  }
  if (job->state == db::JobState::kDead)
    std::printf("re-drive it with: sluice jobs retry %lld\n", static_cast<long long>(job->id));
  return kExitOk;
}

int ListJobs(JobsConfig config) {
  runtime::Runtime rt;
  Result<DataDir> data = OpenQueue(config.queue, rt);
  if (!data.ok()) return Fail(kExitFatal, data.status());
  if (config.retry_id > 0) {
    Result<db::Job> job = data->db->RetryJob(config.retry_id);
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
  Result<std::vector<db::Job>> jobs = data->db->ListJobs(state, config.limit);
  if (!jobs.ok()) return Fail(kExitFatal, jobs.status());
  for (const db::Job& job : *jobs) {
    if (config.json) {
      std::cout << boost::json::serialize(JobJson(job)) << "\n";
    } else {
      std::printf("%s\n", JobLine(job).c_str());
    }
  }
  if (!config.json && jobs->empty()) std::fprintf(stderr, "sluice: no jobs\n");
  return kExitOk;
}

namespace {

struct WorkerCounts {
  int64_t committed = 0;
  int64_t failed = 0;
  bool interrupted = false;
};

// Reads a manifest named by an SQS message: s3://bucket/key with the standard AWS settings.
asio::awaitable<Result<std::string>> ReadManifest(runtime::Runtime& rt, http::HttpClient& client,
                                                  std::string uri) {
  storage::S3Options parsed;
  if (!storage::ParseS3Uri(uri, parsed).ok() || parsed.prefix.empty()) {
    co_return Failure(absl::StatusCode::kInvalidArgument, "bad_message",
                      StrCat("manifest '", uri, "': only s3://bucket/key manifests are read"));
  }
  // The store reads the whole bucket; the rest of the URI is the manifest's key.
  std::string key = uri.substr(StrCat("s3://", parsed.bucket, "/").size());
  Result<storage::S3Options> options = S3OptionsFromEnvironment(StrCat("s3://", parsed.bucket));
  SLUICE_CO_RETURN_IF_ERROR(options.status());
  storage::S3BlobStore store(client, rt.loop_executor(), rt.blocking(), *options);
  co_return co_await store.Get(key, std::nullopt);
}

// Runs one claimed job to its end — committed, lost to another worker, or failed and handed
// back to the queue (with backoff, or to dead letter) — then frees its slot.
asio::awaitable<void> RunClaimedJob(runtime::Runtime& rt, DataDir& data, const MethodStack& stack,
                                    const pipeline::PipelineDef& definition,
                                    const WorkerConfig& config, db::Job job, WorkerCounts& counts,
                                    int& running, asio::steady_timer& slot_freed) {
  db::Lease held{job.id, job.epoch};
  std::fprintf(stderr, "sluice worker: job %lld (%s): set %s, %zu URLs, attempt %d of %d\n",
               static_cast<long long>(job.id), job.token.c_str(), job.set.c_str(), job.urls.size(),
               job.attempts, job.max_attempts);
  Result<AcquireOutcome> outcome = co_await ProcessJob(rt, data, stack, definition, job, config);
  if (outcome.ok()) {
    ++counts.committed;
    const db::SetTotals& totals = outcome->report.totals;
    std::fprintf(
        stderr, "sluice worker: job %lld committed: set %s, %lld items, %lld ok, %lld failed\n",
        static_cast<long long>(job.id), totals.set.c_str(), static_cast<long long>(totals.items),
        static_cast<long long>(totals.ok), static_cast<long long>(totals.failed));
  } else if (CauseOf(outcome.status()) == "lease_lost") {
    ++counts.failed;
    std::fprintf(stderr, "sluice worker: %s\n", std::string(outcome.status().message()).c_str());
  } else {
    ++counts.failed;
    // Back off longer with each attempt: 2, 4, 8 … s, at most a minute; a stopped worker gives
    // the job back at once.
    bool given_back = CauseOf(outcome.status()) == "worker_stopped";
    auto backoff = given_back ? std::chrono::milliseconds(0)
                              : std::chrono::milliseconds(std::min<int64_t>(
                                    60'000, int64_t{1000} << std::min(job.attempts, 6)));
    bool retryable = IsRetryable(outcome.status());
    auto fail = [&] { return data.db->Fail(held, outcome.status(), retryable, backoff); };
    Status recorded = co_await runtime::RunOn(rt.blocking(), fail);
    std::fprintf(stderr, "sluice worker: job %lld failed (%s): %s%s\n",
                 static_cast<long long>(job.id), CauseOf(outcome.status()).c_str(),
                 std::string(outcome.status().message()).c_str(),
                 !recorded.ok()                                 ? " (the failure was not recorded)"
                 : retryable && job.attempts < job.max_attempts ? "; queued again"
                                                                : "; dead-lettered");
  }
  --running;
  slot_freed.cancel();
}

// Claims and runs up to config.jobs jobs at once (claimed in one batch as slots free up) until
// stopped (SIGINT/SIGTERM: running jobs are given back to the queue) or, with exit_when_idle,
// until nothing runs, nothing is ready and the intake brought nothing.
asio::awaitable<WorkerCounts> WorkerLoop(runtime::Runtime& rt, DataDir& data,
                                         const MethodStack& stack,
                                         const pipeline::PipelineDef& definition,
                                         const WorkerConfig& config, std::string name,
                                         intake::SqsIntake* sqs) {
  std::chrono::milliseconds lease(static_cast<int64_t>(config.lease_seconds * 1000));
  std::chrono::milliseconds poll(static_cast<int64_t>(config.poll_seconds * 1000));
  WorkerCounts counts;
  bool stopping = false;
  asio::signal_set signals(rt.loop(), SIGINT, SIGTERM);
  auto on_signal = [&](boost::system::error_code ec, int) {
    if (ec) return;
    stopping = counts.interrupted = true;
    if (sqs) sqs->Stop();
    std::fprintf(stderr, "sluice worker %s: stopping; running jobs go back to the queue\n",
                 name.c_str());
  };
  signals.async_wait(on_signal);
  runtime::TaskGroup side(rt.loop_executor());
  if (sqs) side.Spawn(sqs->Run());
  runtime::TaskGroup jobs(rt.loop_executor());
  int running = 0;
  asio::steady_timer slot_freed(rt.loop_executor());
  while (!stopping) {
    int free = std::max(0, config.jobs - running);
    if (free > 0) {
      auto claim = [&] { return data.db->Claim(name, free, lease); };
      Result<std::vector<db::Job>> claimed = co_await runtime::RunOn(rt.blocking(), claim);
      if (!claimed.ok()) {
        std::fprintf(stderr, "sluice worker: cannot claim: %s\n",
                     std::string(claimed.status().message()).c_str());
      } else if (!claimed->empty()) {
        for (db::Job& job : *claimed) {
          ++running;
          jobs.Spawn(RunClaimedJob(rt, data, stack, definition, config, std::move(job), counts,
                                   running, slot_freed));
        }
        continue;
      } else if (running == 0) {
        if (config.exit_when_idle && (!sqs || sqs->idle())) break;
        if (!sqs) {
          // Postgres wakes us on NOTIFY; otherwise this is the poll interval.
          auto wait = [&] { return data.db->WaitForJobs(poll); };
          Result<bool> woken = co_await runtime::RunOn(rt.blocking(), wait);
          (void)woken;  // a hint either way: the next claim decides
          continue;
        }
      }
    }
    // Every slot busy, or nothing ready while jobs run: wait for a slot or the poll interval.
    slot_freed.expires_after(poll);
    boost::system::error_code ec;
    co_await slot_freed.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
  co_await jobs.Wait();
  boost::system::error_code ignored;
  signals.cancel(ignored);
  if (sqs) sqs->Stop();
  co_await side.Wait();
  co_return counts;
}

}  // namespace

int RunWorker(WorkerConfig config) {
  runtime::Runtime rt;
  Result<std::unique_ptr<MethodStack>> stack = BuildMethods(&rt, config.queue.config);
  if (!stack.ok()) return Fail(kExitBadInput, stack.status());
  Result<pipeline::PipelineDef> definition = PipelineFor(config.pipeline, (*stack)->registry);
  if (!definition.ok()) return Fail(kExitBadInput, definition.status());
  Result<DataDir> data = OpenQueue(config.queue, rt);
  if (!data.ok()) return Fail(kExitFatal, data.status());
  std::string name = config.name.empty() ? WorkerName() : config.name;
  std::fprintf(stderr, "sluice worker %s: database %s, objects %s%s\n", name.c_str(),
               data->database().c_str(), data->objects().c_str(),
               config.sqs.empty() ? "" : StrCat(", intake ", config.sqs).c_str());

  std::unique_ptr<http::HttpClient> intake_client;
  std::unique_ptr<intake::SqsQueue> queue;
  std::unique_ptr<intake::SqsIntake> sqs;
  if (!config.sqs.empty()) {
    Result<std::unique_ptr<http::HttpClient>> client =
        http::HttpClient::Create(rt.loop_executor(), {});
    if (!client.ok()) return Fail(kExitFatal, client.status());
    intake_client = std::move(*client);
    queue = std::make_unique<intake::SqsQueue>(
        *intake_client, intake::SqsOptions{.queue_url = config.sqs,
                                           .credentials = AwsCredentialsFromEnvironment("sqs"),
                                           .wait_seconds = config.sqs_wait_seconds,
                                           // The operator names the queue; it may be local.
                                           .allow_private = true});
    http::HttpClient& manifests = *intake_client;
    intake::ManifestReader read_manifest = [&rt, &manifests](std::string uri) {
      return ReadManifest(rt, manifests, std::move(uri));
    };
    sqs = std::make_unique<intake::SqsIntake>(
        rt, *queue, *data->db, std::move(read_manifest),
        intake::SqsIntakeOptions{.visibility_seconds = config.sqs_visibility_seconds,
                                 .max_attempts = config.max_attempts,
                                 .validate_set = ValidateSetName});
  }
  WorkerCounts counts =
      rt.Run(WorkerLoop(rt, *data, **stack, *definition, config, name, sqs.get()));
  std::fprintf(stderr, "sluice worker %s: %s; %lld job(s) committed, %lld failed\n", name.c_str(),
               counts.interrupted ? "stopped" : "queue idle",
               static_cast<long long>(counts.committed), static_cast<long long>(counts.failed));
  if (sqs) {
    const intake::IntakeCounts& in = sqs->counts();
    std::fprintf(stderr,
                 "sluice worker %s: intake: %lld messages, %lld jobs created, %lld already "
                 "queued, %lld left for the redrive policy\n",
                 name.c_str(), static_cast<long long>(in.received),
                 static_cast<long long>(in.jobs_created), static_cast<long long>(in.duplicates),
                 static_cast<long long>(in.rejected));
  }
  return counts.interrupted ? kExitInterrupted : kExitOk;
}

}  // namespace sluice::app

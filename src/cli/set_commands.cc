#include "cli/set_commands.h"

#include <signal.h>

#include <algorithm>
#include <boost/asio/signal_set.hpp>
#include <boost/json.hpp>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <map>
#include <set>

#include "app/compose.h"
#include "cli/sample_media.h"
#include "cli/test_hooks.h"
#include "common/json_text.h"
#include "common/redact.h"
#include "common/strings.h"
#include "db/set_results.h"
#include "http/loopback_server.h"
#include "methods/runner.h"
#include "pipeline/set_runner.h"
#include "queue/intake/url_list.h"

namespace sluice::cli {
namespace {

// Applies the config file's provider limits to the live providers, and says so.
void ReloadLimits(app::MethodStack& stack, const std::filesystem::path& config_file) {
  Result<std::vector<app::ReloadedLimits>> reloaded = app::ReloadProviderLimits(stack, config_file);
  if (!reloaded.ok()) {
    std::fprintf(stderr, "sluice: provider limits not reloaded: %s\n",
                 std::string(reloaded.status().message()).c_str());
    return;
  }
  for (const app::ReloadedLimits& given : *reloaded) {
    std::fprintf(stderr,
                 "sluice: provider %s: limits reloaded (%zu in flight, %.0f requests/min, %.0f "
                 "tokens/min)\n",
                 given.provider.c_str(), given.limits.max_concurrency,
                 given.limits.requests_per_minute, given.limits.tokens_per_minute);
  }
}

// A few facts a person would look for first in the demo's results.
void PrintDemoHighlights(const pipeline::AnalysisReport& analysis, const app::DataDir& data) {
  Result<std::vector<db::StepRow>> steps = data.db->ListSteps("demo");
  if (!steps.ok()) return;
  for (const db::StepRow& step : *steps) {
    if (!step.ok) continue;
    boost::system::error_code ec;
    boost::json::value output = boost::json::parse(step.output_json, ec);
    if (ec || !output.is_object()) continue;
    if (step.method == "ocr.tesseract") {
      std::string text(output.at("text").as_string());
      std::replace(text.begin(), text.end(), '\n', ' ');
      if (!text.empty()) std::printf("  text in %s: \"%s\"\n", step.url.c_str(), text.c_str());
    } else if (step.method == "audio.transcript") {
      std::string text(output.at("text").as_string());
      if (!text.empty()) std::printf("  speech in %s: \"%s\"\n", step.url.c_str(), text.c_str());
    } else if (step.method == "video.shots") {
      std::string starts;
      for (const boost::json::value& shot : output.at("shots").as_array()) {
        StrAppend(starts, starts.empty() ? "" : ", ", shot.at("start_s").to_number<double>(), " s");
      }
      std::printf("  shots in %s: %lld, starting at %s (a keyframe each)\n", step.url.c_str(),
                  static_cast<long long>(output.at("shot_count").to_number<int64_t>()),
                  starts.c_str());
    } else if (step.method == "video.defects") {
      std::string found;
      for (const char* kind : {"black", "frozen", "silence", "color_bars", "clipping"}) {
        size_t count = output.at(kind).as_array().size();
        if (count) StrAppend(found, found.empty() ? "" : ", ", count, " ", kind);
      }
      if (output.at("slate").is_object()) StrAppend(found, found.empty() ? "" : ", ", "a slate");
      std::string loudness;
      if (const boost::json::value* l = output.as_object().if_contains("loudness");
          l && l->is_object()) {
        if (const boost::json::value& i = l->at("integrated_lufs"); !i.is_null())
          loudness = StrCat("; loudness ", i.to_number<double>(), " LUFS");
      }
      std::printf("  defects in %s: %s%s\n", step.url.c_str(),
                  found.empty() ? "none" : found.c_str(), loudness.c_str());
    }
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
    std::printf("  set summary: %s\n", JsonText(*summary).c_str());
  }
  if (const boost::json::value* videos = analysis.set_results.if_contains("set.video_summary")) {
    std::printf("  videos: %s\n", JsonText(*videos).c_str());
  }
}

}  // namespace

int CheckPipeline(const std::filesystem::path& file, const std::filesystem::path& config) {
  Result<std::unique_ptr<app::MethodStack>> stack = app::BuildMethods(nullptr, config);
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

int RunSet(RunConfig config) {
  Result<intake::UrlList> list = ReadSetList(config.list, config.set);
  if (!list.ok()) return Fail(kExitBadInput, list.status());
  Result<std::unique_ptr<app::Process>> process = app::Process::Create();
  if (!process.ok()) return Fail(kExitFatal, process.status());
  // A run that only fetches loads no methods (nor their libraries), unless it names a pipeline
  // to check; otherwise the pipeline is checked before anything is fetched.
  bool analyses = !config.fetch_only || !config.pipeline.empty();
  Result<std::unique_ptr<app::MethodStack>> stack =
      analyses ? app::BuildMethods(process->get(), config.config) : app::NoMethods();
  if (!stack.ok()) return Fail(kExitBadInput, stack.status());
  Result<pipeline::PipelineDef> definition =
      analyses ? app::PipelineFor(config.pipeline, (*stack)->registry) : pipeline::PipelineDef{};
  if (!definition.ok()) return Fail(kExitBadInput, definition.status());
  Result<app::DataDir> data =
      app::OpenData(config.data, **process, {config.db, config.store}, config.config);
  if (!data.ok()) return Fail(kExitFatal, data.status());
  // An analysis commits embeddings, which go into the indexes; fetching alone touches none.
  if (analyses) {
    if (Status opened = data->OpenIndexes(); !opened.ok()) return Fail(kExitFatal, opened);
  }
  if (!config.json) {
    std::fprintf(
        stderr, "sluice: set %s: %zu URLs%s\n", config.set.c_str(), list->urls.size(),
        list->duplicates ? StrCat(" (", list->duplicates, " duplicates dropped)").c_str() : "");
  }
  pipeline::SetRunOptions options{.concurrency = config.concurrency,
                                  .per_host = config.per_host,
                                  .fetch = config.fetch,
                                  .fetch_only = config.fetch_only};
  ApplyTestHooks(options);
  ConsoleObserver console(config.json ? ProgressStyle::kNone : config.progress,
                          config.json ? "" : StrCat("sluice: analysing set ", config.set));
  app::MethodStack& methods = **stack;
  ReportProviderOutages(methods);
  auto reload = [&methods, &config] { ReloadLimits(methods, config.config); };
  Result<pipeline::SetReport> report =
      RunWithConsole(**process, app::SetPartsOf(**process, *data, methods), std::move(options),
                     console, config.set, std::move(list->urls), std::move(*definition), reload);
  if (!report.ok()) return Fail(kExitFatal, report.status());
  if (config.json) {
    std::cout << JsonText(SummaryJson(*report, *data)) << std::endl;
  } else {
    PrintSummary(*report, console.FailureSummary(), *data);
    PrintProviderLedger(methods);
  }
  if (report->interrupted()) {
    std::fprintf(stderr, "sluice: interrupted; run the same command again to continue\n");
    return kExitInterrupted;
  }
  return kExitOk;
}

int RunDemo(DemoConfig config) {
  bool bundled = config.samples.empty();
  if (bundled) {
    // The media the binary carries, written once into the data directory.
    config.samples = config.data / "samples";
    Result<int> written = WriteBundledSamples(config.samples);
    if (!written.ok()) return Fail(kExitFatal, written.status());
    if (*written > 0) {
      std::fprintf(stderr, "sluice demo: wrote %d bundled sample files to %s\n", *written,
                   config.samples.c_str());
    }
  }
  std::vector<std::filesystem::path> files;
  std::error_code ec;
  for (auto it = std::filesystem::directory_iterator(config.samples, ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    if (it->is_regular_file()) files.push_back(it->path().filename());
  }
  if (files.empty()) {
    return Fail(kExitBadInput,
                absl::NotFoundError(StrCat("no sample media in ", config.samples.string(),
                                           " (leave out --samples for the bundled ones, or make "
                                           "them with scripts/make-samples.sh ",
                                           config.samples.string(), ")")));
  }
  std::sort(files.begin(), files.end());
  std::filesystem::path samples = std::filesystem::absolute(config.samples);
  auto serve = [samples](const http::HttpRequest& request) {
    return http::ServeDirectory(request, samples);
  };
  // One port when it is free, so that a second demo lists the same URLs (it skips what it has
  // stored and takes analysed results from its cache) instead of adding a copy of every sample.
  constexpr int kDemoPort = 18787;
  Result<std::unique_ptr<http::LoopbackServer>> server =
      http::LoopbackServer::Start(serve, "127.0.0.1", kDemoPort);
  if (!server.ok()) server = http::LoopbackServer::Start(serve);
  if (!server.ok()) return Fail(kExitFatal, server.status());
  std::vector<std::string> urls;
  for (const auto& file : files) urls.push_back((*server)->base_url() + "/" + file.string());
  urls.push_back((*server)->base_url() + "/missing.jpg");  // shows how a failed item is recorded
  std::fprintf(stderr, "sluice demo: serving %zu sample files from %s on %s\n", files.size(),
               samples.c_str(), (*server)->base_url().c_str());

  Result<std::unique_ptr<app::Process>> process = app::Process::Create();
  if (!process.ok()) return Fail(kExitFatal, process.status());
  // The demo is the embedded default, whatever the environment names for the fleet.
  Result<app::DataDir> data = app::DataDir::Open(config.data, **process);
  if (!data.ok()) return Fail(kExitFatal, data.status());
  if (Status opened = data->OpenIndexes(); !opened.ok()) return Fail(kExitFatal, opened);
  Result<std::unique_ptr<app::MethodStack>> stack = app::BuildMethods(nullptr, {});
  if (!stack.ok()) return Fail(kExitFatal, stack.status());
  pipeline::SetRunOptions options{.concurrency = 16, .per_host = 16};
  // Exactly the demo's own loopback server, not every private address.
  options.fetch.addresses.allowed_endpoints = {StrCat("127.0.0.1:", (*server)->port())};
  ConsoleObserver console(config.progress, "sluice demo: analysing (default pipeline)");
  Result<pipeline::SetReport> report = RunWithConsole(
      **process, app::SetPartsOf(**process, *data, **stack), std::move(options), console, "demo",
      std::move(urls), pipeline::DefaultPipeline((*stack)->registry));
  if (!report.ok()) return Fail(kExitFatal, report.status());
  PrintSummary(*report, console.FailureSummary(), *data);
  PrintDemoHighlights(report->analysis, *data);

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
  return report->interrupted() ? kExitInterrupted : kExitOk;
}

int ShowResults(ResultsConfig config) {
  if (config.format != "table" && config.format != "jsonl") {
    return Fail(kExitBadInput, absl::InvalidArgumentError("--format must be table or jsonl"));
  }
  Result<std::unique_ptr<app::Process>> process = app::Process::Create();
  if (!process.ok()) return Fail(kExitFatal, process.status());
  Result<app::DataDir> data = app::OpenData(config.data, **process, {config.db, config.store},
                                            config.config, /*existing=*/true);
  if (!data.ok())
    return Fail(CauseOf(data.status()) == "no_data" ? kExitBadInput : kExitFatal, data.status());
  if (config.set.empty()) {
    Result<std::vector<db::SetTotals>> sets = data->db->ListSets();
    if (!sets.ok()) return Fail(kExitFatal, sets.status());
    for (const auto& s : *sets) {
      if (config.format == "jsonl") {
        std::cout << JsonText(db::SetTotalsToJson(s)) << "\n";
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
  db::SetResults results = db::GroupSetResults(*steps);
  std::map<std::string, boost::json::object>& by_url = results.steps_by_url;
  std::map<std::string, boost::json::object>& artifacts_by_url = results.artifacts_by_url;
  for (const auto& item : *items) {
    const boost::json::object& methods = by_url[item.url];
    if (config.format == "jsonl") {
      std::cout << JsonText(db::ItemResultsToJson(item, results)) << "\n";
      continue;
    }
    if (item.status == db::ItemStatus::kOk) {
      std::printf("ok      %.12s  %10s  %-12s %s\n", item.sha256.c_str(),
                  HumanBytes(item.size).c_str(), item.mime.c_str(),
                  RedactSecrets(item.url).c_str());
    } else {
      std::printf("failed  %-34s %s  (%s)\n", item.failure_cause.c_str(),
                  RedactSecrets(item.url).c_str(), RedactSecrets(item.failure_details).c_str());
    }
    for (const auto& [method, value] : methods) {
      std::string text = JsonText(value);
      if (text.size() > 110) text = text.substr(0, 107) + "...";
      std::printf("        %-18s %s\n", std::string(method).c_str(), text.c_str());
      const boost::json::object& made = artifacts_by_url[item.url];
      if (const boost::json::value* files = made.if_contains(method)) {
        for (const auto& [name, key] : files->as_object()) {
          std::printf("        %-18s   %s: %s\n", "", std::string(name).c_str(),
                      std::string(key.as_string()).c_str());
        }
      }
    }
  }
  if (config.format == "table") {
    for (const auto& [method, value] : by_url[""]) {
      std::printf("set     %-18s %s\n", std::string(method).c_str(), JsonText(value).c_str());
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
  Result<std::unique_ptr<app::Process>> process = app::Process::Create();
  if (!process.ok()) return Fail(kExitFatal, process.status());
  Result<std::unique_ptr<app::MethodStack>> stack = app::BuildMethods(
      process->get(), config.config, {.record = config.record, .replay = config.replay});
  if (!stack.ok()) return Fail(kExitBadInput, stack.status());
  Result<app::DataDir> data = app::OpenData(config.data, **process, {}, config.config);
  if (!data.ok()) return Fail(kExitFatal, data.status());
  // One call, tried alone: it fails within the provider's call timeout rather than waiting
  // out an outage the way a long run does.
  if ((*stack)->providers) {
    for (methods::remote::Provider* provider : (*stack)->providers->All()) {
      methods::remote::ProviderLimits limits = provider->gate().limits();
      limits.max_outage_wait = std::min(limits.max_outage_wait, limits.call_timeout);
      provider->gate().SetLimits(limits);
    }
  }
  ReportProviderOutages(**stack);
  runtime::Runtime& rt = (*process)->runtime;
  methods::MethodRunner runner((*stack)->registry, rt, data->store);
  Result<methods::StepResult> step =
      rt.Run(runner.Run(config.method, config.file, std::move(params)));
  if (!step.ok()) return Fail(kExitBadInput, step.status());
  std::cout << JsonText(methods::StepResultToJson(*step)) << std::endl;
  if (int64_t recorded = (*stack)->recorded(); recorded >= 0) {
    std::fprintf(stderr, "sluice: %lld exchange(s) recorded in %s\n",
                 static_cast<long long>(recorded), config.record.c_str());
  }
  return step->status.ok() ? kExitOk : kExitFatal;
}

int ListMethods(bool json, const std::filesystem::path& config) {
  Result<std::unique_ptr<app::MethodStack>> stack = app::BuildMethods(nullptr, config);
  if (!stack.ok()) return Fail(kExitBadInput, stack.status());
  for (const methods::MethodBase* method : (*stack)->registry.All()) {
    const methods::MethodSpec& spec = method->spec();
    if (json) {
      std::cout << JsonText(methods::SpecToJson(*method)) << "\n";
    } else {
      std::printf("%-20s v%-3d %-10s %s\n", spec.name.c_str(), spec.version,
                  spec.provider.empty() ? "local" : spec.provider.c_str(),
                  spec.description.c_str());
    }
  }
  return kExitOk;
}

}  // namespace sluice::cli

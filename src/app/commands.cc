#include "app/commands.h"

#include <signal.h>

#include <algorithm>
#include <boost/asio/signal_set.hpp>
#include <boost/json.hpp>
#include <cstdio>
#include <iostream>
#include <set>

#include "app/data_dir.h"
#include "common/strings.h"
#include "http/curl_client.h"
#include "http/loopback_server.h"
#include "methods/registry.h"
#include "methods/runner.h"
#include "pipeline/acquire.h"
#include "queue/intake/url_list.h"
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
};

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
  pipeline::Acquirer acquirer(rt, *fetcher, *data.store, *data.catalog,
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
  return stem.empty() ? "default" : stem;
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
  std::printf("objects:  %s\n", data.objects().c_str());
  std::printf("database: %s\n", data.database().c_str());
  std::printf("details:  sluice results --data %s --set %s\n", data.root.c_str(),
              r.totals.set.c_str());
}

boost::json::object SummaryJson(const pipeline::AcquireReport& r, const DataDir& data) {
  return boost::json::object{
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

}  // namespace

int RunAcquire(RunConfig config) {
  Result<intake::UrlList> list = intake::ReadUrlListFile(config.list);
  if (!list.ok()) return Fail(kExitBadInput, list.status());
  if (config.set.empty()) config.set = DefaultSetName(config.list);
  runtime::Runtime rt;
  Result<DataDir> data = DataDir::Open(config.data, rt);
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
  if (config.json) {
    std::cout << boost::json::serialize(SummaryJson(outcome->report, *data)) << std::endl;
  } else {
    PrintSummary(*outcome, *data);
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
  Result<DataDir> data = DataDir::Open(config.data, rt);
  if (!data.ok()) return Fail(kExitFatal, data.status());
  http::FetchOptions fetch;
  // Exactly the demo's own loopback server, not every private address.
  fetch.addresses.allowed_endpoints = {StrCat("127.0.0.1:", (*server)->port())};
  Result<AcquireOutcome> outcome =
      rt.Run(AcquireWithConsole(rt, *data, fetch, 16, 16, config.progress, "demo", urls));
  if (!outcome.ok()) return Fail(kExitFatal, outcome.status());
  PrintSummary(*outcome, *data);

  Result<std::vector<db::ItemRecord>> items = data->catalog->ListItems("demo");
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
  Result<DataDir> data = DataDir::OpenExisting(config.data, rt);
  if (!data.ok())
    return Fail(CauseOf(data.status()) == "no_data" ? kExitBadInput : kExitFatal, data.status());
  if (config.set.empty()) {
    Result<std::vector<db::SetTotals>> sets = data->catalog->ListSets();
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
  Result<std::vector<db::ItemRecord>> items = data->catalog->ListItems(config.set);
  if (!items.ok()) return Fail(kExitFatal, items.status());
  if (items->empty()) {
    return Fail(kExitBadInput, absl::NotFoundError(StrCat("set '", config.set, "' has no items in ",
                                                          data->root.string())));
  }
  for (const auto& item : *items) {
    if (config.format == "jsonl") {
      boost::json::object row{{"url", item.url},
                              {"status", std::string(db::ItemStatusName(item.status))}};
      if (item.status == db::ItemStatus::kOk) {
        row["final_url"] = item.final_url;
        row["sha256"] = item.sha256;
        row["size"] = item.size;
        row["mime"] = item.mime;
        row["kind"] = item.kind;
        row["store_key"] = item.store_key;
      } else {
        row["failure_cause"] = item.failure_cause;
        row["failure_details"] = item.failure_details;
      }
      std::cout << boost::json::serialize(row) << "\n";
    } else if (item.status == db::ItemStatus::kOk) {
      std::printf("ok      %.12s  %10s  %-12s %s\n", item.sha256.c_str(),
                  HumanBytes(item.size).c_str(), item.mime.c_str(), item.url.c_str());
    } else {
      std::printf("failed  %-34s %s  (%s)\n", item.failure_cause.c_str(), item.url.c_str(),
                  item.failure_details.c_str());
    }
  }
  return kExitOk;
}

int TryMethod(TryConfig config) {
  methods::Registry registry;
  if (Status registered = methods::RegisterBuiltinMethods(registry); !registered.ok()) {
    return Fail(kExitFatal, registered);
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
  Result<DataDir> data = DataDir::Open(config.data, rt);
  if (!data.ok()) return Fail(kExitFatal, data.status());
  methods::MethodRunner runner(registry, rt, data->store.get());
  Result<methods::StepResult> step =
      rt.Run(runner.Run(config.method, config.file, std::move(params)));
  if (!step.ok()) return Fail(kExitBadInput, step.status());
  std::cout << boost::json::serialize(methods::StepResultToJson(*step)) << std::endl;
  return step->status.ok() ? kExitOk : kExitFatal;
}

int ListMethods(bool json) {
  methods::Registry registry;
  if (Status registered = methods::RegisterBuiltinMethods(registry); !registered.ok()) {
    return Fail(kExitFatal, registered);
  }
  for (const methods::MethodBase* method : registry.All()) {
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

}  // namespace sluice::app

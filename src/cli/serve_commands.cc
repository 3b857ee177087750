#include "cli/serve_commands.h"

#include <signal.h>

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/signal_set.hpp>
#include <cstdio>
#include <iostream>

#include "api/http_server.h"
#include "api/key_gate.h"
#include "api/routes.h"
#include "app/compose.h"
#include "common/json_text.h"
#include "common/sha256.h"
#include "common/strings.h"
#include "methods/remote/config.h"
#include "pipeline/run_metrics.h"

namespace sluice::cli {
namespace {

namespace asio = boost::asio;

// "HOST:PORT" or "[V6]:PORT" into options; InvalidArgument saying what is wrong.
Status ParseListen(const std::string& listen, api::ServerOptions& options) {
  size_t colon = listen.rfind(':');
  std::string host = colon == std::string::npos ? "" : listen.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  int port = -1;
  if (host.empty() || !ParseInt(std::string_view(listen).substr(colon + 1), port) || port < 0 ||
      port > 65535)
    return absl::InvalidArgumentError(
        StrCat("--listen '", listen, "': use HOST:PORT, such as 127.0.0.1:8080"));
  options.address = host;
  options.port = port;
  return absl::OkStatus();
}

}  // namespace

int Serve(ServeConfig config) {
  api::ServerOptions server_options;
  if (Status parsed = ParseListen(config.listen, server_options); !parsed.ok())
    return Fail(kExitBadInput, parsed);
  boost::system::error_code ec;
  asio::ip::address address = asio::ip::make_address(server_options.address, ec);
  if (ec)
    return Fail(kExitBadInput,
                absl::InvalidArgumentError(
                    StrCat("--listen: '", server_options.address, "' is not an IP address")));
  // Without keys anyone who can connect may submit: only this machine, and only when the
  // operator says so.
  if (config.no_auth && !address.is_loopback()) {
    return Fail(kExitBadInput,
                absl::InvalidArgumentError(
                    "--no-auth serves anyone who can connect: only on a loopback address "
                    "(127.0.0.1, ::1); elsewhere clients send API keys (`sluice keys create`)"));
  }
  if (config.workers < 0 || config.workers > 64)
    return Fail(kExitBadInput, absl::InvalidArgumentError("--workers must be 0 to 64"));

  Result<std::unique_ptr<app::Process>> process = app::Process::Create();
  if (!process.ok()) return Fail(kExitFatal, process.status());
  Result<std::unique_ptr<app::MethodStack>> stack =
      app::BuildMethods(process->get(), config.worker.queue.config);
  if (!stack.ok()) return Fail(kExitBadInput, stack.status());
  Result<pipeline::PipelineDef> definition =
      app::PipelineFor(config.worker.pipeline, (*stack)->registry);
  if (!definition.ok()) return Fail(kExitBadInput, definition.status());
  const DataConfig& where = config.worker.queue;
  Result<app::DataDir> data =
      app::OpenData(where.data, **process, {where.db, where.store}, where.config);
  if (!data.ok()) return Fail(kExitFatal, data.status());
  // The workers' commits feed the indexes; /v1/search reads them.
  if (Status opened = data->OpenIndexes(); !opened.ok()) return Fail(kExitFatal, opened);
  PrintIndexRepairs(*data, stderr);

  runtime::Runtime& rt = (*process)->runtime;
  const methods::Registry* registry = &(*stack)->registry;
  api::ApiMetrics metrics;
  // The workers' and the real-time path's runs are counted for /metrics.
  pipeline::RunMetrics run_metrics;
  pipeline::SetParts set_parts = app::SetPartsOf(**process, *data, **stack);
  set_parts.metrics = &run_metrics;
  const methods::remote::Providers* providers = (*stack)->providers.get();
  api::ApiParts parts{
      .runtime = &rt,
      .db = data->db.get(),
      .store = data->store,
      .pipeline_named =
          [registry](const std::string& name) { return app::PipelineFor(name, *registry); },
      .set_parts = &set_parts,
      .fetch = config.worker.fetch,
      .default_pipeline = config.worker.pipeline,
      .registry = registry,
      .indexes = data->indexes.get(),
      .scratch_dir = data->scratch,
      .metrics = &metrics,
      .process_metrics =
          [&run_metrics, providers] {
            std::string text = run_metrics.Render();
            if (providers) text += methods::remote::ProviderMetricsText(*providers);
            return text;
          },
      .readiness_checks =
          [providers] {
            return providers ? methods::remote::ProviderReadiness(*providers)
                             : std::vector<std::pair<std::string, Status>>{};
          }};
  api::Router router;
  api::AddRoutes(router, parts);
  api::KeyGate gate(rt, *data->db, !config.no_auth);
  api::Handler dispatch =
      gate.Wrap([&router](api::Request request) { return router.Dispatch(std::move(request)); });
  if (!config.no_auth) {
    Result<std::vector<db::ApiKey>> keys = data->db->ListKeys();
    if (!keys.ok()) return Fail(kExitFatal, keys.status());
    if (std::none_of(keys->begin(), keys->end(),
                     [](const db::ApiKey& key) { return key.revoked_ms == 0; }))
      std::fprintf(stderr,
                   "sluice serve: no API key is in force, so every /v1 call will be refused; "
                   "make one with `sluice keys create --name NAME`\n");
  }
  Result<std::unique_ptr<api::HttpServer>> server =
      api::HttpServer::Listen(rt.loop_executor(), server_options, dispatch);
  if (!server.ok()) return Fail(kExitFatal, server.status());

  std::vector<std::unique_ptr<worker::Worker>> workers;
  WorkerLog log;
  std::string name = config.worker.name.empty() ? WorkerName() : config.worker.name;
  for (int n = 0; n < config.workers; ++n) {
    WorkerConfig one = config.worker;
    one.jobs = 1;
    workers.push_back(std::make_unique<worker::Worker>(
        set_parts, *definition, WorkerOptionsFor(one, StrCat(name, "/", n), *registry), nullptr,
        &log));
  }
  std::fprintf(stderr,
               "sluice serve: listening on %s (web UI %s/ui/, API %s/v1, OpenAPI "
               "%s/v1/openapi.json); %s; %d worker(s); database %s, objects %s\n",
               (*server)->url().c_str(), (*server)->url().c_str(), (*server)->url().c_str(),
               (*server)->url().c_str(),
               config.no_auth ? "no API keys asked (--no-auth)" : "API keys required",
               config.workers, data->database().c_str(), data->objects().c_str());
  std::fflush(stderr);

  bool stopped = false;
  auto main = [&]() -> asio::awaitable<int> {
    asio::signal_set signals(rt.loop(), SIGINT, SIGTERM);
    auto on_signal = [&](boost::system::error_code error, int) {
      if (error) return;
      stopped = true;
      std::fprintf(stderr, "sluice serve: stopping; running jobs go back to the queue\n");
      (*server)->Stop();
      for (auto& one : workers) one->Stop();
    };
    signals.async_wait(on_signal);
    // (No captures: the coroutine keeps its parameter, not a closure that is gone.)
    auto run_worker = [](worker::Worker* running) -> asio::awaitable<void> {
      co_await running->Run();
    };
    for (auto& one : workers) asio::co_spawn(rt.loop(), run_worker(one.get()), asio::detached);
    co_await (*server)->Run();
    co_return 0;
  };
  rt.Run(main());
  return stopped ? kExitInterrupted : kExitOk;
}

int KeysCommand(KeysConfig config) {
  Result<std::unique_ptr<app::Process>> process = app::Process::Create();
  if (!process.ok()) return Fail(kExitFatal, process.status());
  const DataConfig& where = config.where;
  Result<app::DataDir> data =
      app::OpenData(where.data, **process, {where.db, where.store}, where.config);
  if (!data.ok()) return Fail(kExitFatal, data.status());
  db::KeyStore& keys = *data->db;
  if (config.action == "create") {
    std::string secret = db::NewApiKeySecret();
    Status added = keys.AddKey({.name = config.name,
                                .prefix = secret.substr(0, 7),
                                .hash = Sha256::HexOf(secret),
                                .requests_per_minute = config.requests_per_minute});
    if (!added.ok()) return Fail(kExitBadInput, added);
    std::printf("%s\n", secret.c_str());
    std::fprintf(stderr,
                 "sluice: key '%s' made; it is shown only now. Clients send it as "
                 "\"Authorization: Bearer <key>\"\n",
                 config.name.c_str());
    return kExitOk;
  }
  if (config.action == "revoke") {
    Result<db::ApiKey> revoked = keys.RevokeKey(config.name);
    if (!revoked.ok()) return Fail(kExitBadInput, revoked.status());
    std::fprintf(stderr, "sluice: key '%s' (%s…) revoked\n", revoked->name.c_str(),
                 revoked->prefix.c_str());
    return kExitOk;
  }
  Result<std::vector<db::ApiKey>> listed = keys.ListKeys();
  if (!listed.ok()) return Fail(kExitFatal, listed.status());
  for (const db::ApiKey& key : *listed) {
    if (config.json) {
      std::cout << JsonText(boost::json::object{{"name", key.name},
                                                {"prefix", key.prefix},
                                                {"requests_per_minute", key.requests_per_minute},
                                                {"created_ms", key.created_ms},
                                                {"revoked_ms", key.revoked_ms}})
                << "\n";
    } else {
      std::string rate = key.requests_per_minute > 0
                             ? StrCat(key.requests_per_minute, " requests/min")
                             : "no rate limit";
      std::printf("%-20s %s…  %s  %s\n", key.name.c_str(), key.prefix.c_str(), rate.c_str(),
                  key.revoked_ms ? "revoked" : "in force");
    }
  }
  if (listed->empty() && !config.json) std::fprintf(stderr, "sluice: no API keys\n");
  return kExitOk;
}

}  // namespace sluice::cli

#include "cli/serve_commands.h"

#include <signal.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/signal_set.hpp>
#include <cstdio>

#include "api/http_server.h"
#include "api/routes.h"
#include "app/compose.h"
#include "common/strings.h"

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
  // Until API keys exist, anyone who can connect may submit: only this machine, and only when
  // the operator says so.
  if (!config.no_auth || !address.is_loopback()) {
    return Fail(kExitBadInput, absl::InvalidArgumentError(
                                   "this version has no API keys yet: serve on a loopback address "
                                   "(127.0.0.1, ::1) with --no-auth"));
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
  if (config.workers > 0) {
    if (Status opened = data->OpenIndexes(); !opened.ok()) return Fail(kExitFatal, opened);
    PrintIndexRepairs(*data, stderr);
  }

  runtime::Runtime& rt = (*process)->runtime;
  const methods::Registry* registry = &(*stack)->registry;
  api::ApiParts parts{.runtime = &rt,
                      .db = data->db.get(),
                      .store = data->store,
                      .check_pipeline = [registry](const std::string& name) {
                        return app::PipelineFor(name, *registry).status();
                      }};
  api::Router router;
  api::AddRoutes(router, parts);
  api::Handler dispatch = [&router](api::Request request) {
    return router.Dispatch(std::move(request));
  };
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
        app::SetPartsOf(**process, *data, **stack), *definition,
        WorkerOptionsFor(one, StrCat(name, "/", n), *registry), nullptr, &log));
  }
  std::fprintf(stderr,
               "sluice serve: listening on %s (API %s/v1, OpenAPI %s/v1/openapi.json); %d "
               "worker(s); database %s, objects %s\n",
               (*server)->url().c_str(), (*server)->url().c_str(), (*server)->url().c_str(),
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

}  // namespace sluice::cli

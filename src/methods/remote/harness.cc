#include "methods/remote/harness.h"

#include "methods/builtin.h"
#include "methods/runner.h"

namespace sluice::methods::remote {

CassetteHarness::CassetteHarness(std::filesystem::path cassettes,
                                 std::optional<ProvidersConfig> config) {
  std::optional<std::string> record = ProcessEnvironment("SLUICE_RECORD_CASSETTES");
  recording_ = record && *record == "1";
  if (config) {
    config_ = std::move(*config);
  } else {
    Result<ProvidersConfig> loaded =
        LoadProvidersConfig(ProcessEnvironment("SLUICE_CONFIG").value_or(""));
    if (!loaded.ok()) {
      setup_ = loaded.status();
      return;
    }
    config_ = std::move(*loaded);
  }
  Result<std::unique_ptr<http::HttpClient>> client =
      http::HttpClient::Create(runtime_.loop_executor(), {});
  if (!client.ok()) {
    setup_ = client.status();
    return;
  }
  client_ = std::move(*client);
  network_ = std::make_unique<NetworkTransport>(*client_);
  if (recording_) {
    cassette_ = std::make_unique<RecordingTransport>(*network_, std::move(cassettes));
  } else {
    cassette_ = std::make_unique<ReplayTransport>(std::move(cassettes));
  }
  providers_ = std::make_unique<Providers>(config_, runtime_.loop_executor(), *cassette_);
  setup_ = RegisterBuiltinMethods(
      registry_, {.config = &config_, .providers = providers_.get(), .runtime = &runtime_});
}

CassetteHarness::~CassetteHarness() = default;

Result<StepResult> CassetteHarness::Try(const std::string& method,
                                        const std::filesystem::path& file, json::object params) {
  SLUICE_RETURN_IF_ERROR(setup_);
  MethodRunner runner(registry_, runtime_, &store_);
  return runtime_.Run(runner.Run(method, file, std::move(params)));
}

}  // namespace sluice::methods::remote

// Provider configuration: the [providers] section of sluice's config file (TOML), completed
// with defaults and the standard environment variables, and the set of live providers.
//
//   [providers]
//   default = "local"                 # the provider remote methods use unless a step says
//   [providers.local]
//   kind = "openai"                   # or "bedrock"
//   base_url = "http://127.0.0.1:8000/v1"
//   api_key_env = "LOCAL_KEY"         # default OPENAI_API_KEY
//   chat_model = "qwen2-vl"           # embedding_model, transcription_model,
//                                     # image_embedding_model, image_embedding_request,
//                                     # embedding_batch (1..2048), embedding_batch_wait_ms
//   max_concurrency = 32              # requests_per_minute, tokens_per_minute, max_attempts,
//                                     # timeout_seconds, breaker_failures, breaker_open_seconds,
//                                     # max_outage_wait_seconds
//
// With no file, two providers exist: "openai" (OPENAI_BASE_URL or https://api.openai.com/v1,
// key OPENAI_API_KEY) and "bedrock" (AWS_REGION or AWS_DEFAULT_REGION or us-east-1; credentials
// AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN). The default is "openai".
//
// Thread-safety: Providers is event-loop only once created.
#pragma once

#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "methods/remote/provider.h"

namespace sluice::methods::remote {

struct ProvidersConfig {
  std::string default_provider = "openai";
  std::vector<ProviderConfig> providers;

  // Null when absent.
  const ProviderConfig* Find(std::string_view name) const;
};

// Reads an environment variable; tests inject their own.
using Environment = std::function<std::optional<std::string>(const std::string& name)>;
std::optional<std::string> ProcessEnvironment(const std::string& name);

// The configuration from `file` ("" for none: the defaults). NotFound when the file is missing;
// InvalidArgument "FILE:LINE: what is wrong" for unknown keys, wrong types, an unknown kind or a
// default that names no provider.
Result<ProvidersConfig> LoadProvidersConfig(const std::filesystem::path& file,
                                            const Environment& environment = ProcessEnvironment);

// The live providers, one per configured provider, all sending through `transport`.
class Providers {
 public:
  Providers(const ProvidersConfig& config, asio::any_io_executor loop, Transport& transport);

  // NotFound naming the configured providers when `name` is not one.
  Result<Provider*> Get(std::string_view name) const;
  std::vector<Provider*> All() const;

 private:
  std::vector<std::unique_ptr<Provider>> providers_;
};

// Each provider's ledger and circuit state since start, in Prometheus's text format: calls,
// retries, failures, 429 answers, tokens, circuit openings, the circuit's state now (0 closed,
// 1 half-open, 2 open) and the most calls ever in flight. Call on the event loop.
std::string ProviderMetricsText(const Providers& providers);

// Whether each provider may be called now, by name: Unavailable while its circuit is open (an
// outage: calls wait for it), OK otherwise. Call on the event loop.
std::vector<std::pair<std::string, Status>> ProviderReadiness(const Providers& providers);

}  // namespace sluice::methods::remote

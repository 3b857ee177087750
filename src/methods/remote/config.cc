#include "methods/remote/config.h"

#include <toml++/toml.h>

#include <cstdlib>
#include <functional>

#include "common/prometheus.h"
#include "common/strings.h"
#include "common/toml_file.h"

namespace sluice::methods::remote {
namespace {

ProviderConfig Defaults(std::string name, std::string kind, const Environment& environment) {
  ProviderConfig config{.name = std::move(name), .kind = std::move(kind)};
  if (config.kind == "bedrock") {
    config.region =
        environment("AWS_REGION").value_or(environment("AWS_DEFAULT_REGION").value_or("us-east-1"));
    config.chat_model = "anthropic.claude-3-haiku-20240307-v1:0";
    config.embedding_model = "amazon.titan-embed-text-v2:0";
    config.image_embedding_model = "amazon.titan-embed-image-v1";
  } else {
    config.base_url = environment("OPENAI_BASE_URL").value_or("https://api.openai.com/v1");
    config.api_key_env = "OPENAI_API_KEY";
    config.chat_model = "gpt-4o-mini";
    config.embedding_model = "text-embedding-3-small";
    config.transcription_model = "whisper-1";
  }
  return config;
}

// Secrets are read once, after the file chose where they live.
void ReadCredentials(ProviderConfig& config, const Environment& environment) {
  if (!config.api_key_env.empty()) config.api_key = environment(config.api_key_env).value_or("");
  if (config.kind == "bedrock") {
    config.aws.access_key = environment("AWS_ACCESS_KEY_ID").value_or("");
    config.aws.secret_key = environment("AWS_SECRET_ACCESS_KEY").value_or("");
    config.aws.session_token = environment("AWS_SESSION_TOKEN").value_or("");
  }
}

}  // namespace

const ProviderConfig* ProvidersConfig::Find(std::string_view name) const {
  for (const ProviderConfig& provider : providers) {
    if (provider.name == name) return &provider;
  }
  return nullptr;
}

std::optional<std::string> ProcessEnvironment(const std::string& name) {
  const char* value = std::getenv(name.c_str());  // NOLINT(concurrency-mt-unsafe): read-only
  if (!value) return std::nullopt;
  return std::string(value);
}

Result<ProvidersConfig> LoadProvidersConfig(const std::filesystem::path& file,
                                            const Environment& environment) {
  ProvidersConfig config;
  config.providers = {Defaults("openai", "openai", environment),
                      Defaults("bedrock", "bedrock", environment)};
  if (!file.empty()) {
    SLUICE_ASSIGN_OR_RETURN(TomlFile parsed, TomlFile::Parse(file, "config file"));
    const toml::table& root = parsed.root();
    auto at = [&](const toml::node& node, std::string_view what) {
      return parsed.ErrorAt(node, what);
    };
    for (const auto& [key, value] : root) {
      // [backends] belongs to the application (app/backends.h), which reads the same file.
      if (key.str() != "providers" && key.str() != "backends")
        return at(value, StrCat("unknown section '", key.str(),
                                "' (the config has: [providers], [backends])"));
    }
    if (const toml::table* providers = root["providers"].as_table()) {
      for (const auto& [key, value] : *providers) {
        if (key.str() == "default") {
          if (!value.is_string()) return at(value, "providers.default must be a string");
          config.default_provider = *value.value<std::string>();
          continue;
        }
        const toml::table* table = value.as_table();
        if (!table) return at(value, StrCat("providers.", key.str(), " must be a table"));
        std::string kind = (*table)["kind"].value_or(std::string("openai"));
        if (kind != "openai" && kind != "bedrock")
          return at(value, StrCat("providers.", key.str(), ".kind must be openai or bedrock"));
        ProviderConfig provider = Defaults(std::string(key.str()), kind, environment);
        for (const auto& entry : *table) {
          // Not a structured binding: clang 14 (the fuzz build) cannot capture one in lambdas.
          const toml::node& node = entry.second;
          std::string name(entry.first.str());
          auto text = [&](std::string& out) -> Status {
            if (!node.is_string()) return at(node, StrCat(name, " must be a string"));
            out = *node.value<std::string>();
            return absl::OkStatus();
          };
          auto number = [&](auto& out, double scale = 1) -> Status {
            std::optional<double> v = node.value<double>();
            if (!v || *v < 0) return at(node, StrCat(name, " must be a number >= 0"));
            using T = std::remove_reference_t<decltype(out)>;
            if constexpr (std::is_same_v<T, runtime::Duration>) {
              out = runtime::Duration{static_cast<int64_t>(*v * scale)};
            } else {
              out = static_cast<T>(*v * scale);
            }
            return absl::OkStatus();
          };
          ProviderLimits& limits = provider.limits;
          Status status = absl::OkStatus();
          if (name == "kind") {
          } else if (name == "base_url") {
            status = text(provider.base_url);
          } else if (name == "api_key_env") {
            status = text(provider.api_key_env);
          } else if (name == "region") {
            status = text(provider.region);
          } else if (name == "chat_model") {
            status = text(provider.chat_model);
          } else if (name == "embedding_model") {
            status = text(provider.embedding_model);
          } else if (name == "image_embedding_model") {
            status = text(provider.image_embedding_model);
          } else if (name == "image_embedding_request") {
            status = text(provider.image_embedding_request);
            if (status.ok() && provider.image_embedding_request != "input" &&
                provider.image_embedding_request != "messages") {
              status = at(node, "image_embedding_request is \"input\" or \"messages\"");
            }
          } else if (name == "embedding_batch") {
            status = number(provider.embedding_batch);
            if (status.ok() && (provider.embedding_batch < 1 || provider.embedding_batch > 2048))
              status = at(node, "embedding_batch is between 1 and 2048");
          } else if (name == "embedding_batch_wait_ms") {
            status = number(provider.embedding_batch_wait_ms);
          } else if (name == "transcription_model") {
            status = text(provider.transcription_model);
          } else if (name == "max_concurrency") {
            status = number(limits.max_concurrency);
          } else if (name == "requests_per_minute") {
            status = number(limits.requests_per_minute);
          } else if (name == "tokens_per_minute") {
            status = number(limits.tokens_per_minute);
          } else if (name == "max_attempts") {
            status = number(limits.retry.max_attempts);
          } else if (name == "timeout_seconds") {
            status = number(limits.call_timeout, 1000);
          } else if (name == "breaker_failures") {
            status = number(limits.breaker.failure_threshold);
          } else if (name == "breaker_open_seconds") {
            status = number(limits.breaker.open_for, 1000);
          } else if (name == "max_outage_wait_seconds") {
            status = number(limits.max_outage_wait, 1000);
          } else {
            status = at(node, StrCat("unknown key '", name, "' in providers.", key.str()));
          }
          SLUICE_RETURN_IF_ERROR(status);
        }
        if (kind == "openai" && provider.base_url.empty())
          return at(value, StrCat("providers.", key.str(), " needs a base_url"));
        std::erase_if(config.providers,
                      [&](const ProviderConfig& p) { return p.name == provider.name; });
        config.providers.push_back(std::move(provider));
      }
      if (!config.Find(config.default_provider)) {
        return at(*providers, StrCat("providers.default names '", config.default_provider,
                                     "', which is not configured"));
      }
    }
  }
  for (ProviderConfig& provider : config.providers) ReadCredentials(provider, environment);
  return config;
}

Providers::Providers(const ProvidersConfig& config, asio::any_io_executor loop,
                     Transport& transport) {
  for (const ProviderConfig& provider : config.providers) {
    providers_.push_back(provider.kind == "bedrock" ? NewBedrockProvider(provider, loop, transport)
                                                    : NewOpenAiProvider(provider, loop, transport));
  }
}

Result<Provider*> Providers::Get(std::string_view name) const {
  std::string names;
  for (const auto& provider : providers_) {
    if (provider->config().name == name) return provider.get();
    StrAppend(names, names.empty() ? "" : ", ", provider->config().name);
  }
  return absl::NotFoundError(
      StrCat("no provider '", name, "' is configured (configured: ", names, ")"));
}

std::vector<Provider*> Providers::All() const {
  std::vector<Provider*> all;
  for (const auto& provider : providers_) all.push_back(provider.get());
  return all;
}

std::string ProviderMetricsText(const Providers& providers) {
  struct Counter {
    const char* name;
    const char* type;
    const char* help;
    std::function<double(const ProviderGate&)> value;
  };
  const std::vector<Counter> counters = {
      {"sluice_provider_calls_total", "counter", "Calls a provider answered, success or not.",
       [](const ProviderGate& g) { return static_cast<double>(g.stats().calls); }},
      {"sluice_provider_retries_total", "counter", "Requests sent again after a retryable error.",
       [](const ProviderGate& g) { return static_cast<double>(g.stats().retries); }},
      {"sluice_provider_failures_total", "counter", "Calls that ended in an error.",
       [](const ProviderGate& g) { return static_cast<double>(g.stats().failures); }},
      {"sluice_provider_throttled_total", "counter", "429 answers.",
       [](const ProviderGate& g) { return static_cast<double>(g.stats().throttled); }},
      {"sluice_provider_input_tokens_total", "counter", "Input tokens the provider counted.",
       [](const ProviderGate& g) { return static_cast<double>(g.stats().input_tokens); }},
      {"sluice_provider_output_tokens_total", "counter", "Output tokens the provider counted.",
       [](const ProviderGate& g) { return static_cast<double>(g.stats().output_tokens); }},
      {"sluice_provider_breaker_opened_total", "counter", "Times the circuit opened (outages).",
       [](const ProviderGate& g) { return static_cast<double>(g.stats().breaker_opened); }},
      {"sluice_provider_breaker_state", "gauge", "The circuit now: 0 closed, 1 half-open, 2 open.",
       [](const ProviderGate& g) {
         switch (g.breaker_state()) {
           case runtime::CircuitBreaker::State::kClosed:
             return 0.0;
           case runtime::CircuitBreaker::State::kHalfOpen:
             return 1.0;
           case runtime::CircuitBreaker::State::kOpen:
             return 2.0;
         }
         return 0.0;
       }},
      {"sluice_provider_peak_in_flight", "gauge", "The most calls in flight at once so far.",
       [](const ProviderGate& g) { return static_cast<double>(g.stats().peak_in_flight); }},
      {"sluice_provider_call_seconds_total", "counter", "Time spent in calls, waits included.",
       [](const ProviderGate& g) { return g.stats().millis / 1000.0; }}};
  std::string out;
  for (const Counter& counter : counters) {
    prometheus::AppendHeader(out, counter.name, counter.type, counter.help);
    for (Provider* provider : providers.All()) {
      ProviderGate& gate = provider->gate();
      StrAppend(out, counter.name, "{provider=\"", prometheus::LabelValue(gate.name()), "\"} ",
                prometheus::Number(counter.value(gate)), "\n");
    }
  }
  return out;
}

std::vector<std::pair<std::string, Status>> ProviderReadiness(const Providers& providers) {
  std::vector<std::pair<std::string, Status>> out;
  for (Provider* provider : providers.All()) {
    const ProviderGate& gate = provider->gate();
    out.emplace_back(StrCat("provider ", gate.name()),
                     gate.breaker_state() == runtime::CircuitBreaker::State::kOpen
                         ? absl::UnavailableError("its circuit is open: it stopped answering")
                         : absl::OkStatus());
  }
  return out;
}

}  // namespace sluice::methods::remote

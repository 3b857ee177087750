// What the remote methods share inside this folder (not published): the provider params, and
// asking a model for a JSON document that fits a schema.
#pragma once

#include "common/strings.h"
#include "methods/method.h"
#include "methods/remote/config.h"
#include "methods/remote/provider.h"
#include "methods/remote/remote_methods.h"

namespace sluice::methods::remote {

struct JsonAnswer {
  json::value value;
  Usage usage;
};

// Asks for a JSON document fitting `request.schema`; a reply that does not parse or fit is
// answered with what was wrong, up to `max_reasks` times. FailedPrecondition
// "malformed_output" after that; the provider's errors as they come.
asio::awaitable<Result<JsonAnswer>> AskJson(Provider& provider, ChatRequest request,
                                            int max_reasks);

// What every remote method shares: provider and model params, and finding the provider.
class RemoteBase {
 protected:
  RemoteBase(RemoteEnv env, bool embedding) : env_(env), embedding_(embedding) {}

  void AddProviderParams(MethodSpec& spec) const {
    spec.provider = env_.config->default_provider;
    spec.params["provider"] = env_.config->default_provider;
    spec.params["model"] = "";
  }

  // The configuration of the provider `params` name; InvalidArgument when none is configured.
  Result<const ProviderConfig*> ConfiguredProvider(const json::object& params) const {
    std::string name(params.at("provider").as_string());
    const ProviderConfig* provider = env_.config->Find(name);
    if (!provider) {
      return absl::InvalidArgumentError(
          StrCat("provider '", name, "' is not configured (see [providers] in the config file)"));
    }
    return provider;
  }

  Status Complete(json::object& params) const {
    SLUICE_ASSIGN_OR_RETURN(const ProviderConfig* provider, ConfiguredProvider(params));
    if (params.at("model").as_string().empty())
      params["model"] = embedding_ ? provider->embedding_model : provider->chat_model;
    return absl::OkStatus();
  }

  Result<Provider*> ProviderFor(const json::object& params) const {
    if (!env_.providers || !env_.runtime) {
      return Failure(absl::StatusCode::kFailedPrecondition, "no_providers",
                     "remote methods need providers; none were set up for this command");
    }
    return env_.providers->Get(params.at("provider").as_string());
  }

  RemoteEnv env_;
  bool embedding_;
};

}  // namespace sluice::methods::remote

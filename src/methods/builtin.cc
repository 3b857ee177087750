// The one file that lists the built-in methods (DESIGN.md §4: explicit registration).
#include "methods/builtin.h"

#include "index/faiss/faiss_index.h"
#include "methods/local/local_methods.h"
#include "methods/set/set_methods.h"

namespace sluice::methods {

Status RegisterBuiltinMethods(Registry& registry, const remote::RemoteEnv& remote) {
  registry.SetMediaOpeners(&media::OpenSharedImage, &media::OpenDecodePass);
  for (auto* make :
       {&NewProbeMethod, &NewPhashMethod, &NewColorsMethod, &NewThumbnailMethod, &NewFacesMethod,
        &NewOcrMethod, &NewImageEmbeddingMethod, &NewImageSafetyMethod, &NewVideoShotsMethod,
        &NewVideoDefectsMethod, &NewVideoClipsMethod, &NewNearDuplicatesMethod, &NewSummaryMethod,
        &NewVideoSummaryMethod}) {
    SLUICE_RETURN_IF_ERROR(registry.Add(make()));
  }
  remote::RemoteEnv env = remote;
  static const remote::ProvidersConfig kDefaults = [] {
    Result<remote::ProvidersConfig> config = remote::LoadProvidersConfig("");
    return config.ok() ? *config : remote::ProvidersConfig{};
  }();
  if (!env.config) env.config = &kDefaults;
  for (auto& method : remote::NewRemoteMethods(env))
    SLUICE_RETURN_IF_ERROR(registry.Add(std::move(method)));
  return absl::OkStatus();
}

}  // namespace sluice::methods

extern "C" __attribute__((visibility("default"))) const sluice::methods::BuiltinMethodsModule*
sluice_builtin_methods_module() {
  static const sluice::methods::BuiltinMethodsModule module{
      &sluice::methods::RegisterBuiltinMethods, [] { return sluice::index::FaissBackend(); }};
  return &module;
}

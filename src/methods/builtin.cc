// The one file that lists the built-in methods (DESIGN.md §4: explicit registration).
#include "methods/local/local_methods.h"
#include "methods/registry.h"

namespace sluice::methods {

Status RegisterBuiltinMethods(Registry& registry) {
  for (auto* make : {&NewProbeMethod, &NewPhashMethod, &NewColorsMethod, &NewThumbnailMethod,
                     &NewFacesMethod, &NewOcrMethod, &NewNearDuplicatesMethod, &NewSummaryMethod}) {
    SLUICE_RETURN_IF_ERROR(registry.Add(make()));
  }
  return absl::OkStatus();
}

}  // namespace sluice::methods

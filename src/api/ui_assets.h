// The web UI's files (src/api/ui/), compiled into the binary so `sluice serve` needs nothing
// beside it and no build step reaches the internet.
#pragma once

#include <string_view>
#include <vector>

namespace sluice::api {

struct UiAsset {
  std::string_view name;  // "app.js"
  std::string_view body;
};

// Every file of src/api/ui/, by name.
const std::vector<UiAsset>& UiAssets();

}  // namespace sluice::api

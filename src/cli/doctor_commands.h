// `sluice doctor`: which AWS credential source the process uses and whether the database, the
// object store and the AI providers answer — what to run first on a new machine or pod.
#pragma once

#include <string>
#include <vector>

#include "cli/console.h"

namespace sluice::cli {

struct DoctorConfig {
  DataConfig where;
  // Providers to probe; empty: every OpenAI-compatible one with a key or a non-default base URL,
  // and Bedrock when it is the default provider.
  std::vector<std::string> providers;
};

// Prints one line per part, "ok" or "FAILED" with why. 0 when every part answered, 1 otherwise.
// Opens (and creates, like `run`) the data directory.
int RunDoctor(DoctorConfig config);

}  // namespace sluice::cli

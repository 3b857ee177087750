// `sluice verify`: reads every stored object back and checks it still holds the bytes its key
// names; `--repair` fetches the item's URL again for a missing or damaged one.
#pragma once

#include <string>

#include "cli/console.h"
#include "http/fetcher.h"

namespace sluice::cli {

struct VerifyConfig {
  DataConfig where;
  std::string set;  // "" for every set
  bool repair = false;
  bool json = false;
  http::FetchOptions fetch;
};

// Prints each problem and a summary. 0 when every object is whole (or was repaired), 1 when
// some are missing or damaged, 2 for a data directory that does not exist.
int VerifyStore(VerifyConfig config);

}  // namespace sluice::cli

// The index commands of the sluice binary: `search` (similarity search) and `index stats|build|
// verify` (the vector indexes kept over the database's embeddings). Like the other command
// families: parse nothing (main.cc does), call the pipeline's search and index upkeep, print,
// return the exit code (0 done, 1 fatal, 2 bad input or nothing to search).
#pragma once

#include <filesystem>
#include <string>

#include "cli/console.h"
#include "http/fetcher.h"

namespace sluice::cli {

struct SearchConfig {
  DataConfig where;
  std::string like;  // FILE, URL or SHA256
  std::string text;  // or words (exactly one of the two)
  // How a URL is fetched (guards, limits); scratch_dir is set from the data directory.
  http::FetchOptions fetch;
  int k = 10;
  std::string set;
  std::string method = "image.embedding";
  bool json = false;
};
int SearchItems(SearchConfig config);

struct IndexConfig {
  DataConfig where;
  std::string action;  // "stats", "build", "verify"
  std::string method;  // "" for every embedding method
  std::string kind;    // build: "flat", "hnsw", "ivfsq", "ivfpq"; "" to choose from size and budget
  double memory_budget_mb = 4096;
  int sample = 100;  // verify: queries compared with exact search
  bool json = false;
};
int IndexCommand(IndexConfig config);

}  // namespace sluice::cli

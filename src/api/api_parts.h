// ApiParts: what the API's routes work with, borrowed from the process that serves them
// (`sluice serve` composes it; tests make their own).
#pragma once

#include <filesystem>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "api/metrics.h"
#include "db/catalog.h"
#include "http/fetcher.h"
#include "index/index_folder.h"
#include "methods/registry.h"
#include "pipeline/definition.h"
#include "pipeline/set_runner.h"
#include "runtime/runtime.h"
#include "storage/blob_store.h"

namespace sluice::api {

struct ApiParts {
  runtime::Runtime* runtime = nullptr;
  db::Database* db = nullptr;
  storage::BlobStore* store = nullptr;
  // The pipeline of this name ("default", "video", a file the workers read), for jobs and the
  // real-time path: InvalidArgument naming what is wrong otherwise. Called on the blocking pool.
  std::function<Result<pipeline::PipelineDef>(const std::string&)> pipeline_named;
  // The real-time path (POST /v1/analyze) runs through the set runner with these parts and
  // fetch options (the same guard as every set's). Null: the route answers 503.
  const pipeline::SetParts* set_parts = nullptr;
  http::FetchOptions fetch;
  // The pipeline POST /v1/analyze runs when the request names none (the server's own).
  std::string default_pipeline = "default";
  // Similarity search (/v1/search): the methods that embed queries and the indexes. Null: the
  // route answers 503.
  const methods::Registry* registry = nullptr;
  index::IndexFolder* indexes = nullptr;
  // Where uploaded query pictures are written while they are embedded.
  std::filesystem::path scratch_dir;
  // Counts every answered request and serves /metrics. Null: no /metrics route.
  ApiMetrics* metrics = nullptr;
  // More of the scrape, in Prometheus's text format: what the process's runs and providers did.
  // Called on the event loop. Empty: nothing more.
  std::function<std::string()> process_metrics;
  // More of /readyz beside the database and the store (the providers): each check's name and
  // whether it passes. Called on the event loop. Empty: none.
  std::function<std::vector<std::pair<std::string, Status>>()> readiness_checks;
};

}  // namespace sluice::api

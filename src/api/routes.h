// The routes of `sluice serve`: /healthz, /readyz and the /v1 API (DESIGN.md §3: thin — parse,
// call the queue, catalog or store, map the Status to HTTP). The OpenAPI document served at
// /v1/openapi.json (openapi.json beside this file) lists exactly these routes.
//
// Event-loop only; database and store calls run on the blocking pool or the loop.
#pragma once

#include <filesystem>
#include <functional>
#include <string>
#include <string_view>

#include "api/metrics.h"
#include "api/router.h"
#include "db/catalog.h"
#include "index/index_folder.h"
#include "methods/registry.h"
#include "runtime/runtime.h"
#include "storage/blob_store.h"

namespace sluice::api {

struct ApiParts {
  runtime::Runtime* runtime = nullptr;
  db::Database* db = nullptr;
  storage::BlobStore* store = nullptr;
  // Whether jobs may name this pipeline ("default", "video", a file the workers read):
  // InvalidArgument naming what is wrong otherwise. Called on the blocking pool.
  std::function<Status(const std::string&)> check_pipeline;
  // Similarity search (/v1/search): the methods that embed queries and the indexes. Null: the
  // route answers 503.
  const methods::Registry* registry = nullptr;
  index::IndexFolder* indexes = nullptr;
  // Where uploaded query pictures are written while they are embedded.
  std::filesystem::path scratch_dir;
  // Counts every answered request and serves /metrics. Null: no /metrics route.
  ApiMetrics* metrics = nullptr;
};

// Adds every route to `router`. `parts` must outlive it.
void AddRoutes(Router& router, const ApiParts& parts);

// The OpenAPI 3.1 document (openapi.json, compiled in).
std::string_view OpenApiDocument();

}  // namespace sluice::api

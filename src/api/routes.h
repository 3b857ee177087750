// The routes of `sluice serve`: /healthz, /readyz and the /v1 API (DESIGN.md §3: thin — parse,
// call the queue, catalog or store, map the Status to HTTP). The OpenAPI document served at
// /v1/openapi.json (openapi.json beside this file) lists exactly these routes.
//
// Event-loop only; database and store calls run on the blocking pool or the loop.
#pragma once

#include <string_view>

#include "api/api_parts.h"
#include "api/router.h"

namespace sluice::api {

// Adds every route to `router`. `parts` must outlive it.
void AddRoutes(Router& router, const ApiParts& parts);

// The OpenAPI 3.1 document (openapi.json, compiled in).
std::string_view OpenApiDocument();

}  // namespace sluice::api

// Which database and object store a command uses (DESIGN.md §7): embedded defaults under the
// data directory, or the fleet's Postgres and S3.
#pragma once

#include <filesystem>
#include <string>

#include "common/status.h"

namespace sluice::app {

struct Backends {
  // "" (the data directory's sluice.db), "sqlite://PATH", "postgres://…".
  std::string db;
  // "" (the data directory), "file://", "s3://bucket/prefix".
  std::string store;
};

// Fills what `flags` leave empty, first from the environment (SLUICE_DB, SLUICE_STORE), then
// from the config file's [backends] table (db = "…", store = "…"); what stays empty means the
// data directory. InvalidArgument naming FILE:LINE for a malformed [backends] table.
Result<Backends> ResolveBackends(Backends flags, const std::filesystem::path& config_file);

}  // namespace sluice::app

#include "app/data_dir.h"

#include <signal.h>
#include <unistd.h>

#include "common/strings.h"

namespace sluice::app {
namespace {

// Removes scratch directories of processes that no longer exist (a crash or kill -9).
void SweepStaleScratch(const std::filesystem::path& temp) {
  std::error_code ec;
  for (auto it = std::filesystem::directory_iterator(temp, ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    std::string name = it->path().filename().string();
    std::string_view rest = name;
    int pid = 0;
    if (!ConsumePrefix(rest, "run-") || !ParseInt(rest, pid) || pid <= 0) continue;
    if (pid == getpid() || (kill(pid, 0) != 0 && errno == ESRCH)) {
      std::error_code ignored;
      std::filesystem::remove_all(it->path(), ignored);
    }
  }
}

}  // namespace

Result<DataDir> DataDir::Open(const std::filesystem::path& root, runtime::Runtime& runtime) {
  DataDir dir;
  std::error_code ec;
  dir.root = std::filesystem::absolute(root, ec).lexically_normal();
  SLUICE_ASSIGN_OR_RETURN(dir.store, storage::LocalBlobStore::Create(dir.root, runtime.blocking()));
  SLUICE_ASSIGN_OR_RETURN(dir.catalog, db::SqliteCatalog::Open(dir.database()));
  SweepStaleScratch(dir.store->temp_dir());
  dir.scratch = dir.store->temp_dir() / StrCat("run-", getpid());
  return dir;
}

Result<DataDir> DataDir::OpenExisting(const std::filesystem::path& root,
                                      runtime::Runtime& runtime) {
  if (!std::filesystem::exists(root / "sluice.db")) {
    return Failure(absl::StatusCode::kNotFound, "no_data",
                   StrCat("no sluice data at ", root.string(),
                          " (run `sluice run` or `sluice demo` first, or pass --data)"));
  }
  return Open(root, runtime);
}

DataDir::~DataDir() {
  if (scratch.empty()) return;
  std::error_code ignored;
  std::filesystem::remove_all(scratch, ignored);
}

}  // namespace sluice::app

#include "app/data_dir.h"

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>

#include "app/compose.h"
#include "app/methods_module.h"
#include "aws_settings.h"  // private to app/
#include "common/redact.h"
#include "common/strings.h"
#include "db/postgres/postgres_catalog.h"
#include "db/sqlite/sqlite_catalog.h"
#include "pipeline/index_copies.h"
#include "storage/local/local_blob_store.h"
#include "storage/s3/s3_blob_store.h"

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

// " (owned by uid N; this process runs as uid M)" when the directory belongs to someone else:
// the usual reason a data directory cannot be read or written.
std::string OwnerHint(const std::filesystem::path& root) {
  struct stat info {};
  if (stat(root.c_str(), &info) != 0 || info.st_uid == geteuid()) return "";
  return StrCat(" (owned by uid ", info.st_uid, "; this process runs as uid ", geteuid(),
                ": run as that user or pass another --data)");
}

std::string Environment(const char* name, std::string fallback = "") {
  const char* value = std::getenv(name);  // NOLINT(concurrency-mt-unsafe): main thread
  return value && *value ? std::string(value) : fallback;
}

}  // namespace

std::string AwsRegion() {
  return Environment("AWS_REGION", Environment("AWS_DEFAULT_REGION", "us-east-1"));
}

Result<std::shared_ptr<http::AwsCredentialProvider>> AwsCredentialsFor(Process& process,
                                                                       std::string_view what) {
  Result<std::shared_ptr<http::AwsCredentialProvider>> credentials = process.Aws();
  if (credentials.ok()) return credentials;
  return Failure(credentials.status().code(), CauseOf(credentials.status()),
                 StrCat(what, " needs AWS credentials: ", credentials.status().message()));
}

Result<storage::S3Options> S3OptionsFromEnvironment(const std::string& uri, Process& process) {
  storage::S3Options options;
  SLUICE_RETURN_IF_ERROR(storage::ParseS3Uri(uri, options));
  options.credentials = {.region = AwsRegion(), .service = "s3"};
  SLUICE_ASSIGN_OR_RETURN(options.credential_provider, AwsCredentialsFor(process, uri));
  options.endpoint = Environment(
      "AWS_ENDPOINT_URL", StrCat("https://s3.", options.credentials.region, ".amazonaws.com"));
  // The endpoint is the operator's choice (MinIO on this host is common), not input.
  options.allow_private = true;
  return options;
}

storage::BlobStore* DataDir::index_copies() const {
  return store && store != local.get() ? store : nullptr;
}

std::string DataDir::objects() const {
  if (store && store != local.get()) return store->Describe();
  return (root / "objects").string();
}

Result<DataDir> DataDir::Open(const std::filesystem::path& root, Process& process,
                              const Backends& uris) {
  runtime::Runtime& runtime = process.runtime;
  DataDir dir;
  dir.runtime_ = &runtime;
  std::error_code ec;
  dir.root = std::filesystem::absolute(root, ec).lexically_normal();
  Result<std::unique_ptr<storage::LocalBlobStore>> local =
      storage::LocalBlobStore::Create(dir.root, runtime.blocking());
  if (!local.ok()) {
    return Failure(local.status().code(), CauseOf(local.status()),
                   StrCat(local.status().message(), OwnerHint(dir.root)));
  }
  dir.local = std::move(*local);
  dir.store = dir.local.get();
  const std::string& uri = uris.store;
  if (uri.starts_with("s3://")) {
    SLUICE_ASSIGN_OR_RETURN(storage::S3Options options, S3OptionsFromEnvironment(uri, process));
    dir.remote_ = std::make_unique<storage::S3BlobStore>(*process.http, runtime.loop_executor(),
                                                         runtime.blocking(), options);
    dir.store = dir.remote_.get();
  } else if (!uri.empty() && uri != "file://" && uri != StrCat("file://", dir.root.string())) {
    return absl::InvalidArgumentError(StrCat(
        "--store '", uri, "': use s3://bucket/prefix, or leave it out for the data directory"));
  }
  if (uris.db.starts_with("postgres://") || uris.db.starts_with("postgresql://")) {
    SLUICE_ASSIGN_OR_RETURN(dir.db, db::PostgresCatalog::Open(uris.db));
    dir.database_ = RedactSecrets(uris.db);
  } else {
    std::filesystem::path file = dir.root / "sluice.db";
    if (std::string_view rest = uris.db; ConsumePrefix(rest, "sqlite://")) {
      if (rest.empty()) return absl::InvalidArgumentError("--db sqlite:// needs a file path");
      file = std::filesystem::absolute(std::filesystem::path(rest), ec);
    } else if (!uris.db.empty()) {
      return absl::InvalidArgumentError(
          StrCat("--db '", uris.db, "': use sqlite://PATH or postgres://…, or leave it out for ",
                 file.string()));
    }
    SLUICE_ASSIGN_OR_RETURN(dir.db, db::SqliteCatalog::Open(file));
    dir.database_ = file.string();
  }
  SweepStaleScratch(dir.local->temp_dir());
  dir.scratch = dir.local->temp_dir() / StrCat("run-", getpid());
  return dir;
}

Status DataDir::OpenIndexes() {
  if (indexes) return absl::OkStatus();
  SLUICE_ASSIGN_OR_RETURN(index::IndexBackend backend, IndexBackendFromModule());
  indexes = std::make_unique<index::IndexFolder>(root / "index", std::move(backend));
  if (storage::BlobStore* copies = index_copies()) {
    Result<int> fetched =
        runtime_->Run(pipeline::FetchMissingIndexFiles(*copies, indexes->folder()));
    if (!fetched.ok()) {
      index_problem = StrCat("fetching index files from ", copies->Describe(), ": ",
                             fetched.status().message());
    } else {
      index_files_fetched = *fetched;
    }
  }
  Result<std::vector<pipeline::IndexRepair>> repairs = pipeline::RepairIndexes(*indexes, *db);
  if (repairs.ok()) {
    index_repairs = *std::move(repairs);
  } else {
    index_problem = std::string(repairs.status().message());
  }
  return absl::OkStatus();
}

Result<DataDir> DataDir::OpenExisting(const std::filesystem::path& root, Process& process,
                                      const Backends& uris) {
  std::error_code ec;
  bool present = std::filesystem::exists(root / "sluice.db", ec);
  if (ec && ec != std::errc::no_such_file_or_directory) {
    return Failure(absl::StatusCode::kFailedPrecondition, "data_dir_unwritable",
                   StrCat("cannot read the data directory ", root.string(), ": ", ec.message(),
                          OwnerHint(root)));
  }
  if (uris.db.empty() && !present) {
    return Failure(absl::StatusCode::kNotFound, "no_data",
                   StrCat("no sluice data at ", root.string(),
                          " (run `sluice run` or `sluice demo` first, or pass --data)"));
  }
  return Open(root, process, uris);
}

DataDir::DataDir() = default;
DataDir::DataDir(DataDir&&) = default;
DataDir& DataDir::operator=(DataDir&&) = default;

DataDir::~DataDir() {
  if (scratch.empty()) return;
  std::error_code ignored;
  std::filesystem::remove_all(scratch, ignored);
}

}  // namespace sluice::app

#include "pipeline/readiness.h"

#include "runtime/offload.h"

namespace sluice::pipeline {

boost::asio::awaitable<Status> DatabaseAnswers(db::Database& db,
                                               boost::asio::thread_pool& blocking) {
  auto query = [&db] { return db.ListJobs(std::nullopt, 1).status(); };
  co_return co_await runtime::RunOn(blocking, query);
}

boost::asio::awaitable<Status> StoreAnswers(storage::BlobStore& store) {
  Result<storage::BlobInfo> probe = co_await store.Stat("readyz-probe");
  co_return probe.ok() || absl::IsNotFound(probe.status()) ? absl::OkStatus() : probe.status();
}

}  // namespace sluice::pipeline

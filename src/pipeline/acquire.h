// Acquire: the first stage of every set (DESIGN.md §2) — fetch each URL once, store each
// content once, record every item.
//
//   for each URL not yet recorded ok, with bounded fan-out (global and per host):
//     Fetcher::Fetch → scratch file, sha256, sniffed type
//     BlobStore::PutFile(ContentKey(sha256), consume, deferred) → stored once
//   every `record_interval` (or `record_batch` items): BlobStore::Flush, then one Catalog
//   transaction for the batch — an item is recorded only once its object is durable.
//
// A crash loses at most the items finished since the last batch; a rerun skips every URL
// recorded ok and refetches only the rest.
//
// Event-loop only: construct, Run, Stop and read progress on the loop thread.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "db/catalog.h"
#include "http/fetcher.h"
#include "runtime/limiter.h"
#include "runtime/runtime.h"
#include "storage/blob_store.h"

namespace sluice::pipeline {

namespace asio = boost::asio;

struct AcquireOptions {
  // Items in flight at once. Adjustable while running via item_limiter(). Default 64.
  size_t concurrency = 64;
  // Items in flight per host. Adjustable via host_limiter(). Default 16.
  size_t per_host = 16;
  // Longest delay between an item finishing and its row being committed. Default 250 ms.
  std::chrono::milliseconds record_interval{250};
  // Commit early once this many items wait. Default 2,000.
  size_t record_batch = 2000;
  // When the store keeps nothing on this machine (S3), keep each downloaded file after storing
  // it, for the analysis that follows in this process (kept_files()). Default false: the store
  // takes the file.
  bool keep_files = false;
};

// Counters, updated as items finish. Read on the event loop.
struct AcquireProgress {
  size_t listed = 0;   // URLs in the list
  size_t skipped = 0;  // already recorded ok by an earlier run
  // Upload parts sent while their downloads were still arriving (streaming puts, S3).
  int64_t parts_streamed = 0;
  size_t ok = 0;      // fetched and stored in this run
  size_t failed = 0;  // failed in this run
  size_t in_flight = 0;
  int64_t bytes = 0;           // stored content of this run's ok items
  int64_t bytes_received = 0;  // body bytes over the network, restarts included
  size_t done() const { return ok + failed; }
  size_t to_do() const { return listed - skipped; }
};

struct AcquireReport {
  db::SetTotals totals;  // the whole set, earlier runs included
  AcquireProgress run;   // this run
  double seconds = 0;
  bool interrupted = false;  // Stop() was called; unfinished items stay unrecorded
};

class Acquirer {
 public:
  using ItemCallback = std::function<void(const db::ItemRecord&)>;

  Acquirer(runtime::Runtime& runtime, http::Fetcher& fetcher, storage::BlobStore& store,
           db::Catalog& catalog, AcquireOptions options);

  // Acquires `urls` into `set`. OK with a report when the set was recorded, item failures
  // included. Errors are fatal for the run: the catalog or the store could not record
  // (Internal / FailedPrecondition / ResourceExhausted, with the backend's message).
  asio::awaitable<Result<AcquireReport>> Run(std::string set, std::vector<std::string> urls);

  // Stops starting items and interrupts those in flight. Run() then records what finished and
  // returns with interrupted = true.
  void Stop();

  // Called on the loop for every item recorded (ok or failed), e.g. for log lines.
  void OnItem(ItemCallback callback) { on_item_ = std::move(callback); }
  const AcquireProgress& progress() const { return progress_; }
  // With keep_files: the downloaded files of this run's ok items, by sha256 (one per content).
  // The caller owns them from now on and removes them.
  std::map<std::string, std::filesystem::path> TakeKeptFiles() { return std::move(kept_files_); }
  runtime::Limiter& item_limiter() { return items_; }
  runtime::KeyedLimiter& host_limiter() { return hosts_; }

 private:
  asio::awaitable<void> Item(std::string url, runtime::Limiter::Permit permit);
  asio::awaitable<void> Recorder(std::string set);
  asio::awaitable<Status> RecordPending(const std::string& set);
  void Finish(db::ItemRecord record);

  runtime::Runtime& runtime_;
  http::Fetcher& fetcher_;
  storage::BlobStore& store_;
  db::Catalog& catalog_;
  AcquireOptions options_;
  runtime::Limiter items_;
  runtime::KeyedLimiter hosts_;
  asio::steady_timer record_timer_;
  AcquireProgress progress_;
  std::vector<db::ItemRecord> pending_;
  Status record_error_;
  bool stopping_ = false;
  bool finishing_ = false;
  ItemCallback on_item_;
  std::map<std::string, std::filesystem::path> kept_files_;
};

// The host of `url` (lowercased), or "" when it has none: the per-host limiter's key.
std::string HostOf(std::string_view url);

}  // namespace sluice::pipeline

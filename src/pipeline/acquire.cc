#include "pipeline/acquire.h"

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/url/parse.hpp>
#include <filesystem>
#include <unordered_set>

#include "common/redact.h"
#include "common/strings.h"
#include "runtime/offload.h"
#include "runtime/task_group.h"

namespace sluice::pipeline {

using Clock = std::chrono::steady_clock;

std::string HostOf(std::string_view url) {
  auto parsed = boost::urls::parse_uri(boost::core::string_view(url.data(), url.size()));
  if (!parsed) return "";
  return ToLower(std::string_view(parsed->encoded_host().data(), parsed->encoded_host().size()));
}

Acquirer::Acquirer(runtime::Runtime& runtime, http::Fetcher& fetcher, storage::BlobStore& store,
                   db::Catalog& catalog, AcquireOptions options)
    : runtime_(runtime),
      fetcher_(fetcher),
      store_(store),
      catalog_(catalog),
      options_(options),
      items_(runtime.loop_executor(), options.concurrency),
      hosts_(runtime.loop_executor(), options.per_host),
      record_timer_(runtime.loop_executor()) {}

void Acquirer::Stop() {
  stopping_ = true;
  fetcher_.Stop();
}

asio::awaitable<Result<AcquireReport>> Acquirer::Run(std::string set,
                                                     std::vector<std::string> urls) {
  Clock::time_point start = Clock::now();
  // Recording an empty batch creates the set, so even an empty or finished list is recorded.
  SLUICE_CO_RETURN_IF_ERROR(
      co_await runtime::RunOn(runtime_.blocking(), [&] { return catalog_.RecordItems(set, {}); }));
  Result<std::vector<std::string>> completed =
      co_await runtime::RunOn(runtime_.blocking(), [&] { return catalog_.CompletedUrls(set); });
  SLUICE_CO_RETURN_IF_ERROR(completed.status());
  std::unordered_set<std::string> done(completed->begin(), completed->end());

  progress_.listed = urls.size();
  runtime::TaskGroup recorder(runtime_.loop_executor());
  recorder.Spawn(Recorder(set));
  runtime::TaskGroup items(runtime_.loop_executor());
  for (std::string& url : urls) {
    if (done.contains(url)) {
      ++progress_.skipped;
      continue;
    }
    runtime::Limiter::Permit permit = co_await items_.Acquire();
    if (stopping_) break;
    items.Spawn(Item(std::move(url), std::move(permit)));
  }
  co_await items.Wait();
  finishing_ = true;
  record_timer_.cancel();
  co_await recorder.Wait();
  SLUICE_CO_RETURN_IF_ERROR(record_error_);

  Result<db::SetTotals> totals =
      co_await runtime::RunOn(runtime_.blocking(), [&] { return catalog_.FinishSet(set); });
  SLUICE_CO_RETURN_IF_ERROR(totals.status());
  AcquireReport report;
  report.totals = std::move(*totals);
  report.run = progress_;
  report.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  report.interrupted = stopping_;
  co_return report;
}

namespace {

// Forwards the fetcher's view of a growing body to the store's streaming put.
class StreamToStore : public http::BodyObserver {
 public:
  explicit StreamToStore(storage::StreamingPut& put) : put_(put) {}
  void OnBodyBytes(const std::filesystem::path& file, int64_t bytes) override {
    put_.Grew(file, bytes);
  }
  void OnBodyRestart() override { put_.Restarted(); }

 private:
  storage::StreamingPut& put_;
};

}  // namespace

// `permit` is held for the item's lifetime: it is the item's slot in the global limit.
asio::awaitable<void> Acquirer::Item(std::string url,
                                     [[maybe_unused]] runtime::Limiter::Permit permit) {
  runtime::Limiter::Permit host_permit = co_await hosts_.Acquire(HostOf(url));
  ++progress_.in_flight;
  // Stores that gain from it (S3) start uploading while the body arrives.
  std::unique_ptr<storage::StreamingPut> streaming = store_.BeginStreamingPut();
  std::optional<StreamToStore> observer;
  if (streaming) observer.emplace(*streaming);
  Result<http::FetchedFile> fetched = co_await fetcher_.Fetch(url, observer ? &*observer : nullptr);
  db::ItemRecord record{.url = url};
  if (!fetched.ok() && streaming) co_await streaming->Abort();
  if (fetched.ok()) {
    progress_.bytes_received += fetched->bytes_received;
    record.requests = fetched->requests;
    std::string key = storage::ContentKey(fetched->sha256);
    // A file kept for analysis stays where it is; otherwise the store takes it.
    bool keep =
        options_.keep_files && !store_.LocalPath(key) && !kept_files_.contains(fetched->sha256);
    storage::PutOptions put_options{.durability = storage::Durability::kDeferred,
                                    .consume_source = !keep};
    Result<storage::PutOutcome> put = absl::UnknownError("not stored");
    if (streaming) {
      put = co_await streaming->Finish(key, fetched->path, fetched->size, put_options);
      progress_.parts_streamed += streaming->sent_before_finish();
    } else {
      put = co_await store_.PutFile(key, fetched->path, put_options);
    }
    if (keep && put.ok()) {
      kept_files_[fetched->sha256] = fetched->path;
    } else if (keep) {
      std::error_code ignored;
      std::filesystem::remove(fetched->path, ignored);
    }
    if (put.ok()) {
      record.status = db::ItemStatus::kOk;
      record.final_url = fetched->final_url;
      record.sha256 = fetched->sha256;
      record.size = fetched->size;
      record.mime = fetched->type.mime;
      record.kind = std::string(MediaKindName(fetched->type.kind));
      record.store_key = key;
    } else {
      std::error_code ignored;
      std::filesystem::remove(fetched->path, ignored);
      // A full disk is named as such: the operator frees space and a rerun continues.
      record.failure_cause = absl::IsResourceExhausted(put.status()) ? "no_space" : "store_failed";
      record.failure_details = RedactSecrets(std::string(put.status().message()));
    }
  } else {
    record.failure_cause = CauseOf(fetched.status());
    record.failure_details = RedactSecrets(std::string(fetched.status().message()));
  }
  --progress_.in_flight;
  // An interrupted item is not an outcome: it stays unrecorded and the next run fetches it.
  if (fetched.ok() || fetched.status().code() != absl::StatusCode::kCancelled)
    Finish(std::move(record));
}

void Acquirer::Finish(db::ItemRecord record) {
  if (record.status == db::ItemStatus::kOk) {
    ++progress_.ok;
    progress_.bytes += record.size;
  } else {
    ++progress_.failed;
  }
  if (on_item_) on_item_(record);
  pending_.push_back(std::move(record));
  if (pending_.size() >= options_.record_batch) record_timer_.cancel();
}

asio::awaitable<void> Acquirer::Recorder(std::string set) {
  for (;;) {
    if (!finishing_) {
      boost::system::error_code ignored;
      record_timer_.expires_after(options_.record_interval);
      co_await record_timer_.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
    }
    bool last = finishing_;
    if (Status recorded = co_await RecordPending(set); !recorded.ok()) {
      // Nothing more can be recorded: stop the run rather than fetch what would be lost.
      if (record_error_.ok()) record_error_ = recorded;
      Stop();
      if (last) co_return;
      continue;
    }
    if (last && pending_.empty()) co_return;
  }
}

asio::awaitable<Status> Acquirer::RecordPending(const std::string& set) {
  if (pending_.empty()) co_return absl::OkStatus();
  std::vector<db::ItemRecord> batch;
  batch.swap(pending_);
  // Objects first, rows second: a row never points at an object that a crash could lose.
  SLUICE_CO_RETURN_IF_ERROR(co_await store_.Flush());
  co_return co_await runtime::RunOn(runtime_.blocking(),
                                    [&] { return catalog_.RecordItems(set, batch); });
}

}  // namespace sluice::pipeline

#include "pipeline/realtime.h"

#include "common/content_type.h"
#include "common/sha256.h"
#include "common/strings.h"
#include "runtime/offload.h"

namespace sluice::pipeline {

namespace asio = boost::asio;

std::string UploadUrl(std::string_view sha256) { return StrCat("upload:", sha256); }

namespace {

// Stores the uploaded bytes under their content key and records them as an ok item of `set`,
// as acquisition records a fetched URL.
asio::awaitable<Result<std::string>> RecordUpload(const SetParts& parts, const std::string& set,
                                                  std::string bytes) {
  SniffedType type = SniffContentType(std::string_view(bytes).substr(0, kSniffBytes));
  if (type.kind == MediaKind::kOther)
    co_return WithCause(absl::InvalidArgumentError(
                            StrCat("the upload is ", type.mime, ", not an image, video or audio")),
                        "unsupported_content");
  std::string sha = Sha256::HexOf(bytes);
  db::ItemRecord record{.url = UploadUrl(sha),
                        .status = db::ItemStatus::kOk,
                        .final_url = UploadUrl(sha),
                        .sha256 = sha,
                        .size = static_cast<int64_t>(bytes.size()),
                        .mime = type.mime,
                        .kind = std::string(MediaKindName(type.kind)),
                        .store_key = storage::ContentKey(sha)};
  Result<storage::PutOutcome> stored =
      co_await parts.store->PutBytes(record.store_key, std::move(bytes), {});
  SLUICE_CO_RETURN_IF_ERROR(stored.status());
  auto record_item = [&] { return parts.db->RecordItems(set, {record}); };
  SLUICE_CO_RETURN_IF_ERROR(co_await runtime::RunOn(parts.runtime->blocking(), record_item));
  if (parts.metrics) parts.metrics->ItemRecorded(record);
  co_return record.url;
}

}  // namespace

asio::awaitable<Result<AnalyzeNowAnswer>> AnalyzeNow(SetParts parts, AnalyzeNowRequest request) {
  SLUICE_CO_RETURN_IF_ERROR(ValidateSetName(request.set));
  if (request.url.empty() == request.upload.empty())
    co_return absl::InvalidArgumentError("analyse a URL or an upload, one of them");
  std::string url = request.url;
  if (!request.upload.empty()) {
    SLUICE_CO_ASSIGN_OR_RETURN(
        url, co_await RecordUpload(parts, request.set, std::move(request.upload)));
  }
  SetRunner runner(
      parts, {.concurrency = 1, .per_host = 1, .fetch = request.fetch, .only_these_urls = true});
  std::vector<std::string> urls = {url};
  Result<SetReport> report =
      co_await runner.Run(request.set, std::move(urls), std::move(request.pipeline));
  SLUICE_CO_RETURN_IF_ERROR(report.status());
  auto read = [&]() -> Result<AnalyzeNowAnswer> {
    SLUICE_ASSIGN_OR_RETURN(std::vector<db::ItemRecord> items,
                            parts.db->ListItems(request.set, {url}));
    if (items.empty()) return absl::InternalError(StrCat("'", url, "' was not recorded"));
    SLUICE_ASSIGN_OR_RETURN(std::vector<db::StepRow> steps,
                            parts.db->ListSteps(request.set, {url}));
    return AnalyzeNowAnswer{
        .item = std::move(items.front()), .steps = std::move(steps), .report = std::move(*report)};
  };
  co_return co_await runtime::RunOn(parts.runtime->blocking(), read);
}

}  // namespace sluice::pipeline

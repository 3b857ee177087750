#include "pipeline/verify.h"

#include <set>

#include "common/sha256.h"
#include "common/strings.h"
#include "runtime/offload.h"
#include "storage/blob_store.h"

namespace sluice::pipeline {
namespace {

namespace asio = boost::asio;
constexpr int64_t kChunk = int64_t{8} << 20;

// The digest of the object at `key`, read in chunks (a video need not fit in memory).
asio::awaitable<Result<std::string>> DigestOf(storage::BlobStore& store, const std::string& key,
                                              int64_t& bytes) {
  SLUICE_CO_ASSIGN_OR_RETURN(storage::BlobInfo info, co_await store.Stat(key));
  Sha256 hash;
  for (int64_t offset = 0; offset < info.size; offset += kChunk) {
    SLUICE_CO_ASSIGN_OR_RETURN(
        std::string chunk,
        co_await store.Get(
            key,
            storage::ByteRange{.offset = offset, .length = std::min(kChunk, info.size - offset)}));
    hash.Update(chunk);
  }
  bytes += info.size;
  co_return hash.FinishHex();
}

// Fetches `url` again and stores the body under `key` when it has the digest `sha256`.
asio::awaitable<std::string> Repair(http::Fetcher& fetcher, storage::BlobStore& store,
                                    const std::string& url, const std::string& key,
                                    const std::string& sha256) {
  Result<http::FetchedFile> fetched = co_await fetcher.Fetch(url);
  if (!fetched.ok()) co_return StrCat("fetching it again failed: ", fetched.status().message());
  std::error_code ignored;
  if (fetched->sha256 != sha256) {
    std::filesystem::remove(fetched->path, ignored);
    co_return StrCat("the origin now serves other bytes (sha256 ", fetched->sha256.substr(0, 12),
                     "…)");
  }
  Result<storage::PutOutcome> put = co_await store.PutFile(
      key, fetched->path, storage::PutOptions{.overwrite = true, .consume_source = true});
  std::filesystem::remove(fetched->path, ignored);
  if (!put.ok()) co_return StrCat("storing it failed: ", put.status().message());
  co_return "repaired";
}

}  // namespace

asio::awaitable<Result<VerifyReport>> VerifyObjects(SetParts parts, VerifyOptions options,
                                                    std::function<void(int64_t)> progress) {
  std::vector<std::string> sets;
  if (!options.set.empty()) {
    sets.push_back(options.set);
  } else {
    auto list_sets = [&parts] { return parts.db->ListSets(); };
    SLUICE_CO_ASSIGN_OR_RETURN(std::vector<db::SetTotals> totals,
                               co_await runtime::RunOn(parts.runtime->blocking(), list_sets));
    for (const db::SetTotals& set : totals) sets.push_back(set.set);
  }
  std::unique_ptr<http::Fetcher> fetcher;
  if (options.repair) {
    options.fetch.scratch_dir = parts.scratch_dir;
    SLUICE_CO_ASSIGN_OR_RETURN(fetcher,
                               http::Fetcher::Create(*parts.http, *parts.runtime, options.fetch));
  }
  VerifyReport report;
  std::set<std::string> seen;  // an object shared by items or sets is read once
  for (const std::string& set : sets) {
    auto list_items = [&parts, &set] { return parts.db->ListItems(set); };
    SLUICE_CO_ASSIGN_OR_RETURN(std::vector<db::ItemRecord> items,
                               co_await runtime::RunOn(parts.runtime->blocking(), list_items));
    for (const db::ItemRecord& item : items) {
      if (item.status != db::ItemStatus::kOk || item.sha256.empty()) continue;
      std::string key = item.store_key.empty() ? storage::ContentKey(item.sha256) : item.store_key;
      if (!seen.insert(key).second) continue;
      Result<std::string> digest = co_await DigestOf(*parts.store, key, report.bytes);
      ++report.checked;
      if (progress) progress(report.checked);
      if (digest.ok() && *digest == item.sha256) continue;
      if (!digest.ok() && !absl::IsNotFound(digest.status())) co_return digest.status();
      ObjectProblem problem{
          .set = set, .url = item.url, .key = key, .problem = digest.ok() ? "damaged" : "missing"};
      if (fetcher) {
        problem.repair = co_await Repair(*fetcher, *parts.store, item.url, key, item.sha256);
        if (problem.repair == "repaired") ++report.repaired;
      }
      report.problems.push_back(std::move(problem));
    }
  }
  co_return report;
}

}  // namespace sluice::pipeline

#include "storage/memory/memory_blob_store.h"

#include <fstream>
#include <sstream>

#include "common/strings.h"

namespace sluice::storage {

Result<PutOutcome> MemoryBlobStore::Insert(const std::string& key, std::string bytes,
                                           bool overwrite) {
  SLUICE_RETURN_IF_ERROR(ValidateKey(key));
  std::lock_guard lock(mu_);
  if (overwrite) {
    auto [it, created] = objects_.insert_or_assign(key, std::move(bytes));
    return PutOutcome{.created = created, .size = static_cast<int64_t>(it->second.size())};
  }
  auto [it, created] = objects_.try_emplace(key, std::move(bytes));
  return PutOutcome{.created = created, .size = static_cast<int64_t>(it->second.size())};
}

asio::awaitable<Result<PutOutcome>> MemoryBlobStore::PutFile(std::string key,
                                                             std::filesystem::path source,
                                                             PutOptions options) {
  std::ifstream in(source, std::ios::binary);
  if (!in) co_return absl::NotFoundError(StrCat("cannot read ", source.string()));
  std::ostringstream content;
  content << in.rdbuf();
  Result<PutOutcome> outcome = Insert(key, content.str(), options.overwrite);
  if (outcome.ok() && options.consume_source) std::filesystem::remove(source);
  co_return outcome;
}

asio::awaitable<Result<PutOutcome>> MemoryBlobStore::PutBytes(std::string key, std::string bytes,
                                                              PutOptions options) {
  co_return Insert(key, std::move(bytes), options.overwrite);
}

asio::awaitable<Result<std::string>> MemoryBlobStore::Get(std::string key,
                                                          std::optional<ByteRange> range) {
  SLUICE_CO_RETURN_IF_ERROR(ValidateKey(key));
  std::lock_guard lock(mu_);
  auto it = objects_.find(key);
  if (it == objects_.end()) co_return absl::NotFoundError(StrCat("no object ", key));
  int64_t size = static_cast<int64_t>(it->second.size());
  int64_t offset = range ? range->offset : 0;
  if (offset < 0 || offset > size) {
    co_return absl::OutOfRangeError(
        StrCat("offset ", offset, " is past the end of ", key, " (", size, " bytes)"));
  }
  int64_t length = size - offset;
  if (range && range->length >= 0) length = std::min(length, range->length);
  co_return it->second.substr(static_cast<size_t>(offset), static_cast<size_t>(length));
}

asio::awaitable<Result<BlobInfo>> MemoryBlobStore::Stat(std::string key) {
  SLUICE_CO_RETURN_IF_ERROR(ValidateKey(key));
  std::lock_guard lock(mu_);
  auto it = objects_.find(key);
  if (it == objects_.end()) co_return absl::NotFoundError(StrCat("no object ", key));
  co_return BlobInfo{.key = key, .size = static_cast<int64_t>(it->second.size())};
}

asio::awaitable<Status> MemoryBlobStore::Delete(std::string key) {
  SLUICE_CO_RETURN_IF_ERROR(ValidateKey(key));
  std::lock_guard lock(mu_);
  objects_.erase(key);
  co_return absl::OkStatus();
}

asio::awaitable<Result<std::vector<BlobInfo>>> MemoryBlobStore::List(std::string prefix) {
  std::lock_guard lock(mu_);
  std::vector<BlobInfo> out;
  for (auto it = objects_.lower_bound(prefix);
       it != objects_.end() && it->first.starts_with(prefix); ++it) {
    out.push_back({it->first, static_cast<int64_t>(it->second.size())});
  }
  co_return out;
}

asio::awaitable<Status> MemoryBlobStore::Flush() { co_return absl::OkStatus(); }

}  // namespace sluice::storage

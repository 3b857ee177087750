// MemoryBlobStore: a BlobStore in a map, for tests. Durable only for the life of the process.
// Thread-safe.
#pragma once

#include <map>
#include <mutex>

#include "storage/blob_store.h"

namespace sluice::storage {

class MemoryBlobStore : public BlobStore {
 public:
  asio::awaitable<Result<PutOutcome>> PutFile(std::string key, std::filesystem::path source,
                                              PutOptions options) override;
  asio::awaitable<Result<PutOutcome>> PutBytes(std::string key, std::string bytes,
                                               PutOptions options) override;
  asio::awaitable<Result<std::string>> Get(std::string key,
                                           std::optional<ByteRange> range) override;
  asio::awaitable<Result<BlobInfo>> Stat(std::string key) override;
  asio::awaitable<Status> Delete(std::string key) override;
  asio::awaitable<Result<std::vector<BlobInfo>>> List(std::string prefix) override;
  asio::awaitable<Status> Flush() override;
  std::string Describe() const override { return "memory://"; }

 private:
  Result<PutOutcome> Insert(const std::string& key, std::string bytes, bool overwrite);

  mutable std::mutex mu_;
  std::map<std::string, std::string> objects_;
};

}  // namespace sluice::storage

// LocalBlobStore: the embedded-default BlobStore, a directory (`file://./sluice-data/objects`).
//
// An object is a file at <root>/<key>. A put writes a temporary file under <root>/.tmp and
// publishes it with renameat2(RENAME_NOREPLACE) (link(2) where unsupported), which fails when
// the key exists: concurrent puts of the same content store it once, and a reader never sees a
// partial file. A source file on the same filesystem is moved in place, not copied. Copies and
// syncs run on the blocking pool; a deferred same-filesystem move runs inline (one syscall).
#pragma once

#include <sys/types.h>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/thread_pool.hpp>
#include <filesystem>
#include <memory>

#include "storage/blob_store.h"

namespace sluice::storage {

class LocalBlobStore : public BlobStore {
 public:
  // Creates `root` when missing. FailedPrecondition (cause "data_dir_unwritable") when it cannot
  // be created or written.
  static Result<std::unique_ptr<LocalBlobStore>> Create(std::filesystem::path root,
                                                        asio::thread_pool& blocking);
  ~LocalBlobStore() override;

  asio::awaitable<Result<PutOutcome>> PutFile(std::string key, std::filesystem::path source,
                                              PutOptions options) override;
  asio::awaitable<Result<PutOutcome>> PutBytes(std::string key, std::string bytes,
                                               PutOptions options) override;
  asio::awaitable<Result<std::string>> Get(std::string key,
                                           std::optional<ByteRange> range) override;
  asio::awaitable<Status> PutBatch(std::vector<BlobWrite> writes, PutOptions options) override;
  asio::awaitable<Result<BlobInfo>> Stat(std::string key) override;
  asio::awaitable<Status> Delete(std::string key) override;
  asio::awaitable<Result<std::vector<BlobInfo>>> List(std::string prefix) override;
  asio::awaitable<Status> Flush() override;
  std::string Describe() const override;
  std::optional<std::filesystem::path> LocalPath(const std::string& key) const override;

  const std::filesystem::path& root() const { return root_; }
  // Where temporary files live: on the store's filesystem, so a scratch file written here can be
  // published without a copy.
  std::filesystem::path temp_dir() const { return root_ / ".tmp"; }

 private:
  LocalBlobStore(std::filesystem::path root, asio::thread_pool& blocking, int root_fd,
                 dev_t root_device);
  Result<PutOutcome> PutBytesNow(const std::string& key, const std::string& bytes,
                                 PutOptions options);
  Result<PutOutcome> PutFileNow(const std::string& key, const std::filesystem::path& source,
                                PutOptions options);
  Result<PutOutcome> Publish(const std::filesystem::path& file, const std::string& key,
                             int64_t size, bool sync, bool overwrite = false);

  std::filesystem::path root_;
  asio::thread_pool& blocking_;
  int root_fd_;
  dev_t root_device_;
};

}  // namespace sluice::storage

#include "storage/local/local_blob_store.h"

#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <random>

#include "common/file_io.h"
#include "common/strings.h"
#include "runtime/offload.h"

namespace sluice::storage {
namespace {

Status Errno(std::string_view what, const std::filesystem::path& path) {
  return ErrnoStatus(what, path.string());
}

Status SyncFile(const std::filesystem::path& path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Errno("opening", path);
  int rc = fsync(fd);
  close(fd);
  return rc == 0 ? absl::OkStatus() : Errno("syncing", path);
}

std::string TempName() {
  static std::atomic<uint64_t> counter{0};
  static const uint64_t seed = std::random_device{}();
  return StrCat(seed, "-", counter.fetch_add(1), ".tmp");
}

// Copies `from` into a new file `to`. Streams; never holds the whole file.
Status CopyFile(const std::filesystem::path& from, const std::filesystem::path& to) {
  int in = open(from.c_str(), O_RDONLY | O_CLOEXEC);
  if (in < 0) return Errno("opening", from);
  int out = open(to.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (out < 0) {
    close(in);
    return Errno("creating", to);
  }
  std::string buffer(1 << 20, '\0');
  Status status;
  for (;;) {
    ssize_t n = read(in, buffer.data(), buffer.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) status = Errno("reading", from);
    if (n <= 0) break;
    status = WriteAll(out, std::string_view(buffer.data(), static_cast<size_t>(n)), to.string());
    if (!status.ok()) break;
  }
  close(in);
  close(out);
  if (!status.ok()) unlink(to.c_str());
  return status;
}

}  // namespace

Result<std::unique_ptr<LocalBlobStore>> LocalBlobStore::Create(std::filesystem::path root,
                                                               asio::thread_pool& blocking) {
  std::error_code ec;
  std::filesystem::create_directories(root / ".tmp", ec);
  int fd = ec ? -1 : open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0 || access((root / ".tmp").c_str(), W_OK) != 0) {
    if (fd >= 0) close(fd);
    return Failure(absl::StatusCode::kFailedPrecondition, "data_dir_unwritable",
                   StrCat("cannot create or write the object store at ", root.string(),
                          ec ? StrCat(": ", ec.message()) : std::string()));
  }
  struct stat root_stat {};
  fstat(fd, &root_stat);
  return std::unique_ptr<LocalBlobStore>(
      new LocalBlobStore(std::filesystem::absolute(root), blocking, fd, root_stat.st_dev));
}

LocalBlobStore::LocalBlobStore(std::filesystem::path root, asio::thread_pool& blocking, int root_fd,
                               dev_t root_device)
    : root_(std::move(root)), blocking_(blocking), root_fd_(root_fd), root_device_(root_device) {}

LocalBlobStore::~LocalBlobStore() { close(root_fd_); }

std::string LocalBlobStore::Describe() const { return "file://" + root_.string(); }

std::optional<std::filesystem::path> LocalBlobStore::LocalPath(const std::string& key) const {
  if (!ValidateKey(key).ok()) return std::nullopt;
  return root_ / key;
}

// Moves `file` (on this filesystem) to the key's path unless the key exists, in one atomic
// step: renameat2(RENAME_NOREPLACE), or link(2) + unlink on filesystems without it. When the key
// exists the content is stored already and `file` is removed. `size` is the file's size.
Result<PutOutcome> LocalBlobStore::Publish(const std::filesystem::path& file,
                                           const std::string& key, int64_t size, bool sync,
                                           bool overwrite) {
  std::filesystem::path dest = root_ / key;
  if (sync) SLUICE_RETURN_IF_ERROR(SyncFile(file));
  auto move = [&] {
    if (overwrite) return rename(file.c_str(), dest.c_str());  // atomic replace
    int rc = renameat2(AT_FDCWD, file.c_str(), AT_FDCWD, dest.c_str(), RENAME_NOREPLACE);
    if (rc == 0 || errno != EINVAL) return rc;
    rc = link(file.c_str(), dest.c_str());
    if (rc == 0) unlink(file.c_str());
    return rc;
  };
  int rc = move();
  if (rc != 0 && errno == ENOENT) {
    std::error_code ec;
    std::filesystem::create_directories(dest.parent_path(), ec);
    rc = move();
  }
  if (rc != 0 && errno == EEXIST) {
    unlink(file.c_str());
    return PutOutcome{.created = false, .size = size};
  }
  if (rc != 0) return Errno("publishing", dest);
  if (sync) SLUICE_RETURN_IF_ERROR(SyncFile(dest.parent_path()));
  return PutOutcome{.created = true, .size = size};
}

Result<PutOutcome> LocalBlobStore::PutFileNow(const std::string& key,
                                              const std::filesystem::path& source,
                                              PutOptions options) {
  SLUICE_RETURN_IF_ERROR(ValidateKey(key));
  bool sync = options.durability == Durability::kImmediate;
  struct stat source_stat {};
  if (stat(source.c_str(), &source_stat) != 0) return Errno("reading", source);
  if (options.consume_source && source_stat.st_dev == root_device_) {
    // Same filesystem: no copy.
    return Publish(source, key, source_stat.st_size, sync, options.overwrite);
  }
  std::filesystem::path temp = temp_dir() / TempName();
  SLUICE_RETURN_IF_ERROR(CopyFile(source, temp));
  Result<PutOutcome> published = Publish(temp, key, source_stat.st_size, sync, options.overwrite);
  if (!published.ok()) unlink(temp.c_str());
  if (published.ok() && options.consume_source) unlink(source.c_str());
  return published;
}

asio::awaitable<Result<PutOutcome>> LocalBlobStore::PutFile(std::string key,
                                                            std::filesystem::path source,
                                                            PutOptions options) {
  if (options.consume_source && options.durability == Durability::kDeferred) {
    // Moving a file within one filesystem without a sync is a metadata operation as cheap as the
    // open() and write() the event loop already does for the download; a hop to the blocking
    // pool would cost more than the work. Copies and syncs go to the pool.
    struct stat source_stat {};
    if (stat(source.c_str(), &source_stat) == 0 && source_stat.st_dev == root_device_) {
      SLUICE_CO_RETURN_IF_ERROR(ValidateKey(key));
      co_return Publish(source, key, source_stat.st_size, false, options.overwrite);
    }
  }
  co_return co_await runtime::RunOn(blocking_, [&] { return PutFileNow(key, source, options); });
}

Result<PutOutcome> LocalBlobStore::PutBytesNow(const std::string& key, const std::string& bytes,
                                               PutOptions options) {
  SLUICE_RETURN_IF_ERROR(ValidateKey(key));
  std::filesystem::path temp = temp_dir() / TempName();
  int fd = open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) return Errno("creating", temp);
  if (Status written = WriteAll(fd, bytes, temp.string()); !written.ok()) {
    close(fd);
    unlink(temp.c_str());
    return written;
  }
  close(fd);
  Result<PutOutcome> published =
      Publish(temp, key, static_cast<int64_t>(bytes.size()),
              options.durability == Durability::kImmediate, options.overwrite);
  if (!published.ok()) unlink(temp.c_str());
  return published;
}

asio::awaitable<Result<PutOutcome>> LocalBlobStore::PutBytes(std::string key, std::string bytes,
                                                             PutOptions options) {
  co_return co_await runtime::RunOn(blocking_, [&] { return PutBytesNow(key, bytes, options); });
}

asio::awaitable<Status> LocalBlobStore::PutBatch(std::vector<BlobWrite> writes,
                                                 PutOptions options) {
  co_return co_await runtime::RunOn(blocking_, [&]() -> Status {
    for (const BlobWrite& write : writes) {
      Result<PutOutcome> put = PutBytesNow(write.key, write.bytes, options);
      if (!put.ok()) return put.status();
    }
    return absl::OkStatus();
  });
}

asio::awaitable<Result<std::string>> LocalBlobStore::Get(std::string key,
                                                         std::optional<ByteRange> range) {
  co_return co_await runtime::RunOn(blocking_, [&]() -> Result<std::string> {
    SLUICE_RETURN_IF_ERROR(ValidateKey(key));
    std::filesystem::path path = root_ / key;
    int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return Errno("opening", path);
    struct stat st {};
    fstat(fd, &st);
    int64_t offset = range ? range->offset : 0;
    if (offset > st.st_size || offset < 0) {
      close(fd);
      return absl::OutOfRangeError(
          StrCat("offset ", offset, " is past the end of ", key, " (", st.st_size, " bytes)"));
    }
    int64_t length = st.st_size - offset;
    if (range && range->length >= 0) length = std::min(length, range->length);
    std::string out(static_cast<size_t>(length), '\0');
    int64_t done = 0;
    while (done < length) {
      ssize_t n = pread(fd, out.data() + done, static_cast<size_t>(length - done), offset + done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      done += n;
    }
    close(fd);
    if (done != length) return absl::InternalError(StrCat("short read of ", path.string()));
    return out;
  });
}

asio::awaitable<Result<BlobInfo>> LocalBlobStore::Stat(std::string key) {
  co_return co_await runtime::RunOn(blocking_, [&]() -> Result<BlobInfo> {
    SLUICE_RETURN_IF_ERROR(ValidateKey(key));
    struct stat st {};
    if (stat((root_ / key).c_str(), &st) != 0) return Errno("reading", root_ / key);
    return BlobInfo{.key = key, .size = st.st_size};
  });
}

asio::awaitable<Status> LocalBlobStore::Delete(std::string key) {
  co_return co_await runtime::RunOn(blocking_, [&]() -> Status {
    SLUICE_RETURN_IF_ERROR(ValidateKey(key));
    if (unlink((root_ / key).c_str()) != 0 && errno != ENOENT)
      return Errno("deleting", root_ / key);
    return absl::OkStatus();
  });
}

asio::awaitable<Result<std::vector<BlobInfo>>> LocalBlobStore::List(std::string prefix) {
  co_return co_await runtime::RunOn(blocking_, [&]() -> Result<std::vector<BlobInfo>> {
    std::vector<BlobInfo> out;
    std::error_code ec;
    for (auto it = std::filesystem::recursive_directory_iterator(root_, ec);
         !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
      if (it->is_directory() && it->path().filename() == ".tmp") {
        it.disable_recursion_pending();
        continue;
      }
      if (!it->is_regular_file()) continue;
      std::string key = it->path().lexically_relative(root_).string();
      if (!std::string_view(key).starts_with(prefix)) continue;
      out.push_back({key, static_cast<int64_t>(it->file_size())});
    }
    if (ec) return absl::InternalError(StrCat("listing ", root_.string(), ": ", ec.message()));
    std::sort(out.begin(), out.end(),
              [](const BlobInfo& a, const BlobInfo& b) { return a.key < b.key; });
    return out;
  });
}

asio::awaitable<Status> LocalBlobStore::Flush() {
  // One syncfs covers every deferred put on this filesystem (data, links and directories).
  co_return co_await runtime::RunOn(blocking_, [&]() -> Status {
    if (syncfs(root_fd_) != 0) return Errno("syncing", root_);
    return absl::OkStatus();
  });
}

}  // namespace sluice::storage

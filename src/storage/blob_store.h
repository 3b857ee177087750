// BlobStore: where every fetched file is stored once (DESIGN.md §4).
//
// Keys are content-addressed (`objects/<sha256[0:2]>/<sha256>`, see ContentKey), so a key names
// one exact content: putting a key that exists already keeps the stored object and reports
// `created = false`. Puts are atomic: a reader sees the whole object or nothing.
//
// Durability: a put with Durability::kImmediate is durable when it returns. kDeferred puts are
// made durable together by the next Flush() — one sync for a batch instead of one per file.
// Callers record an object elsewhere (the database) only after it is durable.
//
// Backends: local/ (embedded default, a directory) and memory/ (tests); every backend passes
// blob_store_conformance_test.cc. Calls are awaited on the event loop; backends move blocking
// work off it themselves.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/thread_pool.hpp>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace sluice::storage {

namespace asio = boost::asio;

// The key under which content with this SHA-256 (lowercase hex) is stored.
std::string ContentKey(std::string_view sha256_hex);

// InvalidArgument unless `key` is a relative path of [A-Za-z0-9._-] segments without "." or
// ".." segments and not empty.
Status ValidateKey(std::string_view key);

enum class Durability { kImmediate, kDeferred };

struct PutOptions {
  // Default kImmediate: durable on return.
  Durability durability = Durability::kImmediate;
  // Replace an existing object. For keys that are not content-addressed (result documents);
  // default false: an existing key keeps its object (same key, same bytes).
  bool overwrite = false;
  // For PutFile: the store may take the source file over (rename it into place) instead of
  // copying it; the source path is gone afterwards either way. Default false: source untouched.
  bool consume_source = false;
};

struct PutOutcome {
  // False when the key existed already and the stored object was kept.
  bool created = false;
  int64_t size = 0;
};

struct BlobWrite {
  std::string key;
  std::string bytes;
};

struct BlobInfo {
  std::string key;
  int64_t size = 0;
};

struct ByteRange {
  int64_t offset = 0;
  // Bytes to read from offset; -1 to the end.
  int64_t length = -1;
};

// A put that starts while its source file is still being written — a download in progress —
// for stores where a large put takes long after the download (S3 multipart: parts go up as the
// bytes arrive). The key is not known until the end (objects are content-addressed), so the
// store uploads somewhere provisional and publishes under the key in Finish.
//
// Event-loop only. Grew and Restarted never block.
class StreamingPut {
 public:
  virtual ~StreamingPut() = default;
  // The first `bytes` of the source are in `file` now (it only grows, until Restarted).
  virtual void Grew(const std::filesystem::path& file, int64_t bytes) = 0;
  // The source starts over from byte 0: everything reported so far is void.
  virtual void Restarted() = 0;
  // The source is complete: `size` bytes in `file`. Publishes it under `key` with the outcome
  // and errors of PutFile (and honours options.consume_source). Uploads what is still missing;
  // after a restart, or when streaming never began, this is a plain PutFile.
  virtual asio::awaitable<Result<PutOutcome>> Finish(std::string key, std::filesystem::path file,
                                                     int64_t size, PutOptions options) = 0;
  // The source failed: cancels what was started. Safe to call at any time, also twice.
  virtual asio::awaitable<void> Abort() = 0;
  // Parts (or bytes, by the store's unit) sent before Finish was called: what streaming won.
  virtual int64_t sent_before_finish() const = 0;
};

class BlobStore {
 public:
  virtual ~BlobStore() = default;

  // A put whose upload may start before its source is complete; nullptr when this store gains
  // nothing from it (local stores: a rename is instant) — use PutFile then.
  virtual std::unique_ptr<StreamingPut> BeginStreamingPut() { return nullptr; }

  // Stores the content of the local file `source` under `key`.
  // InvalidArgument for a bad key; NotFound when `source` does not exist; Unavailable / Internal
  // for storage errors (nothing partial is visible under `key`).
  virtual asio::awaitable<Result<PutOutcome>> PutFile(std::string key, std::filesystem::path source,
                                                      PutOptions options) = 0;
  // Stores `bytes` under `key`. Errors as PutFile.
  virtual asio::awaitable<Result<PutOutcome>> PutBytes(std::string key, std::string bytes,
                                                       PutOptions options) = 0;
  // Stores each write as PutBytes would: each object atomically, not the batch as a whole.
  // Returns the first error; writes before it are stored. Backends may do the batch in one
  // round (the local one writes it in one blocking-pool task instead of a hop per object).
  virtual asio::awaitable<Status> PutBatch(std::vector<BlobWrite> writes, PutOptions options);
  // The object's bytes, or the given range of them (clamped to the object's end).
  // NotFound when absent; OutOfRange when range.offset is past the end.
  virtual asio::awaitable<Result<std::string>> Get(
      std::string key, std::optional<ByteRange> range = std::nullopt) = 0;
  // NotFound when absent.
  virtual asio::awaitable<Result<BlobInfo>> Stat(std::string key) = 0;
  // Idempotent: OK when absent.
  virtual asio::awaitable<Status> Delete(std::string key) = 0;
  // Every object whose key starts with `prefix`, sorted by key. Never lists a put in progress.
  virtual asio::awaitable<Result<std::vector<BlobInfo>>> List(std::string prefix) = 0;
  // Makes every kDeferred put that completed before this call durable.
  virtual asio::awaitable<Status> Flush() = 0;
  // Where objects live, for messages: "file:///…/objects", "memory://".
  virtual std::string Describe() const = 0;
  // The object's bytes as a file on this machine, when the store keeps them here (the local
  // backend): readers use it in place instead of copying. std::nullopt otherwise.
  virtual std::optional<std::filesystem::path> LocalPath(const std::string& key) const {
    (void)key;
    return std::nullopt;
  }
};

// Copies the object under `key` into the local file `file` (created or truncated), streamed in
// ranges of at most `chunk_bytes`: memory stays at one chunk whatever the object's size. File
// writes run on `blocking`. Event-loop only. NotFound when the object is absent; the store's
// errors for a failed read; ResourceExhausted / Internal when the file cannot be written. On any
// failure `file` is removed.
asio::awaitable<Status> CopyToFile(BlobStore& store, asio::thread_pool& blocking, std::string key,
                                   std::filesystem::path file, int64_t chunk_bytes = 4 << 20);

}  // namespace sluice::storage

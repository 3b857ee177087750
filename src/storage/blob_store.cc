#include "storage/blob_store.h"

#include "common/strings.h"

namespace sluice::storage {

std::string ContentKey(std::string_view sha256_hex) {
  return StrCat("objects/", sha256_hex.substr(0, 2), "/", sha256_hex);
}

asio::awaitable<Status> BlobStore::PutBatch(std::vector<BlobWrite> writes, PutOptions options) {
  for (BlobWrite& write : writes) {
    Result<PutOutcome> put =
        co_await PutBytes(std::move(write.key), std::move(write.bytes), options);
    if (!put.ok()) co_return put.status();
  }
  co_return absl::OkStatus();
}

Status ValidateKey(std::string_view key) {
  auto bad = [&](std::string_view why) {
    return absl::InvalidArgumentError(StrCat("bad object key '", key, "': ", why));
  };
  if (key.empty()) return bad("empty");
  if (key.front() == '/') return bad("absolute");
  for (std::string_view segment : Split(key, "/")) {
    if (segment.empty() || segment == "." || segment == "..")
      return bad("empty, '.' or '..' segment");
    for (char c : segment) {
      bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                c == '.' || c == '_' || c == '-';
      if (!ok) return bad("only letters, digits, '.', '_', '-' and '/' are allowed");
    }
  }
  return absl::OkStatus();
}

}  // namespace sluice::storage

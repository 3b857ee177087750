#include "storage/blob_store.h"

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "common/strings.h"
#include "runtime/offload.h"

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

asio::awaitable<Status> CopyToFile(BlobStore& store, asio::thread_pool& blocking, std::string key,
                                   std::filesystem::path file, int64_t chunk_bytes) {
  SLUICE_CO_ASSIGN_OR_RETURN(BlobInfo info, co_await store.Stat(key));
  auto write_error = [&file](int error) {
    return Status(error == ENOSPC || error == EDQUOT ? absl::StatusCode::kResourceExhausted
                                                     : absl::StatusCode::kInternal,
                  StrCat("cannot write ", file.string(), ": ", std::strerror(error)));
  };
  auto open = [&file] { return std::fopen(file.c_str(), "wb"); };
  std::FILE* out = co_await runtime::RunOn(blocking, open);
  if (out == nullptr) co_return write_error(errno);
  Status status;
  for (int64_t offset = 0; offset < info.size && status.ok();) {
    Result<std::string> bytes = co_await store.Get(key, ByteRange{offset, chunk_bytes});
    if (!bytes.ok()) {
      status = bytes.status();
    } else if (bytes->empty()) {
      status = absl::DataLossError(
          StrCat(key, " ended at ", offset, " of the ", info.size, " bytes it was listed with"));
    } else {
      auto write = [&]() -> int {
        return std::fwrite(bytes->data(), 1, bytes->size(), out) == bytes->size() ? 0 : errno;
      };
      if (int error = co_await runtime::RunOn(blocking, write); error != 0) {
        status = write_error(error);
      }
      offset += static_cast<int64_t>(bytes->size());
    }
  }
  auto close = [out]() -> int { return std::fclose(out) == 0 ? 0 : errno; };
  if (int error = co_await runtime::RunOn(blocking, close); error != 0 && status.ok()) {
    status = write_error(error);
  }
  if (!status.ok()) {
    std::error_code ignored;
    std::filesystem::remove(file, ignored);
  }
  co_return status;
}

}  // namespace sluice::storage

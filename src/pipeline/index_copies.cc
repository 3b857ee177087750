#include "pipeline/index_copies.h"

#include <cstdio>
#include <fstream>

#include "common/strings.h"

namespace sluice::pipeline {

namespace {

constexpr std::string_view kPrefix = "index/";
constexpr int64_t kRange = int64_t{64} << 20;

Status WriteError(const std::filesystem::path& file, std::string_view what) {
  return Failure(absl::StatusCode::kInternal, "index_io",
                 StrCat("cannot ", what, " ", file.string()));
}

}  // namespace

std::string IndexCopyKey(const std::string& name) { return StrCat(kPrefix, name); }

boost::asio::awaitable<Status> PublishIndexFiles(storage::BlobStore& store,
                                                 std::filesystem::path folder,
                                                 std::vector<std::string> names) {
  for (const std::string& name : names) {
    std::error_code ec;
    if (!std::filesystem::exists(folder / name, ec)) continue;
    // The file is replaced by rename when saved again, so the put reads one whole version.
    SLUICE_CO_RETURN_IF_ERROR(
        (co_await store.PutFile(IndexCopyKey(name), folder / name, {.overwrite = true})).status());
  }
  co_return absl::OkStatus();
}

boost::asio::awaitable<Status> PublishAllIndexFiles(storage::BlobStore& store,
                                                    std::filesystem::path folder) {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(folder, ec)) {
    std::string name = entry.path().filename().string();
    if (entry.is_regular_file(ec) && !name.starts_with(".")) names.push_back(name);  // not temps
  }
  co_return co_await PublishIndexFiles(store, std::move(folder), std::move(names));
}

boost::asio::awaitable<Result<int>> FetchMissingIndexFiles(storage::BlobStore& store,
                                                           std::filesystem::path folder) {
  SLUICE_CO_ASSIGN_OR_RETURN(std::vector<storage::BlobInfo> copies,
                             co_await store.List(std::string(kPrefix)));
  int fetched = 0;
  for (const storage::BlobInfo& copy : copies) {
    std::string name = copy.key.substr(kPrefix.size());
    std::error_code ec;
    if (name.empty() || name.find('/') != std::string::npos ||
        std::filesystem::exists(folder / name, ec))
      continue;
    std::filesystem::create_directories(folder, ec);
    std::filesystem::path partial = folder / StrCat(".", name, ".fetching");
    {
      std::ofstream out(partial, std::ios::binary | std::ios::trunc);
      if (!out) co_return WriteError(partial, "write");
      for (int64_t offset = 0; offset < copy.size; offset += kRange) {
        SLUICE_CO_ASSIGN_OR_RETURN(
            std::string bytes,
            co_await store.Get(copy.key, storage::ByteRange{.offset = offset, .length = kRange}));
        out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
      }
      if (!out.flush()) co_return WriteError(partial, "write");
    }
    std::filesystem::rename(partial, folder / name, ec);
    if (ec) co_return WriteError(folder / name, "rename into");
    ++fetched;
  }
  co_return fetched;
}

}  // namespace sluice::pipeline

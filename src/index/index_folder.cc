#include "index/index_folder.h"

#include "common/strings.h"

namespace sluice::index {

IndexFolder::IndexFolder(std::filesystem::path folder, IndexBackend backend)
    : folder_(std::move(folder)), backend_(std::move(backend)) {}

std::filesystem::path IndexFolder::FileOf(const IndexSpec& spec) const {
  return folder_ / StrCat(IndexName(spec), backend_.extension);
}

Result<std::shared_ptr<VectorIndex>> IndexFolder::Open(const IndexSpec& spec) {
  std::lock_guard lock(mutex_);
  std::string name = IndexName(spec);
  if (auto it = open_.find(name); it != open_.end()) return it->second;
  Result<std::unique_ptr<VectorIndex>> index = backend_.load(spec, FileOf(spec));
  if (absl::IsNotFound(index.status())) index = backend_.create(spec, IndexKind::kFlat);
  if (!index.ok()) return index.status();
  return open_[name] = std::shared_ptr<VectorIndex>(*std::move(index));
}

Status IndexFolder::Save(const IndexSpec& spec) {
  std::lock_guard lock(mutex_);
  auto it = open_.find(IndexName(spec));
  if (it == open_.end())
    return absl::NotFoundError(StrCat("index ", IndexName(spec), " is not open"));
  SLUICE_RETURN_IF_ERROR(CreateFolder());
  return it->second->Save(FileOf(spec));
}

Status IndexFolder::CreateFolder() const {
  std::error_code ec;
  std::filesystem::create_directories(folder_, ec);
  if (ec)
    return Failure(absl::StatusCode::kInternal, "index_io",
                   StrCat("cannot create ", folder_.string(), ": ", ec.message()));
  return absl::OkStatus();
}

std::filesystem::path IndexFolder::HashesFileOf(const std::string& method) const {
  return folder_ / StrCat(method, ".hashes", backend_.extension);
}

Result<std::shared_ptr<HashIndex>> IndexFolder::OpenHashes(const std::string& method) {
  std::lock_guard lock(mutex_);
  if (auto it = open_hashes_.find(method); it != open_hashes_.end()) return it->second;
  Result<std::unique_ptr<HashIndex>> index = backend_.load_hashes(HashesFileOf(method));
  if (absl::IsNotFound(index.status())) index = backend_.create_hashes();
  if (!index.ok()) return index.status();
  return open_hashes_[method] = std::shared_ptr<HashIndex>(*std::move(index));
}

Status IndexFolder::SaveHashes(const std::string& method) {
  std::lock_guard lock(mutex_);
  auto it = open_hashes_.find(method);
  if (it == open_hashes_.end())
    return absl::NotFoundError(StrCat("the hash index of ", method, " is not open"));
  SLUICE_RETURN_IF_ERROR(CreateFolder());
  return it->second->Save(HashesFileOf(method));
}

Status IndexFolder::Replace(const IndexSpec& spec, std::unique_ptr<VectorIndex> built) {
  {
    std::lock_guard lock(mutex_);
    open_[IndexName(spec)] = std::move(built);
  }
  return Save(spec);
}

Result<std::unique_ptr<VectorIndex>> IndexFolder::Build(const IndexSpec& spec, IndexKind kind,
                                                        std::span<const VectorId> ids,
                                                        std::span<const float> vectors) const {
  return backend_.build(spec, kind, ids, vectors);
}

}  // namespace sluice::index

// What the FAISS backends share (private to index/faiss/): FAISS's exceptions as a Status, and
// the atomic save.
#pragma once

#include <cstdint>
#include <exception>
#include <filesystem>
#include <functional>
#include <memory>
#include <span>
#include <string_view>
#include <type_traits>
#include <unordered_set>
#include <vector>

#include "common/status.h"
#include "common/strings.h"

namespace sluice::index {

// Runs `f`; a FAISS exception (misuse, I/O) becomes Internal (cause "index_io").
template <typename F>
Status FaissGuard(F&& f) {
  try {
    f();
    return absl::OkStatus();
  } catch (const std::exception& e) {
    return Failure(absl::StatusCode::kInternal, "index_io", e.what());
  }
}

// `write(path)` to a temporary file beside `file`, then renamed over it: a reader sees the old
// index or the new one. Internal (cause "index_io") when either step fails.
inline Status SaveAtomically(const std::filesystem::path& file,
                             const std::function<void(const char*)>& write) {
  std::error_code ec;
  if (file.has_parent_path()) std::filesystem::create_directories(file.parent_path(), ec);
  std::filesystem::path temporary = file;
  temporary += StrCat(".tmp-", reinterpret_cast<uintptr_t>(&file));
  Status written = FaissGuard([&] { write(temporary.c_str()); });
  if (written.ok()) {
    std::filesystem::rename(temporary, file, ec);
    if (!ec) return absl::OkStatus();
    written = absl::InternalError(ec.message());
  }
  std::filesystem::remove(temporary, ec);
  return Failure(absl::StatusCode::kInternal, "index_io",
                 StrCat("cannot write the index to ", file.string(), ": ", written.message()));
}

// DataLoss (cause "bad_index"): `file` holds no index this backend can use, and why.
inline Status BadIndex(const std::filesystem::path& file, std::string_view why) {
  return Failure(absl::StatusCode::kDataLoss, "bad_index", StrCat(file.string(), ": ", why));
}

// The index with ids that `read` (faiss::read_index or faiss::read_index_binary) finds in
// `file`, checked to be a `Map` (an IndexIDMap2 of floats or of bits). NotFound when `file` does
// not exist; BadIndex when FAISS cannot read it or it is another kind of index.
template <typename Map, typename Read>
Result<std::unique_ptr<Map>> ReadIdMap(const std::filesystem::path& file, Read read) {
  std::error_code ec;
  if (!std::filesystem::exists(file, ec))
    return absl::NotFoundError(StrCat("no index file ", file.string()));
  decltype(read(file.c_str())) raw = nullptr;
  Status status = FaissGuard([&] { raw = read(file.c_str()); });
  std::unique_ptr<std::remove_pointer_t<decltype(raw)>> loaded(raw);
  if (!status.ok()) return BadIndex(file, std::string(status.message()));
  auto* map = dynamic_cast<Map*>(loaded.get());
  if (!map) return BadIndex(file, "not an index with ids of this kind");
  loaded.release();
  return std::unique_ptr<Map>(map);
}

// InvalidArgument (cause "bad_vectors") when an id appears twice in `ids`.
inline Status CheckDistinct(std::span<const int64_t> ids) {
  std::unordered_set<int64_t> seen;
  for (int64_t id : ids) {
    if (!seen.insert(id).second)
      return Failure(absl::StatusCode::kInvalidArgument, "bad_vectors",
                     StrCat("id ", id, " appears twice"));
  }
  return absl::OkStatus();
}

// The positions in `ids` of those `map` (an IndexIDMap2 of floats or of bits) does not hold.
template <typename Map>
std::vector<size_t> AbsentPositions(const Map& map, std::span<const int64_t> ids) {
  std::vector<size_t> absent;
  for (size_t i = 0; i < ids.size(); ++i) {
    if (!map.rev_map.count(ids[i])) absent.push_back(i);
  }
  return absent;
}

// Those of `ids` that `map` holds.
template <typename Map>
std::vector<int64_t> PresentIds(const Map& map, std::span<const int64_t> ids) {
  std::vector<int64_t> present;
  for (int64_t id : ids) {
    if (map.rev_map.count(id)) present.push_back(id);
  }
  return present;
}

}  // namespace sluice::index

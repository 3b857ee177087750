// TempDir: a fresh directory under $TMPDIR (or /tmp), removed with everything in it on
// destruction. For tests.
#pragma once

#include <filesystem>

namespace sluice::testing {

class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

}  // namespace sluice::testing

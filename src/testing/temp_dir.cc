#include "testing/temp_dir.h"

#include <cstdlib>
#include <stdexcept>
#include <string>

namespace sluice::testing {

TempDir::TempDir() {
  const char* base = std::getenv("TMPDIR");  // NOLINT(concurrency-mt-unsafe): tests, one thread
  std::string pattern = std::string(base && *base ? base : "/tmp") + "/sluice-test-XXXXXX";
  if (!mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed for " + pattern);
  path_ = pattern;
}

TempDir::~TempDir() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

}  // namespace sluice::testing
